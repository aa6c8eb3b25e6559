package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
)

// BenchmarkEventFanout: N websocket subscribers to one document on one api
// process. Each iteration commits one event (as a worker does) and waits
// until every subscriber has it; the figures are the commit → receive
// latency over all subscribers and events (p50, p99), and the api
// process's resident memory per idle connection.
//
//	go test -run '^$' -bench EventFanout -benchtime 20x ./internal/e2e
func BenchmarkEventFanout(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func benchFanout(b *testing.B, n int) {
	ctx := context.Background()
	db, bucket := testenv.Postgres(b), testenv.S3(b)
	addr := freeAddr(b)
	api := start(b, append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_HTTP_ADDR="+addr,
		"FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_LOG_LEVEL=warn"), "api")
	waitStatus(b, api, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second)
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
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	url := "ws://" + addr + "/v1/documents/" + doc.ID.String() + "/events"
	h := http.Header{"Authorization": {"Bearer " + tok}}
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
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
	if b.Failed() {
		b.FailNow()
	}
	defer func() {
		for _, c := range conns {
			_ = c.CloseNow()
		}
	}()
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
	b.ResetTimer()
	for range b.N {
		var e *events.Event
		seq++ // the document's next seq: nothing else writes its log here
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			var err error
			e, err = events.Append(ctx, tx, doc.ID, row.Owner, seq, events.ParseProgressData{Stage: "extracting", PagesDone: 1})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		committed[e.Seq] = time.Now()
		for range n {
			select {
			case <-got:
			case <-time.After(30 * time.Second):
				b.Fatal("an event did not reach every subscriber within 30 s")
			}
		}
	}
	b.StopTimer()

	var lat []time.Duration
	for _, as := range arrivals {
		for _, a := range as {
			if t0, ok := committed[a.seq]; ok {
				lat = append(lat, a.at.Sub(t0))
			}
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		b.Fatal("no latencies")
	}
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(rssIdle-rssBefore)/float64(n)/1024, "KiB/conn")
}

// vmRSS is a process's resident set size in bytes.
func vmRSS(b *testing.B, pid int) int64 {
	b.Helper()
	return procStatus(b, pid, "VmRSS:")
}
