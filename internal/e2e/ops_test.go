package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/webhooks"
)

// stack is an API and a worker on a test database and bucket of their own.
type stack struct {
	db              *testenv.DB
	env             []string
	apiAddr, health string
	api, worker     *proc
}

// startStack starts an API and a worker (with extraEnv) and waits until
// both are ready.
func startStack(t *testing.T, extraEnv ...string) stack {
	t.Helper()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	st := stack{db: db, apiAddr: freeAddr(t), health: freeAddr(t)}
	st.env = append(append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret,
		"FOLIO_HTTP_ADDR="+st.apiAddr, "FOLIO_HEALTH_ADDR="+st.health), extraEnv...)
	st.api = start(t, st.env, "api")
	st.worker = start(t, st.env, "worker")
	waitStatus(t, st.api, "http://"+st.apiAddr+"/readyz", http.StatusOK, 30*time.Second)
	waitStatus(t, st.worker, "http://"+st.health+"/readyz", http.StatusOK, 30*time.Second)
	return st
}

// folioJSON runs `folio CMD... --json ARGS...` and decodes what it prints.
func folioJSON[T any](t *testing.T, env []string, cmd []string, args ...string) T {
	t.Helper()
	p := start(t, env, "folio", append(append(cmd, "--json"), args...)...)
	require.Equal(t, 0, p.wait(t, time.Minute), p.stderr.String())
	var v T
	require.NoError(t, json.Unmarshal([]byte(p.stdout.String()), &v), p.stdout.String())
	return v
}

