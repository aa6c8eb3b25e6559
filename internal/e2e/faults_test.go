package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/jobs"
	"github.com/foliohq/folio/jobs/jobargs"
	"github.com/foliohq/folio/migrations"
	"github.com/foliohq/folio/storage"
)

var (
	faultFor    = flag.Duration("faults.duration", 3*time.Second, "how long each fault of TestFaults lasts (make faults: 60s)")
	faultReport = flag.String("faults.report", "", "write TestFaults' table of outcomes and recovery times to this file")
)

// faultStack is one API and one worker whose Postgres and S3 are reached
// through fault-injecting proxies: toxiproxy (embedded) in front of both,
// and an HTTP layer in front of S3 that can answer 503 SlowDown. Postgres
// is a cluster of the test's own, so that it can be restarted.
type faultStack struct {
	pg      *devstack.Postgres
	pgOpts  devstack.PostgresOptions
	admin   *pgxpool.Pool // straight to Postgres, never through a fault
	bucket  *testenv.Bucket
	pgProxy *toxiproxy.Proxy
	s3Proxy *toxiproxy.Proxy
	slow    atomic.Bool // the S3 layer answers 503 SlowDown
	api     *proc
	client  *client.Client
	apiAddr string
}

func startFaultStack(ctx context.Context, t *testing.T) *faultStack {
	t.Helper()
	fs := &faultStack{bucket: testenv.S3(t)}
	dir, err := os.MkdirTemp("", "folio-faults-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755)) // the cluster runs as the postgres user when we are root
	fs.pgOpts = devstack.PostgresOptions{Dir: filepath.Join(dir, "pg"), Ephemeral: true}
	if _, err := devstack.PostgresBinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("TestFaults restarts a Postgres of its own: %v", err)
		}
		t.Skipf("TestFaults restarts a Postgres of its own: %v", err)
	}
	fs.pg, err = devstack.StartPostgres(ctx, fs.pgOpts)
	require.NoError(t, err)
	fs.pgOpts.Port = fs.pg.Port
	t.Cleanup(func() { _ = fs.pg.Stop() })
	fs.admin, err = pgxpool.New(ctx, fs.pg.URL)
	require.NoError(t, err)
	t.Cleanup(fs.admin.Close)
	_, err = migrations.Up(ctx, fs.admin, nil)
	require.NoError(t, err)

	// toxiproxy's toxics log through zerolog's global logger (at trace
	// level since v2.12): keep them quiet.
	zerolog.SetGlobalLevel(zerolog.WarnLevel)
	tp := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	fs.pgProxy = toxiproxy.NewProxy(tp, "postgres", "127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", fs.pg.Port))
	require.NoError(t, tp.Collection.Add(fs.pgProxy, true))
	s3URL, err := url.Parse(fs.bucket.Options.Endpoint)
	require.NoError(t, err)
	fs.s3Proxy = toxiproxy.NewProxy(tp, "s3", "127.0.0.1:0", s3URL.Host)
	require.NoError(t, tp.Collection.Add(fs.s3Proxy, true))
	t.Cleanup(func() { _ = tp.Collection.Clear() })

	// The HTTP layer keeps the Host header: requests are signed for it.
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: fs.s3Proxy.Listen})
	s3Front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fs.slow.Load() {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(s3Front.Close)

	pgURL := strings.Replace(fs.pg.URL, fmt.Sprintf("127.0.0.1:%d", fs.pg.Port), fs.pgProxy.Listen, 1)
	fs.apiAddr = freeAddr(t)
	env := []string{
		"AWS_ENDPOINT_URL_S3=" + s3Front.URL, "AWS_REGION=" + fs.bucket.Options.Region,
		"AWS_ACCESS_KEY_ID=" + fs.bucket.Options.AccessKey, "AWS_SECRET_ACCESS_KEY=" + fs.bucket.Options.SecretKey,
		"FOLIO_S3_PATH_STYLE=true", "FOLIO_S3_BUCKET=" + fs.bucket.Name,
		"DATABASE_URL=" + pgURL, "FOLIO_AUTH_JWT_SECRET=" + testSecret, "FOLIO_HTTP_ADDR=" + fs.apiAddr,
		"FOLIO_PROGRESS_INTERVAL=50ms", "FOLIO_UPLOAD_RATE_LIMIT=100000",
	}
	fs.api = start(t, env, "api")
	health := freeAddr(t)
	worker := start(t, append(env, "FOLIO_HEALTH_ADDR="+health, "FOLIO_WORKER_CONCURRENCY=2"), "worker")
	waitStatus(t, fs.api, "http://"+fs.apiAddr+"/readyz", http.StatusOK, 30*time.Second)
	waitStatus(t, worker, "http://"+health+"/readyz", http.StatusOK, 30*time.Second)
	tok, err := auth.Sign([]byte(testSecret), "faults", 24*time.Hour)
	require.NoError(t, err)
	fs.client = client.New(tok, "http://"+fs.apiAddr)
	return fs
}

