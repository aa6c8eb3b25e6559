package events_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/migrations"
)

// BenchmarkEventAppend: W writers, each on a document of its own (one of
// 64 owners), each commit one transaction per event: the document's seq
// bump (a row of its own, locked until commit, as documents does), then
// the append. design=sequenced is events.Append, with a Hub sequencing and
// reading the log meanwhile (its cost is the design's); design=clock is
// the previous release's append (the event_clock row locked until commit,
// the owner clock row by trigger, a NOTIFY per event) on the previous
// release's schema, writers only. appends/s is the figure to compare: it
// counts until the last event has its position (drain-ms: how long that
// took after the last commit).
//
//	go test -run '^$' -bench EventAppend -benchtime 3s ./events
func BenchmarkEventAppend(b *testing.B) {
	for _, design := range []string{"clock", "sequenced"} {
		for _, w := range []int{1, 8, 32, 64} {
			b.Run(fmt.Sprintf("design=%s/writers=%d", design, w), func(b *testing.B) { benchAppend(b, design, w) })
		}
	}
}

func benchAppend(b *testing.B, design string, writers int) {
	ctx := context.Background()
	db := testenv.Postgres(b)
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = int32(writers) + 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if design == "clock" {
		if _, err := migrations.DownTo(ctx, pool, 7, nil); err != nil {
			b.Fatal(err)
		}
	} else {
		hub := events.NewHub(pool, slog.New(slog.DiscardHandler))
		hctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = hub.Run(hctx); close(done) }()
		defer func() { stop(); <-done }()
		<-hub.Ready()
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE bench_docs (id uuid PRIMARY KEY, owner text NOT NULL, seq integer NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	docs := make([]uuid.UUID, writers)
	for i := range docs {
		docs[i] = uuid.Must(uuid.NewV7())
		if _, err := pool.Exec(ctx, `INSERT INTO bench_docs VALUES ($1, $2, 0)`, docs[i], fmt.Sprintf("owner-%d", i%64)); err != nil {
			b.Fatal(err)
		}
	}
	appendOne := func(tx pgx.Tx, doc uuid.UUID) error {
		var owner string
		var seq int
		if err := tx.QueryRow(ctx, `UPDATE bench_docs SET seq = seq + 1 WHERE id = $1 RETURNING owner, seq`, doc).Scan(&owner, &seq); err != nil {
			return err
		}
		if design == "clock" {
			return legacyAppend(ctx, tx, doc, owner, seq)
		}
		_, err := events.Append(ctx, tx, doc, owner, seq, events.ParseProgressData{Stage: "extracting", PagesDone: seq})
		return err
	}

	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	b.ResetTimer()
	start := time.Now()
	for _, doc := range docs {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return appendOne(tx, doc) }); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	written := time.Since(start)
	// The figure counts until every event has its position: a sequencer
	// that fell behind would show here.
	for design == "sequenced" {
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
	b.ReportMetric(float64((elapsed-written).Microseconds())/1000, "drain-ms")
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
}