// TestOpsCLI: an operator's day with `folio queues`, `folio jobs` and
// `folio documents reparse` against a real API and worker: find the failed
// job, retry it, pause the parse queue (nothing starts) and resume it
// (everything finishes), reparse failed documents in bulk after a dry run.
func TestOpsCLI(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st := startStack(t)
	db, env, apiAddr := st.db, st.env, st.apiAddr
	tok, err := auth.Sign([]byte(testSecret), "ops", time.Hour)
	require.NoError(t, err)
	c := client.New(tok, "http://"+apiAddr)
	upload := func(name string, data []byte) *client.Document {
		doc, err := c.Upload(ctx, name, bytes.NewReader(data), int64(len(data)), nil)
		require.NoError(t, err)
		return doc
	}
	status := func(doc *client.Document) string {
		d, err := documents.Get(ctx, db.Pool, "ops", doc.ID)
		require.NoError(t, err)
		return string(d.Status)
	}
	waitStatus := func(doc *client.Document, want string) {
		require.Eventually(t, func() bool { return status(doc) == want }, time.Minute, 20*time.Millisecond, "%s becomes %s", doc.ID, want)
	}
	parseEvents := func(doc *client.Document) int {
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM document_events WHERE document_id = $1 AND type = 'parse.started'`, doc.ID).Scan(&n))
		return n
	}

	bad := upload("cycle.pdf", pdftest.Hostile()["page tree cycle"])
	waitStatus(bad, "failed")

	type job struct {
		ID      int64
		Kind    string
		State   string
		Attempt int
		Args    struct {
			DocumentID string `json:"document_id"`
		}
	}
	var failed []job
	require.Eventually(t, func() bool { // River records the job's end just after the document's
		failed = folioJSON[[]job](t, env, []string{"jobs", "list"}, "--state", "failed", "--since", "1h", "--kind", "parse")
		return len(failed) == 1
	}, time.Minute, 100*time.Millisecond, "the failed parse job is listed")
	require.Equal(t, bad.ID.String(), failed[0].Args.DocumentID)
	require.Equal(t, "cancelled", failed[0].State, "a file's own fault cancels its job")

	retried := folioJSON[[]job](t, env, []string{"jobs", "retry"}, strconv.FormatInt(failed[0].ID, 10))
	require.Equal(t, "available", retried[0].State)
	require.Eventually(t, func() bool { return parseEvents(bad) == 2 }, time.Minute, 20*time.Millisecond, "the retried job ran")
	waitStatus(bad, "failed")

	type queue struct {
		Queue     string
		Available int
		Paused    bool
	}
	pause := start(t, env, "folio", "queues", "pause", "parse")
	require.Equal(t, 0, pause.wait(t, time.Minute), pause.stderr.String())
	queues := folioJSON[[]queue](t, env, []string{"queues"})
	paused := false
	for _, q := range queues {
		if q.Queue == "parse" {
			paused = q.Paused
		}
	}
	require.True(t, paused, "folio queues shows it paused")
	good := upload("good.pdf", pdftest.TextPages([]string{"one"}, []string{"two"}))
	// Paused: for a while (workers learn of a pause within a second or
	// two), the upload, once scanned, stays queued and its job available.
	waitStatus(good, "queued")
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		require.Equal(t, "queued", status(good), "a paused queue starts no parse")
		time.Sleep(50 * time.Millisecond)
	}
	queues = folioJSON[[]queue](t, env, []string{"queues"})
	for _, q := range queues {
		if q.Queue == "parse" {
			require.Equal(t, 1, q.Available, "the waiting parse is counted")
		}
	}
	resume := start(t, env, "folio", "queues", "resume", "parse")
	require.Equal(t, 0, resume.wait(t, time.Minute), resume.stderr.String())
	waitStatus(good, "done")

	type reparse struct {
		Documents []struct {
			ID      string
			Outcome string
		}
		Counts map[string]int
		DryRun bool `json:"dry_run"`
	}
	dry := folioJSON[reparse](t, env, []string{"documents", "reparse"}, "--failed", "--code", "malformed", "--dry-run")
	require.True(t, dry.DryRun)
	require.Len(t, dry.Documents, 1)
	require.Equal(t, bad.ID.String(), dry.Documents[0].ID)
	require.Equal(t, "failed", status(bad), "a dry run changes nothing")
	require.Equal(t, 2, parseEvents(bad))
	none := folioJSON[reparse](t, env, []string{"documents", "reparse"}, "--failed", "--code", "internal", "--dry-run")
	require.Empty(t, none.Documents, "filtered by code")

	done := folioJSON[reparse](t, env, []string{"documents", "reparse"}, "--failed", "--code", "malformed")
	require.Equal(t, map[string]int{"reparse queued": 1}, done.Counts)
	require.Eventually(t, func() bool { return parseEvents(bad) == 3 }, time.Minute, 20*time.Millisecond, "reparsed")
	waitStatus(bad, "failed")
}

// metricValue reads one sample (name with its labels exactly as exposed,
// e.g. `folio_queue_jobs{queue="parse",state="available"}`) from a
// /metrics endpoint; -1 when it is not there.
func metricValue(t *testing.T, url, sample string) float64 {
	t.Helper()
	resp, err := http.Get(url) //nolint:gosec // the test's own process
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			require.NoError(t, err)
			return f
		}
	}
	return -1
}

// TestQueueDepthMetric: the backlog a scaler sees rises with uploads the
// workers cannot start (the queue is paused) and falls to zero as they
// drain it; one worker exports it.
func TestQueueDepthMetric(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st := startStack(t, "FOLIO_QUEUE_METRICS_INTERVAL=200ms", "FOLIO_WORKER_CONCURRENCY=1")
	db, env, apiAddr, health := st.db, st.env, st.apiAddr, st.health
	metrics := "http://" + health + "/metrics"
	available := `folio_queue_jobs{queue="parse",state="available"}`
	require.Eventually(t, func() bool { return metricValue(t, metrics, "folio_queue_metrics_leader") == 1 },
		30*time.Second, 50*time.Millisecond, "the only worker exports the queues")
	require.Eventually(t, func() bool { return metricValue(t, metrics, available) == 0 }, 30*time.Second, 50*time.Millisecond)

	pause := start(t, env, "folio", "queues", "pause", "parse")
	require.Equal(t, 0, pause.wait(t, time.Minute), pause.stderr.String())
	tok, err := auth.Sign([]byte(testSecret), "ops", time.Hour)
	require.NoError(t, err)
	c := client.New(tok, "http://"+apiAddr)
	var docs []*client.Document
	for i := range 5 {
		data := pdftest.TextPages([]string{"backlog", strconv.Itoa(i)})
		doc, err := c.Upload(ctx, "b.pdf", bytes.NewReader(data), int64(len(data)), nil)
		require.NoError(t, err)
		docs = append(docs, doc)
	}
	require.Eventually(t, func() bool { return metricValue(t, metrics, available) == 5 }, 30*time.Second, 50*time.Millisecond,
		"the backlog rises")
	require.Positive(t, metricValue(t, metrics, `folio_queue_oldest_available_seconds{queue="parse"}`), "and ages")

	resume := start(t, env, "folio", "queues", "resume", "parse")
	require.Equal(t, 0, resume.wait(t, time.Minute), resume.stderr.String())
	require.Eventually(t, func() bool { return metricValue(t, metrics, available) == 0 }, time.Minute, 50*time.Millisecond,
		"and falls as the worker drains it")
	for _, doc := range docs {
		require.Eventually(t, func() bool {
			d, err := documents.Get(ctx, db.Pool, "ops", doc.ID)
			return err == nil && d.Status == documents.StatusDone
		}, time.Minute, 50*time.Millisecond)
	}
	require.Positive(t, metricValue(t, metrics, `folio_parse_duration_seconds_count{outcome="done"}`), "parses are timed")
}

// exportedMetrics scrapes a /metrics endpoint's metric names.
func exportedMetrics(t *testing.T, url string, into map[string]bool) {
	t.Helper()
	resp, err := http.Get(url) //nolint:gosec // the test's own process
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			into[name] = true
			if typ == "histogram" {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					into[name+suffix] = true
				}
			}
		}
	}
}

var metricName = regexp.MustCompile(`\bfolio_[a-z_]+`)

// TestDashboardsAlertsAndScalingUseWhatIsExported: the Grafana dashboard,
// the alert rules and both autoscaling manifests parse, name only metrics
// the API or the worker export (scraped after an upload was parsed and
// watched), agree with each other and with the worker Deployment, and each
// alert's runbook exists.
func TestDashboardsAlertsAndScalingUseWhatIsExported(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st := startStack(t, "FOLIO_QUEUE_METRICS_INTERVAL=200ms", "FOLIO_RENDER=on", // its metrics are on the dashboard
		"FOLIO_WEBHOOK_ALLOW_NETS=127.0.0.0/8") // and so are the webhooks'
	apiAddr, health := st.apiAddr, st.health
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer receiver.Close()
	_, err := webhooks.Add(ctx, st.db.Pool, &webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		webhooks.Input{URL: &receiver.URL})
	require.NoError(t, err)
	tok, err := auth.Sign([]byte(testSecret), "ops", time.Hour)
	require.NoError(t, err)
	c := client.New(tok, "http://"+apiAddr)
	data := pdftest.TextPages([]string{"one"}, []string{"two"})
	doc, err := c.Upload(ctx, "m.pdf", bytes.NewReader(data), int64(len(data)), nil)
	require.NoError(t, err)
	require.NoError(t, c.WatchDocument(ctx, doc.ID, func(m client.Message) error {
		if m.Terminal() {
			return client.ErrStop
		}
		return nil
	}))
	require.Eventually(t, func() bool { return metricValue(t, "http://"+health+"/metrics", "folio_queue_metrics_leader") == 1 },
		30*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		m := map[string]bool{}
		exportedMetrics(t, "http://"+health+"/metrics", m)
		return m["folio_webhook_deliveries_total"]
	}, 30*time.Second, 50*time.Millisecond, "a webhook delivered")
	exported := map[string]bool{}
	exportedMetrics(t, "http://"+apiAddr+"/metrics", exported)
	exportedMetrics(t, "http://"+health+"/metrics", exported)

	root := repoRoot(t)
	requireExported := func(file, expr string) {
		t.Helper()
		names := metricName.FindAllString(expr, -1)
		require.NotEmpty(t, names, "%s: %q names a Folio metric", file, expr)
		for _, n := range names {
			require.True(t, exported[n], "%s: %s is exported by the API or the worker (expr %q)", file, n, expr)
		}
	}

	// The dashboard.
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "folio.json"))
	require.NoError(t, err)
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.NotEmpty(t, dash.Panels)
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			requireExported("grafana/folio.json", tg.Expr)
		}
	}

	// The alerts, and their runbooks.
	raw, err = os.ReadFile(filepath.Join(root, "deploy", "prometheus", "alerts.yaml"))
	require.NoError(t, err)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert       string
				Expr        string
				For         string
				Annotations map[string]string
			}
		}
	}
	require.NoError(t, yaml.Unmarshal(raw, &rules))
	ops, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	require.NoError(t, err)
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(ops), "\n") {
		if h, ok := strings.CutPrefix(line, "### "); ok {
			anchors[strings.ReplaceAll(strings.ToLower(strings.TrimSpace(h)), " ", "-")] = true
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			requireExported("prometheus/alerts.yaml", r.Expr)
			_, err := time.ParseDuration(r.For)
			require.NoError(t, err, r.Alert)
			_, anchor, ok := strings.Cut(r.Annotations["runbook_url"], "docs/operations.md#")
			require.True(t, ok, "%s links to docs/operations.md", r.Alert)
			require.True(t, anchors[anchor], "%s: docs/operations.md has the runbook #%s", r.Alert, anchor)
		}
	}
	require.GreaterOrEqual(t, n, 5)

	// Autoscaling: the HPA and KEDA scale the worker Deployment on the
	// same exported backlog, with the same target, per worker.
	workerObjs := readManifests(t, "worker.yaml")
	concurrency, err := strconv.Atoi(envValue(t, workerObjs[0].Spec.Template.Spec.Containers[0], "FOLIO_WORKER_CONCURRENCY"))
	require.NoError(t, err)
	target := strconv.Itoa(concurrency * 4)
	var hpa struct {
		Spec struct {
			ScaleTargetRef struct{ Kind, Name string } `yaml:"scaleTargetRef"`
			MinReplicas    int                         `yaml:"minReplicas"`
			MaxReplicas    int                         `yaml:"maxReplicas"`
			Metrics        []struct {
				Type     string
				External *struct {
					Metric struct {
						Name     string
						Selector struct {
							MatchLabels map[string]string `yaml:"matchLabels"`
						}
					}
					Target struct {
						Type         string
						AverageValue string `yaml:"averageValue"`
					}
				}
			}
		}
	}
	var keda struct {
		Kind string
		Spec struct {
			ScaleTargetRef  struct{ Name string } `yaml:"scaleTargetRef"`
			MinReplicaCount int                   `yaml:"minReplicaCount"`
			MaxReplicaCount int                   `yaml:"maxReplicaCount"`
			Triggers        []struct {
				Type     string
				Metadata map[string]string
			}
		}
	}
	raw, err = os.ReadFile(filepath.Join(root, "deploy", "worker.yaml"))
	require.NoError(t, err)
	docs := strings.Split(string(raw), "\n---\n")
	require.NoError(t, yaml.Unmarshal([]byte(docs[len(docs)-1]), &hpa))
	raw, err = os.ReadFile(filepath.Join(root, "deploy", "keda.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, &keda))
	require.Equal(t, "ScaledObject", keda.Kind)
	require.Equal(t, workerObjs[0].Metadata.Name, hpa.Spec.ScaleTargetRef.Name)
	require.Equal(t, workerObjs[0].Metadata.Name, keda.Spec.ScaleTargetRef.Name)
	require.Equal(t, hpa.Spec.MinReplicas, keda.Spec.MinReplicaCount)
	require.Equal(t, hpa.Spec.MaxReplicas, keda.Spec.MaxReplicaCount)
	var external int
	for _, m := range hpa.Spec.Metrics {
		if m.Type != "External" {
			continue
		}
		external++
		require.True(t, exported[m.External.Metric.Name], "the HPA's metric %s is exported", m.External.Metric.Name)
		require.Equal(t, map[string]string{"queue": "parse", "state": "available"}, m.External.Metric.Selector.MatchLabels)
		require.Equal(t, "AverageValue", m.External.Target.Type, "a backlog per worker")
		require.Equal(t, target, m.External.Target.AverageValue, "FOLIO_WORKER_CONCURRENCY x 4")
	}
	require.Equal(t, 1, external)
	var prom int
	for _, tr := range keda.Spec.Triggers {
		if tr.Type != "prometheus" {
			continue
		}
		prom++
		requireExported("keda.yaml", tr.Metadata["query"])
		require.Contains(t, tr.Metadata["query"], `queue="parse",state="available"`, "the same backlog as the HPA")
		require.Equal(t, target, tr.Metadata["threshold"], "FOLIO_WORKER_CONCURRENCY x 4")
	}
	require.Equal(t, 1, prom)
}
