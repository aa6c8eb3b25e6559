package jobs_test

import (
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/internal/testbin"
	"github.com/foliohq/folio/jobs"
	"github.com/foliohq/folio/jobs/jobargs"
	"github.com/foliohq/folio/storage"
)

func ocrTools(t *testing.T) sandbox.OCRTools {
	t.Helper()
	tools, err := sandbox.FindOCRTools("eng")
	if err != nil {
		t.Skipf("no OCR here: %v (.ci/run installs tesseract-ocr)", err)
	}
	tools.CacheDir = testbin.RenderCache()
	return tools
}

// scan is a two-page scanned document: its pages are images of text.
func scan(t *testing.T) []byte {
	t.Helper()
	data, err := pdftest.ScanWithPoppler(context.Background(), pdftest.TextPages(
		[]string{"The quick brown fox jumps over the lazy dog."},
		[]string{"Sphinx of black quartz, judge my vow."}), 300)
	require.NoError(t, err)
	return data
}

func (b *parseBundle) ocrJob(t *testing.T, id uuid.UUID) []*rivertype.JobRow {
	t.Helper()
	list, err := b.client.JobList(context.Background(), river.NewJobListParams().Kinds(jobargs.KindOCR).
		Where("args->>'document_id' = @id", river.NamedArgs{"id": id.String()}))
	require.NoError(t, err)
	return list.Jobs
}

func (b *parseBundle) sources(t *testing.T, id uuid.UUID) map[int]string {
	t.Helper()
	page, err := documents.Pages(context.Background(), b.db.Pool, id, 1, 100)
	require.NoError(t, err)
	out := map[int]string{}
	for _, p := range page {
		out[p.Number] = p.Source
	}
	return out
}

// TestOCRReadsScannedPages: the parse stores scanned pages as needing OCR
// and queues the OCR job in its last transaction; the OCR job reads them,
// and search finds their words.
func TestOCRReadsScannedPages(t *testing.T) {
	t.Parallel()
	tools := ocrTools(t)
	b := setupParse(t)
	b.worker.OCR = true
	id := b.document(t, scan(t))

	require.Equal(t, river.EventKindJobCompleted, b.work(t, b.job(t, id)).EventKind)
	d := b.get(t, id)
	require.Equal(t, documents.StatusDone, d.Status, "the text parse ends the document done")
	require.Equal(t, &documents.OCRState{Status: documents.OCRPending, PagesTotal: 2}, d.OCR)
	require.Equal(t, map[int]string{1: "needs_ocr", 2: "needs_ocr"}, b.sources(t, id))
	ocrJobs := b.ocrJob(t, id)
	require.Len(t, ocrJobs, 1, "queued with the parse's end")
	require.Equal(t, jobargs.QueueOCR, ocrJobs[0].Queue)

	ocr := &jobs.OCRWorker{Pool: b.db.Pool, Store: b.bucket.Store, Logger: slog.New(slog.DiscardHandler), Tools: tools,
		Sandbox: childRunner()}
	tw := rivertest.NewWorker(t, riverpgxv5.New(b.db.Pool), &river.Config{}, ocr)
	ctx := context.Background()
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // nothing to keep
	res, err := tw.WorkJob(ctx, t, tx, ocrJobs[0])
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)

	d = b.get(t, id)
	require.Equal(t, &documents.OCRState{Status: documents.OCRDone, PagesTotal: 2, PagesDone: 2}, d.OCR)
	pages, err := documents.Pages(ctx, b.db.Pool, id, 1, 10)
	require.NoError(t, err)
	require.Equal(t, "The quick brown fox jumps over the lazy dog.", pages[0].Text)
	require.Equal(t, "ocr", pages[0].Source)
	require.NotNil(t, pages[0].OCRConfidence)
	require.Greater(t, *pages[0].OCRConfidence, 80.0)
	require.Equal(t, "Sphinx of black quartz, judge my vow.", pages[1].Text)

	hits, err := documents.Search(ctx, b.db.Pool, "alice", "quartz", 10)
	require.NoError(t, err)
	require.Len(t, hits, 1)
	require.Equal(t, 2, hits[0].Page)

	var types []string
	rows, err := b.db.Pool.Query(ctx, `SELECT type FROM document_events WHERE document_id = $1 ORDER BY seq`, id)
	require.NoError(t, err)
	for rows.Next() {
		var typ string
		require.NoError(t, rows.Scan(&typ))
		types = append(types, typ)
	}
	require.Equal(t, []string{"ocr.progress", "ocr.progress", "ocr.done"}, types[len(types)-3:])
}

// TestOCRUnavailable: a worker without an OCR engine marks scanned pages
// needs_ocr and the document's OCR unavailable; the document is done.
func TestOCRUnavailable(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		t.Skip("scans are made with pdftoppm (poppler-utils)")
	}
	b := setupParse(t)
	id := b.document(t, scan(t))
	require.Equal(t, river.EventKindJobCompleted, b.work(t, b.job(t, id)).EventKind)
	d := b.get(t, id)
	require.Equal(t, documents.StatusDone, d.Status)
	require.Equal(t, &documents.OCRState{Status: documents.OCRUnavailable, PagesTotal: 2}, d.OCR)
	require.Equal(t, map[int]string{1: "needs_ocr", 2: "needs_ocr"}, b.sources(t, id))
	require.Empty(t, b.ocrJob(t, id))
}

