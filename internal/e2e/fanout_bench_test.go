package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/internal/legacyevents"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/migrations"
)

// BenchmarkEventFanout: N websocket subscribers to one document on one api
// process. Each iteration commits one event (as a worker does) and waits
// until every subscriber has it; the figures are the commit → receive
// latency over all subscribers and events (p50, p99), the same as the api
// process saw it (server-*: from the event's transaction start to its
// write to each stream returning, folio_event_write_lag_seconds), and the
// api process's resident memory per idle connection.
//
// design=sequenced is this release; design=clock is the previous event log
// (its api built from FOLIO_BASELINE_REV, its write path legacyevents, its
// schema migrated down to 7), in the same run. cpus=shared runs everything
// on both CPUs; cpus=separate pins the api process to CPU 0 and this
// process (the clients) to CPU 1 (taskset), so that the clients' work is
// not the server's (Postgres, which does little here, runs on either).
//
//	go test -run '^$' -bench EventFanout -benchtime 20x ./internal/e2e
func BenchmarkEventFanout(b *testing.B) {
	for _, design := range []string{"clock", "sequenced"} {
		for _, c := range []struct {
			n        int
			separate bool
		}{{1_000, false}, {10_000, false}, {10_000, true}} {
			cpus := map[bool]string{false: "shared", true: "separate"}[c.separate]
			b.Run(fmt.Sprintf("design=%s/subscribers=%d/cpus=%s", design, c.n, cpus), func(b *testing.B) {
				if c.separate && runtime.NumCPU() < 2 {
					b.Skip("needs two CPUs")
				}
				benchFanout(b, design, c.n, c.separate)
			})
		}
	}
}

// baselineRev is the last commit of the previous event log design.
const baselineRev = "9f1b2bb"

var baseline struct {
	once sync.Once
	err  error
}

// designAPI is the api binary of design (see BenchmarkEventFanout) and a
// database for it.
func designAPI(b *testing.B, design string) (bin string, db *testenv.DB) {
	b.Helper()
	db = testenv.Postgres(b)
	if design == "sequenced" {
		return "api", db
	}
	baseline.once.Do(func() {
		rev := cmp.Or(os.Getenv("FOLIO_BASELINE_REV"), baselineRev)
		wd, _ := os.Getwd()
		root, err := devstack.Root(wd)
		if err != nil {
			baseline.err = err
			return
		}
		src := filepath.Join(binDir, "baseline-src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			baseline.err = err
			return
		}
		archive := exec.Command("sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, rev, src)
		if out, err := archive.CombinedOutput(); err != nil {
			baseline.err = fmt.Errorf("the previous design's source (%s; a shallow clone lacks it): %w: %s", rev, err, out)
			return
		}
		build := exec.Command("go", "build", "-o", filepath.Join(binDir, "api-clock"), "./cmd/api")
		build.Dir = src
		if out, err := build.CombinedOutput(); err != nil {
			baseline.err = fmt.Errorf("building the previous design's api: %w: %s", err, out)
		}
	})
	if baseline.err != nil {
		b.Skip(baseline.err)
	}
	if _, err := migrations.DownTo(context.Background(), db.Pool, 7, nil); err != nil {
		b.Fatal(err)
	}
	return "api-clock", db
}

// appendEvent commits one event the way design's workers do.
func appendEvent(ctx context.Context, db *testenv.DB, design string, doc uuid.UUID, owner string, seq int, data events.Payload) error {
	return pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if design == "clock" {
			_, _, err := legacyevents.Append(ctx, tx, doc, owner, seq, data)
			return err
		}
		_, err := events.Append(ctx, tx, doc, owner, seq, data)
		return err
	})
}

// pin restricts every thread of process pid to cpus (taskset -a).
func pin(b *testing.B, pid int, cpus string) {
	b.Helper()
	if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput(); err != nil {
		b.Fatalf("taskset: %v: %s", err, out)
	}
}

// benchAPI starts design's api (see BenchmarkEventFanout) on a database and
// a bucket of its own, with env added, and waits until it is ready.
func benchAPI(b *testing.B, design string, env ...string) (addr string, db *testenv.DB, api *proc) {
	b.Helper()
	bin, db := designAPI(b, design)
	bucket := testenv.S3(b)
	addr = freeAddr(b)
	api = start(b, append(append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_HTTP_ADDR="+addr,
		"FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_LOG_LEVEL=warn"), env...), bin)
	waitStatus(b, api, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second)
	return addr, db, api
}

// dialStreams opens n websocket streams, 100 at a time, stream i at url
// with the bearer token token(i), each read past its snapshot; they are
// closed when the benchmark ends.
func dialStreams(b *testing.B, n int, url string, token func(i int) string) []*websocket.Conn {
	b.Helper()
	ctx := context.Background()
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			h := http.Header{"Authorization": {"Bearer " + token(i)}}
			c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
			if err != nil {
				b.Error(err)
				return
			}
			if _, _, err := c.Read(ctx); err != nil { // the snapshot
				b.Error(err)
			}
			conns[i] = c
		})
	}
	wg.Wait()
	b.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				_ = c.CloseNow()
			}
		}
	})
	if b.Failed() {
		b.FailNow()
	}
	return conns
}

