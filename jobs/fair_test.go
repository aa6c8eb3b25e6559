package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/internal/tailbuf"
	"github.com/foliohq/folio/internal/testbin"
	"github.com/foliohq/folio/jobs"
	"github.com/foliohq/folio/jobs/jobargs"
)

// startWorker runs a real River client working the bundle's queues with
// one slot each, and slices of slice. Its log is printed when the test
// fails (what the worker did with the slots is the story of a fair-share
// failure).
func (b *parseBundle) startWorker(t *testing.T, deps jobs.Deps) {
	t.Helper()
	b.startWorkerSlots(t, deps, 1)
}

// startWorkerSlots is startWorker with slots slots per queue.
func (b *parseBundle) startWorkerSlots(t *testing.T, deps jobs.Deps, slots int) {
	t.Helper()
	deps.Pool, deps.Store = b.db.Pool, b.bucket.Store
	log := &tailbuf.Buffer{Max: 1 << 20} // the last MiB
	deps.Logger = slog.New(slog.NewTextHandler(log, nil))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the worker's log:\n%s", log.String())
		}
	})
	deps.Sandbox = childRunner()
	deps.Sandbox.MaxPages = 5000
	deps.ProgressInterval = 10 * time.Millisecond
	client, err := river.NewClient(riverpgxv5.New(b.db.Pool), jobs.ClientConfig(deps, slots))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		cancel()
		stop, done := context.WithTimeout(context.Background(), 30*time.Second)
		defer done()
		_ = client.Stop(stop)
	})
}

// waitStatus waits until the document has status want.
func (b *parseBundle) waitStatus(t *testing.T, owner string, id uuid.UUID, want documents.Status) *documents.Document {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		d, err := documents.Get(context.Background(), b.db.Pool, owner, id)
		require.NoError(t, err)
		switch {
		case d.Status == want:
			return d
		case d.Status == documents.StatusFailed:
			t.Fatalf("document %s failed: %+v", id, d.Failure)
		case time.Now().After(deadline):
			t.Fatalf("document %s never %s (it is %s)", id, want, d.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventTime is when the document's first event of type typ was written.
func (b *parseBundle) eventTime(t *testing.T, id uuid.UUID, typ string) time.Time {
	t.Helper()
	var at time.Time
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT created_at FROM document_events
		WHERE document_id = $1 AND type = $2 ORDER BY seq LIMIT 1`, id, typ).Scan(&at))
	return at
}

// TestFairShareParse: one worker slot, an owner with a backlog of long
// parses running. Another owner's one-page document gets the next slot:
// its job comes first (priority from the backlog), and the running long
// parse gives its slot back at the end of its slice (parse.requeued,
// fair_share), then goes on where it stopped: every page once.
func TestFairShareParse(t *testing.T) {
	t.Parallel()
	b := setupParse(t)
	// Long enough to outlast a slice on an idle machine (about 1.5 s of
	// parse); short enough that on a machine two CPU hogs share (make
	// test-busy: the parse child runs niced, at a tenth of a CPU) the three
	// end within waitStatus's wait even when a sliced one waits behind
	// the next (a snoozed job is back within River's scheduler interval).
	const pages = 600
	long := pdftest.LongDocument("mallory", pages, 40)
	var mallory []uuid.UUID
	for range 3 {
		mallory = append(mallory, b.documentOf(t, "mallory", long))
	}
	var prios []int
	rows, err := b.db.Pool.Query(context.Background(), `SELECT priority FROM river_job WHERE kind = 'parse' ORDER BY id`)
	require.NoError(t, err)
	prios, err = pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 2}, prios, "an owner's backlog lowers its new jobs' priority")

	b.startWorker(t, jobs.Deps{Slice: 500 * time.Millisecond})
	b.waitStatus(t, "mallory", mallory[0], documents.StatusParsing)
	alice := b.documentOf(t, "alice", pdftest.TextPages([]string{"one page"}))
	require.Equal(t, 1, b.priority(t, alice), "an owner without a backlog goes first")

	b.waitStatus(t, "alice", alice, documents.StatusDone)
	first := b.waitStatus(t, "mallory", mallory[0], documents.StatusDone)
	require.True(t, b.eventTime(t, alice, "document.done").Before(b.eventTime(t, mallory[0], "document.done")),
		"the one-page document did not wait for the long parse")
	var why string
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT data->>'why' FROM document_events
		WHERE document_id = $1 AND type = 'parse.requeued' ORDER BY seq LIMIT 1`, mallory[0]).Scan(&why))
	require.Equal(t, "fair_share", why)
	var n, distinct, attempt int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT page_number) FROM pages
		WHERE document_id = $1`, mallory[0]).Scan(&n, &distinct))
	require.Equal(t, pages, n)
	require.Equal(t, pages, distinct, "every page once across slices")
	require.Equal(t, pages, *first.PageCount)
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT attempt FROM river_job
		WHERE kind = 'parse' AND args->>'document_id' = $1`, mallory[0].String()).Scan(&attempt))
	require.Equal(t, 1, attempt, "a slice given back is no attempt")
	for _, id := range mallory[1:] {
		b.waitStatus(t, "mallory", id, documents.StatusDone)
	}
}