// TestRescueDeadWorkersOCR: an OCR job whose worker died (no heartbeat)
// goes back to the queue and its document's OCR back to pending; the
// parse of the same document is left alone.
func TestRescueDeadWorkersOCR(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		t.Skip("scans are made with pdftoppm (poppler-utils)")
	}
	ctx := context.Background()
	b := setupParse(t)
	b.worker.OCR = true
	id := b.document(t, scan(t))
	require.Equal(t, river.EventKindJobCompleted, b.work(t, b.job(t, id)).EventKind)
	job := b.ocrJob(t, id)[0]
	_, err := b.db.Pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '1 minute',
		attempted_by = ARRAY['worker-dead'] WHERE id = $1`, job.ID)
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(ctx, `UPDATE documents SET ocr_status = 'running' WHERE id = $1`, id)
	require.NoError(t, err)

	n, err := jobs.Rescue(ctx, b.db.Pool, 15*time.Second)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got, err := b.client.JobGet(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, rivertype.JobStateAvailable, got.State)
	d := b.get(t, id)
	require.Equal(t, documents.StatusDone, d.Status, "the document stays done")
	require.Equal(t, documents.OCRPending, d.OCR.Status)
}

// TestOCRTurnsSidewaysScanUpright: a page scanned on its side is read
// upright, its page says how it was turned, and its thumbnail (drawn by
// the parse, sideways) is forgotten and drawn again upright.
func TestOCRTurnsSidewaysScanUpright(t *testing.T) {
	t.Parallel()
	tools := ocrTools(t)
	if !tools.OSD {
		t.Skip("tesseract has no orientation data (scripts/install-ocr.sh installs tesseract-ocr-osd)")
	}
	ctx := context.Background()
	b := setupParse(t)
	r := b.withRenderer()
	b.worker.OCR = true
	lines := []string{
		"A letter fed into the scanner on its side comes out sideways.",
		"Orientation detection finds which way is up and turns it back,",
		"and the thumbnail shows the page the way people read it.",
		"This paragraph gives the detector enough letters to be sure.",
		"Scanners feed paper in whatever way people put it on the tray,",
		"and a page may arrive turned a quarter, a half or three quarters.",
		"Tesseract's orientation data tells the reader which way is up,",
		"and Folio turns the pixels before it reads the words again.",
		"The page images are drawn turned the same way, for the viewer.",
	}
	data, err := pdftest.TurnedScan(ctx, lines, 90)
	require.NoError(t, err)
	id := b.document(t, data)

	require.Equal(t, river.EventKindJobCompleted, b.work(t, b.job(t, id)).EventKind)
	thumb := func() (*documents.PageImage, int, int) {
		img, err := documents.ImageOf(ctx, b.db.Pool, id, 1, jobargs.ThumbnailWidth)
		require.NoError(t, err)
		if img == nil {
			return nil, 0, 0
		}
		w := b.imageWidth(t, id, 1, jobargs.ThumbnailWidth)
		return img, w, img.Height
	}
	img, w, h := thumb()
	require.NotNil(t, img)
	require.Greater(t, w, h, "drawn as scanned: on its side")
	sidewaysKey := img.S3Key

	ocr := &jobs.OCRWorker{Pool: b.db.Pool, Store: b.bucket.Store, Logger: slog.New(slog.DiscardHandler), Tools: tools,
		Sandbox: childRunner()}
	tw := rivertest.NewWorker(t, riverpgxv5.New(b.db.Pool), &river.Config{}, ocr)
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	res, err := tw.WorkJob(ctx, t, tx, b.ocrJob(t, id)[0])
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	require.NoError(t, tx.Commit(ctx))

	pages, err := documents.Pages(ctx, b.db.Pool, id, 1, 10)
	require.NoError(t, err)
	require.Equal(t, strings.Join(lines, "\n"), pages[0].Text)
	require.NotNil(t, pages[0].OCRRotation)
	require.Equal(t, 270, *pages[0].OCRRotation, "turned a quarter counter-clockwise, back upright")
	require.NotNil(t, pages[0].OCRRotationConfidence)
	require.Nil(t, pages[0].Thumbnail, "the sideways thumbnail is forgotten")
	_, err = b.bucket.Store.Head(ctx, sidewaysKey)
	require.ErrorIs(t, err, storage.ErrNotFound, "and its object deleted")

	// The thumbnail is drawn again, upright, by the render job queued.
	list, err := b.client.JobList(ctx, river.NewJobListParams().Kinds(jobargs.KindRender).
		Where("args->>'document_id' = @id", river.NamedArgs{"id": id.String()}))
	require.NoError(t, err)
	require.Len(t, list.Jobs, 1)
	rw := rivertest.NewWorker(t, riverpgxv5.New(b.db.Pool), &river.Config{}, &jobs.RenderWorker{Renderer: r, Logger: slog.New(slog.DiscardHandler)})
	tx, err = b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	res, err = rw.WorkJob(ctx, t, tx, list.Jobs[0])
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	require.NoError(t, tx.Commit(ctx))
	img, w, h = thumb()
	require.NotNil(t, img)
	require.Equal(t, 270, img.Turn)
	require.Less(t, w, h, "upright")
	require.NotEqual(t, sidewaysKey, img.S3Key)
}
