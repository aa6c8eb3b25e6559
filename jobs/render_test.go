package jobs_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/internal/testbin"
	"github.com/foliohq/folio/jobs"
	"github.com/foliohq/folio/jobs/jobargs"
	"github.com/foliohq/folio/storage"
)

func (b *parseBundle) withRenderer() *jobs.PageRenderer {
	r := &jobs.PageRenderer{Pool: b.db.Pool, Store: b.bucket.Store,
		Sandbox: childRunner(),
		Options: sandbox.RenderOptions{CacheDir: testbin.RenderCache()}}
	b.worker.Renderer = r
	return r
}

// images returns the document's image rows at width: page → created_at.
func (b *parseBundle) images(t *testing.T, id uuid.UUID, width int) map[int]time.Time {
	t.Helper()
	rows, err := b.db.Pool.Query(context.Background(), `SELECT page_number, created_at FROM page_images
		WHERE document_id = $1 AND width = $2 AND s3_key IS NOT NULL`, id, width)
	require.NoError(t, err)
	out := map[int]time.Time{}
	for rows.Next() {
		var n int
		var at time.Time
		require.NoError(t, rows.Scan(&n, &at))
		out[n] = at
	}
	require.NoError(t, rows.Err())
	return out
}

func (b *parseBundle) imageWidth(t *testing.T, id uuid.UUID, page, width int) int {
	t.Helper()
	ctx := context.Background()
	_, img, err := documents.Image(ctx, b.db.Pool, "alice", id, page, width)
	require.NoError(t, err)
	require.NotNil(t, img)
	require.Nil(t, img.Failure)
	obj, err := b.bucket.Store.Get(ctx, img.S3Key)
	require.NoError(t, err)
	defer obj.Close()
	data, err := io.ReadAll(obj)
	require.NoError(t, err)
	require.Len(t, data, img.SizeBytes)
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, cfg.Height, img.Height)
	return cfg.Width
}