// TestFairShareStepBackGoesBehind: two slots; an owner whose twelve parse
// jobs have a better priority than another owner's two (they were queued
// when its backlog was smaller). Each of the first owner's jobs that
// starts with the other owner waiting steps back; it must go behind the
// waiting jobs, not be fetched again first (a livelock: every job
// snoozed for ever, nothing parsed, that a 1,000-document run found).
// Every document is done.
func TestFairShareStepBackGoesBehind(t *testing.T) {
	t.Parallel()
	b := setupParse(t)
	ctx := context.Background()
	var early, late []uuid.UUID
	for i := range 12 {
		early = append(early, b.documentOf(t, "early", pdftest.TextPages([]string{fmt.Sprintf("early %d", i)})))
	}
	for i := range 2 {
		late = append(late, b.documentOf(t, "late", pdftest.TextPages([]string{fmt.Sprintf("late %d", i)})))
	}
	_, err := b.db.Pool.Exec(ctx, `UPDATE river_job SET priority = CASE WHEN args->>'owner' = 'early' THEN 3 ELSE 4 END WHERE kind = 'parse'`)
	require.NoError(t, err)
	b.startWorkerSlots(t, jobs.Deps{Slice: 5 * time.Second}, 2)
	for _, id := range late {
		b.waitStatus(t, "late", id, documents.StatusDone)
	}
	for _, id := range early {
		b.waitStatus(t, "early", id, documents.StatusDone)
	}
}