// toxic adds a toxiproxy toxic to p, in both directions.
func toxic(t *testing.T, p *toxiproxy.Proxy, typ string, attrs string) {
	t.Helper()
	for _, stream := range []string{"upstream", "downstream"} {
		_, err := p.Toxics.AddToxicJson(strings.NewReader(fmt.Sprintf(
			`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, typ+"_"+stream, typ, stream, attrs)))
		require.NoError(t, err)
	}
}

// faultRun is what one scenario's load saw.
type faultRun struct {
	created  []uuid.UUID
	failures map[string]int // error → count: what the client was told
}

// upload sends n small real PDFs one after another (the Go client sends
// an upload again after a 503 that kept nothing) and records the outcome.
func (fs *faultStack) upload(ctx context.Context, n int, pages int, run *faultRun, mu *sync.Mutex) {
	for i := range n {
		texts := make([][]string, pages)
		for p := range texts {
			texts[p] = []string{fmt.Sprintf("fault %d page %d %s", i, p, uuid.NewString())}
		}
		data := pdftest.TextPages(texts...)
		uctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		doc, err := fs.client.Upload(uctx, fmt.Sprintf("f%d.pdf", i), bytes.NewReader(data), int64(len(data)), nil)
		cancel()
		mu.Lock()
		if err != nil {
			run.failures[shortErr(err)]++
		} else {
			run.created = append(run.created, doc.ID)
		}
		mu.Unlock()
	}
}

func shortErr(err error) string {
	var p *client.Problem
	if errors.As(err, &p) {
		return fmt.Sprintf("%d %s", p.Status, p.Code)
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// TestFaults puts Postgres and S3 behind fault-injecting proxies and runs
// real uploads, parses and a live stream through each fault: latency,
// bandwidth, connections reset, Postgres restarted during commits and
// during a parse, S3 answering 503 SlowDown or timing out, the LISTEN
// connection cut. After each: every 201 has its row, object and job;
// every document is done; no object is left without a row once the
// sweeper ran; the stream saw every event once, gap-free. The time from
// the fault's end until all of that holds is the recovery time.
//
//	go test -run '^TestFaults$' ./internal/e2e -args -faults.duration 60s
func TestFaults(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	fs := startFaultStack(ctx, t)
	d := *faultFor

	// One stream of all the owner's documents, through every fault.
	var (
		msgMu sync.Mutex
		msgs  []client.Message
	)
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- fs.client.WatchAll(watchCtx, func(m client.Message) error {
			msgMu.Lock()
			msgs = append(msgs, m)
			msgMu.Unlock()
			return nil
		})
	}()

	type scenario struct {
		name   string
		pages  int                                     // per document: a long one keeps a parse running through the fault
		fault  func(t *testing.T) (lift func())        // starts the fault; lift ends it
		during func(ctx context.Context, t *testing.T) // waits for the right moment for the fault
		down   bool                                    // a dependency is away: /readyz must say so
	}
	scenarios := []scenario{
		{name: "Postgres +200 ms latency", pages: 3, fault: func(t *testing.T) func() {
			toxic(t, fs.pgProxy, "latency", `{"latency":200}`)
			return func() { fs.pgProxy.Toxics.ResetToxics(ctx) }
		}},
		{name: "Postgres +2 s latency", pages: 3, fault: func(t *testing.T) func() {
			toxic(t, fs.pgProxy, "latency", `{"latency":2000}`)
			return func() { fs.pgProxy.Toxics.ResetToxics(ctx) }
		}},
		{name: "Postgres limited to 32 KB/s", pages: 3, fault: func(t *testing.T) func() {
			toxic(t, fs.pgProxy, "bandwidth", `{"rate":32}`)
			return func() { fs.pgProxy.Toxics.ResetToxics(ctx) }
		}},
		{name: "Postgres connections reset mid-transaction", pages: 3, fault: func(t *testing.T) func() {
			toxic(t, fs.pgProxy, "reset_peer", `{"timeout":0}`)
			return func() { fs.pgProxy.Toxics.ResetToxics(ctx) }
		}},
		{name: "Postgres restarted during upload commits", pages: 3, down: true, fault: func(t *testing.T) func() {
			require.NoError(t, fs.pg.Stop())
			return func() {
				pg, err := devstack.StartPostgres(ctx, fs.pgOpts)
				require.NoError(t, err)
				fs.pg = pg
			}
		}},
		{name: "Postgres restarted during a parse", pages: 1500, down: true, during: fs.waitParsing, fault: func(t *testing.T) func() {
			require.NoError(t, fs.pg.Stop())
			return func() {
				pg, err := devstack.StartPostgres(ctx, fs.pgOpts)
				require.NoError(t, err)
				fs.pg = pg
			}
		}},
		{name: "S3 answers 503 SlowDown", pages: 3, down: true, fault: func(*testing.T) func() {
			fs.slow.Store(true)
			return func() { fs.slow.Store(false) }
		}},
		{name: "S3 times out (connections hang, then close)", pages: 3, fault: func(t *testing.T) func() {
			toxic(t, fs.s3Proxy, "timeout", fmt.Sprintf(`{"timeout":%d}`, d.Milliseconds()))
			return func() { fs.s3Proxy.Toxics.ResetToxics(ctx) }
		}},
		{name: "S3 limited to 64 KB/s", pages: 3, fault: func(t *testing.T) func() {
			toxic(t, fs.s3Proxy, "bandwidth", `{"rate":64}`)
			return func() { fs.s3Proxy.Toxics.ResetToxics(ctx) }
		}},
		{name: "S3 connections reset mid-stream", pages: 1500, during: fs.waitParsing, fault: func(t *testing.T) func() {
			toxic(t, fs.s3Proxy, "reset_peer", `{"timeout":0}`)
			return func() { fs.s3Proxy.Toxics.ResetToxics(ctx) }
		}},
		{name: "LISTEN connection cut", pages: 3, fault: func(t *testing.T) func() {
			var n int
			require.NoError(t, fs.admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE application_name = $1`, fmt.Sprintf("%s:%d", events.ApplicationName, fs.api.cmd.Process.Pid)).Scan(&n))
			require.Equal(t, 1, n)
			return func() {}
		}},
	}

	var table []string
	for _, sc := range scenarios {
		outcomesBefore := fs.uploadOutcomes(t)
		run := &faultRun{failures: map[string]int{}}
		var mu sync.Mutex
		// Load: a few uploads before the fault, some during it, some after.
		before, during, after := 2, 3, 1
		fs.upload(ctx, before, sc.pages, run, &mu)
		if sc.during != nil {
			sc.during(ctx, t)
		}
		if fs.pg.Done() != nil {
			select {
			case <-fs.pg.Done():
				t.Fatalf("%s: Postgres is not running", sc.name)
			default:
			}
		}
		lift := sc.fault(t)
		faultStart := time.Now()
		loadDone := make(chan struct{})
		go func() { fs.upload(ctx, during, sc.pages, run, &mu); close(loadDone) }()
		if sc.down {
			// Readiness reflects the dependency that is away, without a
			// restart (liveness stays 200).
			waitStatus(t, fs.api, "http://"+fs.apiAddr+"/readyz", http.StatusServiceUnavailable, d+10*time.Second)
			require.Equal(t, http.StatusOK, status("http://"+fs.apiAddr+"/healthz"))
		}
		time.Sleep(time.Until(faultStart.Add(d)))
		lift()
		lifted := time.Now()
		waitStatus(t, fs.api, "http://"+fs.apiAddr+"/readyz", http.StatusOK, 2*time.Minute)
		<-loadDone
		fs.upload(ctx, after, sc.pages, run, &mu)
		fs.requireWhole(ctx, t, sc.name, run)
		recovery := time.Since(lifted)
		// What the client was told: the API's answers (the Go client sends
		// an upload again after a 503 that kept nothing), and what it
		// gave up on.
		mu.Lock()
		outcome := fmt.Sprintf("%d/%d created", len(run.created), before+during+after)
		if sc.down {
			outcome += "; /readyz 503 while away"
		}
		for k, n := range fs.uploadOutcomes(t) {
			if k != "created" && n > outcomesBefore[k] {
				outcome += fmt.Sprintf("; %d× %s (sent again)", int(n-outcomesBefore[k]), k)
			}
		}
		for k, v := range run.failures {
			outcome += fmt.Sprintf("; %d× gave up: %s", v, k)
		}
		mu.Unlock()
		line := fmt.Sprintf("| %s | %s | %s | %s |", sc.name, d, outcome, recovery.Round(100*time.Millisecond))
		t.Log(line, "(fault began", faultStart.Format(time.TimeOnly), ")")
		table = append(table, line)
	}

	// The stream: every event of every document once, gap-free. The last
	// documents are done in the database a moment before their last events
	// reach the stream (the sequencer's poll, the hub's fan-out): wait
	// until the stream has had as many events as the log holds.
	var logged int
	require.Eventually(t, func() bool {
		if err := fs.admin.QueryRow(ctx, `SELECT count(*) FROM document_events WHERE owner = 'faults'`).Scan(&logged); err != nil {
			return false
		}
		msgMu.Lock()
		defer msgMu.Unlock()
		got := 0
		for _, m := range msgs {
			if m.Type != "snapshot" {
				got++
			}
		}
		return got >= logged
	}, 30*time.Second, 50*time.Millisecond, "the stream caught up with the log")
	stopWatch()
	if err := <-watchDone; err != nil {
		require.ErrorIs(t, err, context.Canceled, "the stream ran until it was stopped")
	}
	fs.requireStreamWhole(ctx, t, msgs)
	fs.requireSwept(ctx, t)
	if *faultReport != "" {
		header := "| fault | for | what the client saw | recovery (fault end → all done) |\n|---|---|---|---|\n"
		require.NoError(t, os.WriteFile(*faultReport, []byte(header+strings.Join(table, "\n")+"\n"), 0o644))
	}
}

