package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/internal/tesseract"
	"github.com/foliohq/folio/internal/tracing"
	"github.com/foliohq/folio/jobs/jobargs"
	"github.com/foliohq/folio/storage"
)

// OCRWorker reads the pages of one parse generation that only images fill:
// it streams the original from S3 into a render child (each page drawn at
// 300 dpi in grey by PDFium), reads each page with Tesseract in a child of
// its own, and stores each
// page's text as it comes, so that a retried or handed-back job goes on
// from the first page not read.
type OCRWorker struct {
	river.WorkerDefaults[jobargs.OCRArgs]
	Pool    *pgxpool.Pool
	Store   *storage.Store
	Sandbox *sandbox.Runner // Timeout bounds one attempt
	Tools   sandbox.OCRTools
	Logger  *slog.Logger
	// ProgressInterval is the most often ocr.progress is sent.
	ProgressInterval time.Duration
	// Draining reports that the worker process is stopping; nil: never.
	Draining func() bool
	// Metrics, when set, count and time pages.
	Metrics *OCRMetrics
	// Slice, when set, makes a run give its slot back after the page in
	// hand when an owner with fewer OCRs running waits (fair share); 0:
	// runs as long as they need.
	Slice time.Duration
}

// Timeout gives an attempt the sandbox's time plus room for S3 and
// Postgres.
func (w *OCRWorker) Timeout(*river.Job[jobargs.OCRArgs]) time.Duration {
	return w.Sandbox.Timeout + time.Minute
}

// Work runs one attempt.
func (w *OCRWorker) Work(ctx context.Context, job *river.Job[jobargs.OCRArgs]) (err error) {
	id, gen := job.Args.DocumentID, job.Args.Generation
	ctx, span := tracing.Start(tracing.Extract(ctx, job.Metadata), "ocr",
		attribute.String("folio.document.id", id.String()), attribute.Int64("folio.job.id", job.ID))
	defer tracing.End(span, &err)
	log := w.Logger.With("document_id", id, "job_id", job.ID, "attempt", job.Attempt)
	if w.Slice > 0 && shareExceeded(ctx, w.Pool, jobargs.QueueOCR, job.Args.Owner) {
		log.Info("ocr: another owner with fewer OCRs running waits: this one steps back")
		if err := stepBack(ctx, w.Pool, job.ID); err != nil {
			return err
		}
		return river.JobSnooze(0)
	}
	key, languages, pages, err := documents.StartOCR(ctx, w.Pool, id, gen)
	if errors.Is(err, documents.ErrNoOCR) {
		log.Info("ocr: nothing to do (document gone, reparsed, or read already)")
		return nil
	}
	if err != nil {
		return w.retry(ctx, job, err)
	}
	started := time.Now()
	if len(pages) > 0 {
		open := func(ctx context.Context) (io.ReadCloser, error) { return w.Store.Get(ctx, key) }
		lastEvent, lastPage := time.Time{}, time.Now()
		_, sl := watchSlice(ctx, w.Pool, w.Slice, jobargs.QueueOCR, job.Args.Owner, false)
		read := 0
		tools := w.Tools
		tools.Nice = ownerNice(ctx, w.Pool, job.Args.Owner)
		if languages != "" {
			tools.Languages = languages
		}
		if missing, ok := tesseract.Missing(tools.Languages, tools.Installed); !ok && tools.Installed != nil {
			// The API checks the languages against FOLIO_OCR_AVAILABLE_LANGUAGES;
			// this worker lacks one of them: the pages say so.
			log.Warn("ocr: this worker has no data for a language the document asks for", "language", missing, "languages", tools.Languages)
			if err := documents.FailOCR(ctx, w.Pool, id, gen, "ocr_language_unavailable"); err != nil {
				return w.retry(ctx, job, err)
			}
			return nil
		}
		stats, err := w.Sandbox.OCR(ctx, open, pages, tools, func(p sandbox.OCRPage) error {
			read++
			w.Metrics.observe(p.Code != "", time.Since(lastPage))
			lastPage = time.Now()
			r := documents.OCRResult{Number: p.Number, Text: p.Text, Confidence: p.Confidence, Failure: p.Code,
				Rotation: p.Rotation, RotationConfidence: p.RotationConfidence, Skew: p.Skew}
			if p.Code != "" {
				log.Info("ocr: page could not be read", "page", p.Number, "code", p.Code, "reason", p.Message)
			}
			if p.Rotation != 0 {
				log.Info("ocr: page read turned upright", "page", p.Number, "rotation", p.Rotation, "confidence", p.RotationConfidence)
			}
			announce := time.Since(lastEvent) >= w.ProgressInterval
			stale, err := documents.SaveOCRPages(ctx, w.Pool, id, gen, []documents.OCRResult{r}, announce)
			if err != nil {
				return err
			}
			if err := w.redraw(ctx, id, job.Args.Owner, stale); err != nil {
				log.Warn("ocr: page images drawn the wrong way up were forgotten, but not all redrawn or deleted", "page", p.Number, "err", err)
			}
			if announce {
				lastEvent = time.Now()
			}
			// Given back after the page in hand when an owner with fewer
			// OCRs running waits: under contention an OCR's slice is one
			// page (a page is seconds; the next run picks up at once).
			if read < len(pages) && sl.Waiting() {
				return ErrYield
			}
			return nil
		})
		sl.end()
		if errors.Is(err, ErrYield) {
			// Another owner's OCR waits: the pages read are stored; the
			// rest are read when this job's turn comes again.
			if rerr := documents.YieldOCR(ctx, w.Pool, id, gen); rerr != nil {
				return w.retry(ctx, job, rerr)
			}
			if rerr := stepBack(ctx, w.Pool, job.ID); rerr != nil {
				return w.retry(ctx, job, rerr)
			}
			log.Info("ocr: slice over, another owner's OCR waits: back in the queue", "pages_read", read, "pages_left", len(pages)-read)
			return river.JobSnooze(0)
		}
		if err != nil {
			return w.retry(ctx, job, err)
		}
		log.Info("ocr: pages read", "pages", len(pages), "duration", time.Since(started).String(),
			"child_peak_rss_mib", stats.PeakRSS>>20, "child_cpu", stats.CPUTime.String())
	}
	if err := documents.FinishOCR(ctx, w.Pool, id, gen); err != nil {
		return w.retry(ctx, job, err)
	}
	return nil
}