func (b *parseBundle) priority(t *testing.T, id uuid.UUID) int {
	t.Helper()
	var p int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT priority FROM river_job
		WHERE args->>'document_id' = $1 ORDER BY id DESC LIMIT 1`, id.String()).Scan(&p))
	return p
}

// TestFairSharePrioritiesFollowTheBacklog: the priority of an owner's new
// job falls as its backlog in the queue grows; other queues and owners
// do not count.
func TestFairSharePrioritiesFollowTheBacklog(t *testing.T) {
	t.Parallel()
	for backlog, want := range map[int]int{0: 1, 1: 2, 9: 2, 10: 3, 99: 3, 100: 4, 5000: 4} {
		require.Equal(t, want, jobargs.Priority(backlog), "backlog %d", backlog)
	}
	b := setupParse(t)
	ctx := context.Background()
	for range 3 {
		b.documentOf(t, "mallory", pdftest.TextPages([]string{"x"}))
	}
	n, err := jobargs.Backlog(ctx, b.db.Pool, jobargs.QueueParse, "mallory")
	require.NoError(t, err)
	require.Equal(t, 3, n)
	n, err = jobargs.Backlog(ctx, b.db.Pool, jobargs.QueueOCR, "mallory")
	require.NoError(t, err)
	require.Zero(t, n)
	waiting, err := jobs.OthersWaiting(ctx, b.db.Pool, jobargs.QueueParse, "mallory", 1)
	require.NoError(t, err)
	require.False(t, waiting, "only mallory's own jobs wait")
	b.documentOf(t, "alice", pdftest.TextPages([]string{"x"}))
	waiting, err = jobs.OthersWaiting(ctx, b.db.Pool, jobargs.QueueParse, "mallory", 1)
	require.NoError(t, err)
	require.True(t, waiting, "alice waits with nothing running")
	waiting, err = jobs.OthersWaiting(ctx, b.db.Pool, jobargs.QueueParse, "mallory", 0)
	require.NoError(t, err)
	require.False(t, waiting, "nobody has fewer than none running")
}

// TestFairShareOCR: one OCR slot; an owner's long scan is being read when
// another owner's short scan is parsed. The long OCR gives its slot
// back after the page in hand once its slice is over; the short scan
// is read before the long one ends; every page of both is read once.
func TestFairShareOCR(t *testing.T) {
	t.Parallel()
	tools := ocrTools(t)
	b := setupParse(t)
	ctx := context.Background()
	lines := make([][]string, 6)
	for i := range lines {
		lines[i] = []string{"The quick brown fox jumps over the lazy dog."}
	}
	long, err := pdftest.ScanWithPoppler(ctx, pdftest.TextPages(lines...), 300)
	require.NoError(t, err)
	mallory := b.documentOf(t, "mallory", long)
	b.startWorker(t, jobs.Deps{Slice: 500 * time.Millisecond, OCR: &tools, OCRSandbox: childRunner(), OCRConcurrency: 1})
	require.Eventually(t, func() bool {
		d, err := documents.Get(ctx, b.db.Pool, "mallory", mallory)
		return err == nil && d.OCR != nil && d.OCR.Status == documents.OCRRunning
	}, 3*time.Minute, 20*time.Millisecond, "mallory's OCR runs")
	alice := b.documentOf(t, "alice", scan(t))

	for owner, id := range map[string]uuid.UUID{"alice": alice, "mallory": mallory} {
		require.Eventually(t, func() bool {
			d, err := documents.Get(ctx, b.db.Pool, owner, id)
			return err == nil && d.OCR != nil && d.OCR.Status == documents.OCRDone
		}, 5*time.Minute, 50*time.Millisecond, "%s's OCR ends", owner)
	}
	require.True(t, b.eventTime(t, alice, "ocr.done").Before(b.eventTime(t, mallory, "ocr.done")),
		"the short scan was not kept waiting for the long one")
	for id, pages := range map[uuid.UUID]int{alice: 2, mallory: 6} {
		var read, distinct int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT page_number) FROM pages
			WHERE document_id = $1 AND source = 'ocr'`, id).Scan(&read, &distinct))
		require.Equal(t, pages, read)
		require.Equal(t, pages, distinct, "every page read once")
	}
	var snoozes int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT coalesce((metadata->>'snoozes')::int, 0) FROM river_job
		WHERE kind = 'ocr' AND args->>'document_id' = $1`, mallory.String()).Scan(&snoozes))
	require.Positive(t, snoozes, "the long OCR gave its slot back")
}

// TestFairShareThumbnails: a parse cut while it draws thumbnails (another
// owner waits) goes on later with the pages not drawn: every page ends
// with one thumbnail, none twice.
func TestFairShareThumbnails(t *testing.T) {
	t.Parallel()
	b := setupParse(t)
	ctx := context.Background()
	const pages = 300
	mallory := b.documentOf(t, "mallory", pdftest.LongDocument("mallory", pages, 20))
	b.startWorker(t, jobs.Deps{Slice: 300 * time.Millisecond, Renderer: &jobs.PageRenderer{Pool: b.db.Pool, Store: b.bucket.Store,
		Sandbox: childRunner(), Options: sandbox.RenderOptions{CacheDir: testbin.RenderCache()}}})
	require.Eventually(t, func() bool {
		d, err := documents.Get(ctx, b.db.Pool, "mallory", mallory)
		return err == nil && d.Stage == documents.StageRendering && d.PagesRendered > 0
	}, 3*time.Minute, 10*time.Millisecond, "mallory's thumbnails are being drawn")
	alice := b.documentOf(t, "alice", pdftest.TextPages([]string{"one page"}))
	b.waitStatus(t, "alice", alice, documents.StatusDone)
	b.waitStatus(t, "mallory", mallory, documents.StatusDone)

	var yields int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM document_events WHERE document_id = $1
		AND type = 'parse.requeued' AND data->>'why' = 'fair_share'`, mallory).Scan(&yields))
	require.Positive(t, yields, "the thumbnails gave way")
	var images, distinct int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT page_number) FROM page_images
		WHERE document_id = $1 AND width = 256`, mallory).Scan(&images, &distinct))
	require.Equal(t, pages, distinct, "every page has its thumbnail")
	require.Equal(t, pages, images, "none twice")
	d, err := documents.Get(ctx, b.db.Pool, "mallory", mallory)
	require.NoError(t, err)
	require.Equal(t, pages, d.PagesRendered)
}