// TestParseRendersThumbnails: the parse's rendering stage gives every page
// its thumbnail after the text, with progress events of its own; a reparse
// keeps them (the original has not changed): nothing is drawn twice.
func TestParseRendersThumbnails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupParse(t)
	b.withRenderer()
	id := b.document(t, pdftest.TextPages([]string{"Alpha"}, []string{"Beta"}, []string{"Gamma"}))
	require.Equal(t, river.EventKindJobCompleted, b.work(t, b.job(t, id)).EventKind)

	d := b.get(t, id)
	require.Equal(t, documents.StatusDone, d.Status)
	require.Equal(t, 3, d.PagesRendered)
	first := b.images(t, id, jobargs.ThumbnailWidth)
	require.Len(t, first, 3)
	for n := 1; n <= 3; n++ {
		require.Equal(t, 256, b.imageWidth(t, id, n, 256))
	}
	var stages []string
	rows, err := b.db.Pool.Query(ctx, `SELECT data->>'stage' || ':' || (data->>'pages_done') FROM document_events
		WHERE document_id = $1 AND type = 'parse.progress' ORDER BY seq`, id)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		stages = append(stages, s)
	}
	require.NoError(t, rows.Err())
	require.Contains(t, stages, "rendering:0")
	require.Contains(t, stages, "rendering:3")
	pages, err := documents.Pages(ctx, b.db.Pool, id, 1, 10)
	require.NoError(t, err)
	require.Equal(t, &documents.Thumbnail{Width: 256, Height: 332}, pages[1].Thumbnail)

	// rivertest completed the job in a transaction it rolled back.
	_, err = b.db.Pool.Exec(ctx, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE kind = 'parse'`)
	require.NoError(t, err)
	_, err = documents.Reparse(ctx, b.db.Pool, b.client, "alice", id)
	require.NoError(t, err)
	list, err := b.client.JobList(ctx, river.NewJobListParams().Kinds(jobargs.KindParse).States(jobargs.ActiveParseStates...))
	require.NoError(t, err)
	require.Len(t, list.Jobs, 1)
	require.Equal(t, river.EventKindJobCompleted, b.work(t, list.Jobs[0]).EventKind)
	require.Equal(t, first, b.images(t, id, jobargs.ThumbnailWidth), "the reparse drew nothing again")
	require.Equal(t, 3, b.get(t, id).PagesRendered)
}

// TestRenderWorkerDrawsOnDemand: a render job draws its one image, and a
// second job for it finds it drawn.
func TestRenderWorkerDrawsOnDemand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupParse(t)
	r := b.withRenderer()
	id := b.document(t, pdftest.TextPages([]string{"Alpha"}, []string{"Beta"}))
	w := &jobs.RenderWorker{Renderer: r, Logger: slog.New(slog.DiscardHandler)}
	tw := rivertest.NewWorker(t, riverpgxv5.New(b.db.Pool), &river.Config{}, w)
	work := func(args jobargs.RenderArgs) *rivertest.WorkResult {
		tx, err := b.db.Pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx) //nolint:errcheck // nothing to keep
		res, err := tw.Work(ctx, t, tx, args, nil)
		if res == nil {
			require.NoError(t, err)
		}
		return res
	}
	require.Equal(t, river.EventKindJobCompleted, work(jobargs.RenderArgs{DocumentID: id, Page: 2, Width: 1024}).EventKind)
	require.Equal(t, 1024, b.imageWidth(t, id, 2, 1024))
	before := b.images(t, id, 1024)
	require.Len(t, before, 1)
	require.Equal(t, river.EventKindJobCompleted, work(jobargs.RenderArgs{DocumentID: id, Page: 2, Width: 1024}).EventKind)
	require.Equal(t, before, b.images(t, id, 1024), "drawn once")

	// Another renderer's image is replaced, and its object deleted.
	oldKey := documents.ImageKey("alice", id, "old-renderer", 1, 512, 0)
	_, err := b.bucket.Store.Put(ctx, oldKey, bytes.NewReader([]byte("old jpeg")), storage.PutOptions{})
	require.NoError(t, err)
	_, err = documents.SaveImage(ctx, b.db.Pool, documents.PageImage{DocumentID: id, Page: 1, Width: 512,
		Renderer: "old-renderer", S3Key: oldKey, Height: 662, SizeBytes: 8})
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, work(jobargs.RenderArgs{DocumentID: id, Page: 1, Width: 512}).EventKind)
	require.Equal(t, 512, b.imageWidth(t, id, 1, 512))
	_, err = b.bucket.Store.Get(ctx, oldKey)
	require.ErrorIs(t, err, storage.ErrNotFound, "the old renderer's image is gone")

	// A page past the end is recorded as such; a width not offered is refused.
	require.Equal(t, river.EventKindJobCompleted, work(jobargs.RenderArgs{DocumentID: id, Page: 3, Width: 512}).EventKind)
	_, img, err := documents.Image(ctx, b.db.Pool, "alice", id, 3, 512)
	require.NoError(t, err)
	require.NotNil(t, img.Failure)
	require.Equal(t, "no_such_page", img.Failure.Code)
	require.Equal(t, river.EventKindJobCancelled, work(jobargs.RenderArgs{DocumentID: id, Page: 1, Width: 300}).EventKind)
}

// TestParseResumesRendering: an attempt handed back while drawing (its
// pages all extracted, some thumbnails drawn) draws only the rest when it
// runs again.
func TestParseResumesRendering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupParse(t)
	b.withRenderer()
	id := b.document(t, pdftest.TextPages([]string{"one"}, []string{"two"}, []string{"three"}, []string{"four"}))
	job := b.job(t, id)
	_, _, err := documents.StartParse(ctx, b.db.Pool, id, job.ID, 1)
	require.NoError(t, err)
	rows := make([]documents.PageRow, 4)
	for i := range rows {
		rows[i] = documents.PageRow{Number: i + 1, Width: 612, Height: 792, Text: "committed"}
	}
	require.NoError(t, documents.SavePages(ctx, b.db.Pool, id, job.ID, rows, 4, false))
	for n := 1; n <= 2; n++ { // drawn by the attempt that was handed back
		_, err := documents.SaveImage(ctx, b.db.Pool, documents.PageImage{DocumentID: id, Page: n, Width: 256,
			Renderer: sandbox.Renderer, S3Key: documents.ImageKey("alice", id, sandbox.Renderer, n, 256, 0), Height: 331, SizeBytes: 4})
		require.NoError(t, err)
	}
	before := b.images(t, id, 256)

	require.Equal(t, river.EventKindJobCompleted, b.work(t, job).EventKind)
	after := b.images(t, id, 256)
	require.Len(t, after, 4)
	for n := 1; n <= 2; n++ {
		require.Equal(t, before[n], after[n], "page %d is not drawn again", n)
	}
	require.Equal(t, 256, b.imageWidth(t, id, 3, 256))
	d := b.get(t, id)
	require.Equal(t, documents.StatusDone, d.Status)
	require.Equal(t, 4, d.PagesRendered)
}