// redraw deletes the objects of page images drawn with another turn than
// OCR found (their rows are gone) and has their thumbnails drawn again,
// upright. Other widths are drawn on demand, as always. A failure here
// leaves a thumbnail missing (drawn when asked for) or an object no row
// names (deleted with the document).
func (w *OCRWorker) redraw(ctx context.Context, id uuid.UUID, owner string, stale []documents.StaleImage) error {
	var errs []error
	for _, s := range stale {
		if s.S3Key != "" {
			errs = append(errs, w.Store.Delete(ctx, s.S3Key))
		}
		if s.Width != jobargs.ThumbnailWidth {
			continue
		}
		client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		opts, err := jobargs.FairOpts(ctx, w.Pool, jobargs.QueueRender, owner, nil)
		if err == nil {
			_, err = client.Insert(ctx, jobargs.RenderArgs{DocumentID: id, Page: s.Page, Width: s.Width, Owner: owner}, opts)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// retry hands the job back: River runs it again (at once when a draining
// worker gave it back, with backoff otherwise), and it goes on from the
// pages it has not read. On the last attempt the pages left are marked
// failed and the OCR ends, so that the document does not wait forever.
func (w *OCRWorker) retry(ctx context.Context, job *river.Job[jobargs.OCRArgs], err error) error {
	id, gen := job.Args.DocumentID, job.Args.Generation
	if ctx.Err() != nil {
		if rerr := documents.RequeueOCR(context.WithoutCancel(ctx), w.Pool, id, gen); rerr != nil {
			w.Logger.Warn("ocr: putting the OCR back to pending", "err", rerr)
		}
		return fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	if job.Attempt < job.MaxAttempts {
		if rerr := documents.RequeueOCR(ctx, w.Pool, id, gen); rerr != nil {
			w.Logger.Warn("ocr: putting the OCR back to pending", "err", rerr)
		}
		return err
	}
	w.Logger.Warn("ocr: giving up on the pages left", "document_id", id, "err", err)
	if ferr := documents.FailOCR(ctx, w.Pool, id, gen, "ocr_failed"); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}

// enqueueOCR inserts the OCR job of a parse generation in the parse's
// last transaction, through the River client working the parse, with the
// priority of the owner's OCR backlog (fair share).
func enqueueOCR(ctx context.Context, tx pgx.Tx, id uuid.UUID, gen int64, owner string) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	opts, err := jobargs.FairOpts(ctx, tx, jobargs.QueueOCR, owner, nil)
	if err != nil {
		return err
	}
	_, err = client.InsertTx(ctx, tx, jobargs.OCRArgs{DocumentID: id, Generation: gen, Owner: owner}, opts)
	return err
}