// uploadOutcomes reads the API's folio_uploads_total by outcome.
func (fs *faultStack) uploadOutcomes(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + fs.apiAddr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, `folio_uploads_total{outcome="`)
		if !ok {
			continue
		}
		outcome, value, _ := strings.Cut(rest, `"} `)
		var n float64
		_, _ = fmt.Sscan(value, &n)
		out[outcome] = n
	}
	return out
}

// waitParsing waits until some document is parsing.
func (fs *faultStack) waitParsing(ctx context.Context, t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		_ = fs.admin.QueryRow(ctx, `SELECT count(*) FROM documents WHERE status = 'parsing' AND pages_done > 0`).Scan(&n)
		return n > 0
	}, time.Minute, 20*time.Millisecond, "a parse under way")
}

// requireWhole waits until every created document is done, and checks it
// has its row, its object and its parse job.
func (fs *faultStack) requireWhole(ctx context.Context, t *testing.T, name string, run *faultRun) {
	t.Helper()
	for _, id := range run.created {
		ok := assert.Eventually(t, func() bool {
			d, err := documents.Get(ctx, fs.admin, "faults", id)
			return err == nil && d.Status == documents.StatusDone
		}, 2*time.Minute+3**faultFor, 50*time.Millisecond, "%s: document %s is done", name, id)
		if !ok {
			var state string
			_ = fs.admin.QueryRow(ctx, `SELECT d.status || ' pages ' || d.pages_done || '; jobs: ' || coalesce((SELECT string_agg(j.id || ' ' || j.state || ' attempt ' || j.attempt || ' by ' || coalesce(j.attempted_by[array_length(j.attempted_by, 1)], '-') || ' ' || coalesce(j.errors::text, ''), '; ') FROM river_job j WHERE j.args->>'document_id' = d.id::text), '')
				FROM documents d WHERE d.id = $1`, id).Scan(&state)
			t.Fatalf("%s: document %s: %s", name, id, state)
		}
		d, err := documents.Get(ctx, fs.admin, "faults", id)
		require.NoError(t, err)
		obj, err := fs.bucket.Store.Get(ctx, d.S3Key)
		require.NoError(t, err, "%s: %s has its object", name, id)
		obj.Close()
	}
	riverClient, err := river.NewClient(riverpgxv5.New(fs.admin), &river.Config{})
	require.NoError(t, err)
	for _, id := range run.created {
		list, err := riverClient.JobList(ctx, river.NewJobListParams().Kinds(jobargs.KindParse).
			Where("args->>'document_id' = @id", river.NamedArgs{"id": id.String()}))
		require.NoError(t, err)
		require.NotEmpty(t, list.Jobs, "%s: %s has its parse job", name, id)
	}
}

