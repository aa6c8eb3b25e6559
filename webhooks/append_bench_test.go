package webhooks_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/webhooks"
)

// BenchmarkAppendWithWebhooks: what webhook endpoints cost the event
// writers. 32 writers, each on a document of its own (one of 8 owners),
// each commit a real change with its event (documents.UpdateAppData:
// the document's row locked, its app data changed, document.updated
// appended), while a Hub sequences the log as the API's does.
// endpoints=0 is today's writer; endpoints=3 adds three endpoints that
// want every type and a Deliverer handing each event to each of them
// (loopback receivers answering 204) for the whole run. appends/s counts
// until the last event has its position; with endpoints, delivered/s and
// the lag (event to 2xx) of the run's deliveries are reported too.
//
//	go test -run '^$' -bench AppendWithWebhooks -benchtime 3s ./webhooks
func BenchmarkAppendWithWebhooks(b *testing.B) {
	b.Run("writers=32/endpoints=0", func(b *testing.B) { benchAppendWithWebhooks(b, 32, 0, false) })
	b.Run("writers=32/endpoints=3/deliver=during", func(b *testing.B) { benchAppendWithWebhooks(b, 32, 3, true) })
	b.Run("writers=32/endpoints=3/deliver=after", func(b *testing.B) { benchAppendWithWebhooks(b, 32, 3, false) })
}

func benchAppendWithWebhooks(b *testing.B, writers, endpoints int, during bool) {
	ctx := context.Background()
	db := testenv.Postgres(b)
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = int32(writers) + 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	queue, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var running sync.WaitGroup
	defer func() { stop(); running.Wait() }()
	hub := events.NewHub(pool, slog.New(slog.DiscardHandler))
	running.Go(func() { _ = hub.Run(runCtx) })
	<-hub.Ready()

	var deliver, stopDelivering func()
	if endpoints > 0 {
		guard := &webhooks.Guard{Allow: loopback}
		for range endpoints {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			if _, err := webhooks.Add(ctx, pool, guard, webhooks.Input{URL: &srv.URL}); err != nil {
				b.Fatal(err)
			}
		}
		d := &webhooks.Deliverer{Pool: pool, Guard: guard, Logger: slog.New(slog.DiscardHandler),
			Options: webhooks.Options{Poll: 50 * time.Millisecond}}
		dctx, dstop := context.WithCancel(runCtx)
		var dwg sync.WaitGroup
		deliver = func() { dwg.Go(func() { _ = d.Run(dctx) }) }
		deliver()
		defer func() { dstop(); dwg.Wait() }()
		stopDelivering = func() {
			dstop()
			dwg.Wait()
			dctx, dstop = context.WithCancel(runCtx)
		}
	}
	// The documents (made after the endpoints: each endpoint hears of
	// every one), their document.queued out of the way first.
	docs := make([]*documents.Document, writers)
	for i := range docs {
		id := uuid.Must(uuid.NewV7())
		owner := fmt.Sprintf("owner-%d", i%8)
		docs[i] = &documents.Document{ID: id, Owner: owner, Filename: "a.pdf", SizeBytes: 10, S3Key: documents.OriginalKey(owner, id)}
		if err := documents.Create(ctx, pool, queue, docs[i], documents.Intake{QuotaBytes: 1 << 40}); err != nil {
			b.Fatal(err)
		}
	}
	waitQuiet(b, pool, endpoints*writers)
	if !during && endpoints > 0 {
		stopDelivering()
	}

	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	b.ResetTimer()
	start := time.Now()
	for _, doc := range docs {
		wg.Go(func() {
			for {
				n := left.Add(-1)
				if n < 0 {
					return
				}
				v := strconv.FormatInt(n, 10)
				if _, err := documents.UpdateAppData(ctx, pool, doc.Owner, doc.ID, documents.AppDataPatch{Metadata: map[string]*string{"n": &v}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	for {
		var backlog int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM document_events WHERE pos IS NULL`).Scan(&backlog); err != nil {
			b.Fatal(err)
		}
		if backlog == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
	if endpoints == 0 {
		return
	}
	if !during {
		deliver()
	}
	// Every event reaches every endpoint; the lag is the deliveries'.
	waitQuiet(b, pool, endpoints*(writers+b.N))
	all := time.Since(start)
	var p50, p99 float64
	if err := pool.QueryRow(ctx, `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)
		FROM (SELECT extract(epoch FROM delivered_at - event_at) * 1000 AS lag FROM webhook_deliveries WHERE type = $1) l`,
		events.DocumentUpdated).Scan(&p50, &p99); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(endpoints*b.N)/all.Seconds(), "delivered/s")
	b.ReportMetric(p50, "lag-p50-ms")
	b.ReportMetric(p99, "lag-p99-ms")
}

// waitQuiet waits until want deliveries are delivered (and, with none
// wanted, the log is sequenced).
func waitQuiet(b *testing.B, pool *pgxpool.Pool, want int) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var n int
		err := pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered') +
			(SELECT CASE WHEN EXISTS (SELECT 1 FROM document_events WHERE pos IS NULL) THEN -1 ELSE 0 END)`).Scan(&n)
		if err != nil {
			b.Fatal(err)
		}
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d deliveries after 5 minutes", n, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