// reportLatencies reports the median and the 99th percentile of lat.
func reportLatencies(b *testing.B, lat []time.Duration) {
	b.Helper()
	if len(lat) == 0 {
		b.Fatal("no latencies")
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

func benchFanout(b *testing.B, design string, n int, separate bool) {
	ctx := context.Background()
	addr, db, api := benchAPI(b, design, "FOLIO_MAX_STREAMS_PER_OWNER=1000000") // one owner watches from every connection
	if separate {
		all := fmt.Sprintf("0-%d", runtime.NumCPU()-1)
		pin(b, api.cmd.Process.Pid, "0")
		pin(b, os.Getpid(), "1")
		procs := runtime.GOMAXPROCS(1)
		defer func() {
			runtime.GOMAXPROCS(procs)
			pin(b, os.Getpid(), all)
		}()
	}
	tok, err := auth.Sign([]byte(testSecret), "bench", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	data := pdftest.TextPages([]string{"x"})
	doc, err := client.New(tok, "http://"+addr).Upload(ctx, "x.pdf", bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		b.Fatal(err)
	}

	rssBefore := vmRSS(b, api.cmd.Process.Pid)
	conns := dialStreams(b, n, "ws://"+addr+"/v1/documents/"+doc.ID.String()+"/events", func(int) string { return tok })
	rssIdle := vmRSS(b, api.cmd.Process.Pid)

	// Every subscriber reads, stamping each seq's arrival.
	type stamp struct {
		seq int
		at  time.Time
	}
	arrivals := make([][]stamp, n)
	got := make(chan struct{}, n)
	for i, c := range conns {
		go func() {
			for {
				_, msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				now := time.Now()
				var m struct {
					Seq int `json:"seq"`
				}
				_ = json.Unmarshal(msg, &m)
				arrivals[i] = append(arrivals[i], stamp{m.Seq, now})
				got <- struct{}{}
			}
		}()
	}

	committed := map[int]time.Time{}
	row, err := documents.Get(ctx, db.Pool, "bench", doc.ID)
	if err != nil {
		b.Fatal(err)
	}
	seq := row.EventSeq
	metrics := "http://" + addr + "/metrics"
	var before hist
	if design == "sequenced" {
		before = histogram(b, metrics, "folio_event_write_lag_seconds")
	}
	b.ResetTimer()
	for range b.N {
		seq++ // the document's next seq: nothing else writes its log here
		if err := appendEvent(ctx, db, design, doc.ID, row.Owner, seq, events.ParseProgressData{Stage: "extracting", PagesDone: 1}); err != nil {
			b.Fatal(err)
		}
		committed[seq] = time.Now()
		for range n {
			select {
			case <-got:
			case <-time.After(30 * time.Second):
				b.Fatal("an event did not reach every subscriber within 30 s")
			}
		}
	}
	b.StopTimer()
	// The server's own figure (this release's api only): when its write to
	// each stream returned.
	if design == "sequenced" {
		after := histogram(b, metrics, "folio_event_write_lag_seconds")
		b.ReportMetric(after.quantile(before, 0.5)*1000, "server-p50-ms")
		b.ReportMetric(after.quantile(before, 0.99)*1000, "server-p99-ms")
		b.ReportMetric(100*after.share(before, 0.1), "server-%≤100ms")
	}

	var lat []time.Duration
	for _, as := range arrivals {
		for _, a := range as {
			if t0, ok := committed[a.seq]; ok {
				lat = append(lat, a.at.Sub(t0))
			}
		}
	}
	reportLatencies(b, lat)
	b.ReportMetric(float64(rssIdle-rssBefore)/float64(n)/1024, "KiB/conn")
}

// vmRSS is a process's resident set size in bytes.
func vmRSS(b *testing.B, pid int) int64 {
	b.Helper()
	return procStatus(b, pid, "VmRSS:")
}

// hist is a Prometheus histogram as scraped: cumulative counts by upper
// bound, in order.
type hist struct {
	le    []float64
	count []float64
}

// histogram scrapes the histogram name from a /metrics page.
func histogram(b *testing.B, url, name string) hist {
	b.Helper()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var h hist
	sc := bufio.NewScanner(resp.Body)
	prefix := name + `_bucket{le="`
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		bound, count, _ := strings.Cut(line, `"} `)
		le, err1 := strconv.ParseFloat(bound, 64)
		n, err2 := strconv.ParseFloat(count, 64)
		if err1 != nil || err2 != nil {
			b.Fatalf("bad bucket line %q", sc.Text())
		}
		h.le, h.count = append(h.le, le), append(h.count, n)
	}
	if len(h.le) == 0 {
		b.Fatalf("no histogram %s at %s", name, url)
	}
	return h
}

// quantile is the q-quantile of the observations since before, linearly
// interpolated within its bucket.
func (h hist) quantile(before hist, q float64) float64 {
	total := h.count[len(h.count)-1] - before.count[len(before.count)-1]
	rank := q * total
	prevLE, prevN := 0.0, 0.0
	for i, le := range h.le {
		n := h.count[i] - before.count[i]
		if n >= rank {
			if math.IsInf(le, 1) {
				return prevLE
			}
			return prevLE + (le-prevLE)*(rank-prevN)/max(n-prevN, 1)
		}
		prevLE, prevN = le, n
	}
	return prevLE
}

// share is the fraction of the observations since before at or under le
// (a bucket bound).
func (h hist) share(before hist, le float64) float64 {
	total := h.count[len(h.count)-1] - before.count[len(before.count)-1]
	for i, l := range h.le {
		if l == le {
			return (h.count[i] - before.count[i]) / total
		}
	}
	return math.NaN()
}