// requireStreamWhole checks what the stream delivered against the log:
// owner positions consecutive, and per document every seq once, in order.
func (fs *faultStack) requireStreamWhole(ctx context.Context, t *testing.T, msgs []client.Message) {
	t.Helper()
	var last int64
	seen := map[uuid.UUID][]int{}
	for _, m := range msgs {
		if m.Type == "snapshot" {
			require.False(t, m.ReplayTruncated)
			last = m.Pos
			continue
		}
		require.Equal(t, last+1, m.Pos, "owner positions are consecutive (%s of %s)", m.Type, m.DocumentID)
		last = m.Pos
		seen[m.DocumentID] = append(seen[m.DocumentID], m.Seq)
	}
	rows, err := fs.admin.Query(ctx, `SELECT document_id, count(*) FROM document_events WHERE owner = 'faults' GROUP BY 1`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var (
			id uuid.UUID
			n  int
		)
		require.NoError(t, rows.Scan(&id, &n))
		seqs := seen[id]
		require.Len(t, seqs, n, "document %s: every event reached the stream once", id)
		for i, s := range seqs {
			require.Equal(t, i+1, s, "document %s: in order", id)
		}
	}
	require.NoError(t, rows.Err())
}

// requireSwept runs the sweeper as if a day had passed: every object left
// under originals/ then belongs to a document, and no multipart upload is
// left.
func (fs *faultStack) requireSwept(ctx context.Context, t *testing.T) {
	t.Helper()
	worker := &jobs.SweepUploadsWorker{Store: fs.bucket.Store, Pool: fs.admin, MaxAge: time.Hour,
		Now: func() time.Time { return time.Now().Add(24 * time.Hour) }}
	tw := rivertest.NewWorker(t, riverpgxv5.New(fs.admin), &river.Config{}, worker)
	tx, err := fs.admin.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // nothing to keep
	_, err = tw.Work(ctx, t, tx, jobs.SweepUploadsArgs{}, nil)
	require.NoError(t, err)
	var keys []string
	require.NoError(t, fs.bucket.Store.EachObject(ctx, documents.OriginalsPrefix, func(objs []storage.ObjectInfo) error {
		for _, o := range objs {
			keys = append(keys, o.Key)
		}
		return nil
	}))
	referenced, err := documents.ReferencedKeys(ctx, fs.admin, keys)
	require.NoError(t, err)
	for _, k := range keys {
		require.True(t, referenced[k], "object %s has a document", k)
	}
	uploads, err := fs.bucket.Store.ListUploads(ctx, documents.OriginalsPrefix)
	require.NoError(t, err)
	require.Empty(t, uploads, "no multipart upload left")
}
