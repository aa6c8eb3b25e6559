package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/internal/tracing"
	"github.com/foliohq/folio/jobs/jobargs"
	"github.com/foliohq/folio/pdf"
	"github.com/foliohq/folio/storage"
)

// ParseWorker parses one document: it streams the original from S3 into a
// sandboxed child, stores pages as they come, and ends the document done
// or failed with a reason.
type ParseWorker struct {
	river.WorkerDefaults[jobargs.ParseArgs]
	Pool    *pgxpool.Pool
	Store   *storage.Store
	Sandbox *sandbox.Runner
	Logger  *slog.Logger
	// ProgressInterval is the most often pages and progress are written.
	ProgressInterval time.Duration
	// Draining reports that the worker process is stopping; nil: never.
	Draining func() bool
	// Metrics, when set, time each attempt.
	Metrics *ParseMetrics
	// OCR says that this worker's deployment reads scanned pages: their
	// OCR job is queued when the parse ends. Without it such pages stay
	// needs_ocr and the document's OCR is "unavailable".
	OCR bool
	// Renderer, when set, draws every page's thumbnail after its text is
	// extracted (the parse's rendering stage).
	Renderer *PageRenderer
	// Slice is how long a run may hold its slot while another owner's
	// job waits (fair share); 0: as long as it needs.
	Slice time.Duration
}

// flushPages bounds how many pages wait in memory before being written.
const flushPages = 64

// Timeout gives a parse the sandbox's time plus room for S3 and Postgres
// (River's default of one minute is far too short for a 5,000-page book).
func (w *ParseWorker) Timeout(*river.Job[jobargs.ParseArgs]) time.Duration {
	if w.Renderer != nil {
		return w.Sandbox.Timeout + w.Renderer.Sandbox.Timeout + time.Minute
	}
	return w.Sandbox.Timeout + time.Minute
}

func summaryOf(res *pdf.Result) documents.Summary {
	return documents.Summary{
		Version: res.Version, Tagged: res.Tagged, Linearized: res.Linearized, Encryption: res.Encryption,
		Metadata: res.Metadata, SecurityFlags: res.Security, FormFields: res.FormFields, Signatures: res.Signatures,
		Fonts: nonNil(res.Fonts), Attachments: nonNil(res.Attachments), OutlineItems: countOutline(res.Outline),
		Warnings: res.Warnings,
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func countOutline(items []pdf.OutlineItem) int {
	n := len(items)
	for _, it := range items {
		n += countOutline(it.Children)
	}
	return n
}

// Work runs one attempt. Permanent failures (the input's fault) cancel the
// job with the document failed; transient ones return an error for River
// to retry, and fail the document with "internal" on the last attempt.
func (w *ParseWorker) Work(ctx context.Context, job *river.Job[jobargs.ParseArgs]) error {
	id, gen := job.Args.DocumentID, job.ID
	// The parse continues the upload's trace, carried in the job's metadata.
	ctx, span := tracing.Tracer().Start(tracing.Extract(ctx, job.Metadata), "parse",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
			attribute.String("folio.document.id", id.String()), attribute.Int64("folio.job.id", job.ID),
			attribute.Int("folio.job.attempt", job.Attempt)))
	defer span.End()
	log := w.Logger.With(append([]any{"document_id", id, "job_id", job.ID, "attempt", job.Attempt}, tracing.LogAttrs(ctx)...)...)
	if w.Slice > 0 && shareExceeded(ctx, w.Pool, jobargs.QueueParse, job.Args.Owner) {
		log.Info("parse: another owner with fewer parses running waits: this one steps back")
		if err := stepBack(ctx, w.Pool, job.ID); err != nil {
			return err
		}
		return river.JobSnooze(0)
	}
	doc, firstPage, err := documents.StartParse(ctx, w.Pool, id, gen, job.Attempt)
	if errors.Is(err, documents.ErrNotFound) {
		log.Info("parse: document is gone; nothing to do")
		return nil
	}
	if errors.Is(err, documents.ErrNothingToParse) {
		log.Info("parse: this generation finished already or a newer one took over; nothing to do")
		return nil
	}
	if err != nil {
		return w.transient(ctx, job, err)
	}
	// One time budget for every slice of this parse.
	spent, err := documents.ParseSpent(ctx, w.Pool, id, gen)
	if err != nil {
		return w.transient(ctx, job, err)
	}
	remaining := w.Sandbox.Timeout - spent
	if remaining <= 0 {
		return w.permanent(ctx, job, log, "time_limit", fmt.Sprintf("Parsing took longer than the limit of %s.", w.Sandbox.Timeout))
	}
	runStart := time.Now()
	nice := ownerNice(ctx, w.Pool, job.Args.Owner)
	obj, err := w.Store.Get(ctx, doc.S3Key)
	if err != nil {
		return w.transient(ctx, job, err)
	}
	defer obj.Close()
	// A direct upload's bytes reach Folio first here: hash them on the way.
	var src io.Reader = obj
	var digest *hashingReader
	if doc.SHA256 == "" {
		digest = &hashingReader{r: obj, h: sha256.New()}
		src = digest
	}

	var (
		pending   []documents.PageRow
		pagesDone = firstPage - 1
		lastFlush = time.Now()
		lastEvent time.Time
	)
	// flush writes the pending pages; a progress event goes with them at
	// most every ProgressInterval (the first and the last are always sent:
	// SetPageCount and FinishParse send them).
	flush := func() error {
		announce := time.Since(lastEvent) >= w.ProgressInterval
		if err := documents.SavePages(ctx, w.Pool, id, gen, pending, pagesDone, announce); err != nil {
			return err
		}
		if announce {
			lastEvent = time.Now()
		}
		pending, lastFlush = pending[:0], time.Now()
		return nil
	}
	started := time.Now()
	var stats sandbox.Stats
	// The text: cut at once when the slice is over (the pages reported
	// are kept; the page in hand is read again next time).
	textCtx, textSlice := watchSlice(ctx, w.Pool, w.Slice, jobargs.QueueParse, job.Args.Owner, true)
	sctx, sspan := tracing.Start(textCtx, "sandbox.run", attribute.Int("folio.first_page", firstPage))
	res, err := w.Sandbox.Run(sctx, src, firstPage, sandbox.Handler{
		Remaining: remaining,
		Nice:      nice,
		Finished:  func(s sandbox.Stats) { stats = s },
		Started: func(n int) error {
			lastEvent = time.Now()
			return documents.SetPageCount(ctx, w.Pool, id, gen, n, firstPage-1)
		},
		Page: func(p pdf.Page) error {
			if p.Number < firstPage {
				return nil // committed by an earlier attempt of this generation
			}
			row := documents.PageRow{Number: p.Number, Width: p.Width, Height: p.Height, Rotation: p.Rotation, Text: p.Text,
				Source: documents.SourceText}
			if p.NeedsOCR() {
				row.Source = documents.SourceNeedsOCR
			}
			pending = append(pending, row)
			pagesDone = p.Number
			if len(pending) >= flushPages || time.Since(lastFlush) >= w.ProgressInterval {
				return flush()
			}
			return nil
		},
	})
	tracing.End(sspan, &err)
	textSlice.end()
	yielded := textSlice.Over() && errors.Is(err, ErrYield)
	if yielded {
		err = nil // what the child reported is kept below; the run stops after it
	}
	if digest != nil && digest.n == doc.SizeBytes {
		if serr := documents.SetSHA256(ctx, w.Pool, id, hex.EncodeToString(digest.h.Sum(nil))); serr != nil {
			log.Warn("parse: recording the SHA-256", "err", serr)
		}
	}
	if err == nil {
		err = flush()
	}
	if err == nil && yielded {
		return w.yield(ctx, job, log, time.Since(runStart), pagesDone)
	}
	rendered := 0
	if err == nil && w.Renderer != nil {
		// The thumbnails: cut where they are once the slice (what is left
		// of it) is over; the next run draws what is missing.
		left := time.Duration(0) // never over
		if w.Slice > 0 {
			left = max(w.Slice-time.Since(runStart), time.Millisecond)
		}
		_, drawSlice := watchSlice(ctx, w.Pool, left, jobargs.QueueParse, job.Args.Owner, true)
		rendered, err = w.Renderer.thumbnails(ctx, doc, gen, res.PageCount, w.ProgressInterval, drawSlice, w.Slice, nice)
		drawSlice.end()
		if errors.Is(err, ErrYield) {
			return w.yield(ctx, job, log, time.Since(runStart), pagesDone)
		}
	}
	if err != nil && ctx.Err() != nil && w.Draining != nil && w.Draining() && len(pending) > 0 {
		// Handed back while draining: keep the pages the child finished, so
		// the next attempt re-parses none of them (at most the page that was
		// in flight). A fresh, short context: the job's is cancelled.
		keepCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if ferr := documents.SavePages(keepCtx, w.Pool, id, gen, pending, pagesDone, false); ferr != nil {
			log.Warn("parse: keeping pages while draining", "err", ferr)
		} else {
			log.Info("parse: kept pages before handing back", "pages_done", pagesDone)
		}
		cancel()
	}
	var failure *sandbox.Failure
	switch {
	case err == nil:
		var ocr documents.EnqueueOCR
		if w.OCR {
			ocr = func(ctx context.Context, tx pgx.Tx, id uuid.UUID, gen int64) error {
				return enqueueOCR(ctx, tx, id, gen, doc.Owner)
			}
		}
		ok, ferr := documents.FinishParse(ctx, w.Pool, id, gen, res.PageCount, summaryOf(res), nonNil(res.Outline), ocr)
		if ferr != nil {
			w.Metrics.observe(attemptOutcome(ctx, w.Draining), time.Since(started), 0)
			return w.transient(ctx, job, ferr)
		}
		log.Info("parse: done", "pages", res.PageCount, "resumed_at", firstPage, "thumbnails", rendered, "duration", time.Since(started).String(),
			"child_peak_rss_mib", stats.PeakRSS>>20, "child_cpu", stats.CPUTime.String(), "current", ok)
		w.Metrics.observe("done", time.Since(started), res.PageCount-firstPage+1)
		return nil
	case errors.As(err, &failure):
		w.Metrics.observe("failed", time.Since(started), 0)
		return w.permanent(ctx, job, log, failure.Code, failure.Message)
	case errors.Is(err, sandbox.ErrCrashed) && crashedBefore(job):
		w.Metrics.observe("failed", time.Since(started), 0)
		return w.permanent(ctx, job, log, "malformed", "The file crashed the parser twice; it cannot be read.")
	}
	w.Metrics.observe(attemptOutcome(ctx, w.Draining), time.Since(started), 0)
	return w.transient(ctx, job, err)
}

// yield ends a slice that gives its slot to another owner's work: the
// document goes back to queued (parse.requeued, fair_share) with what this
// run used added to the parse's time, and the job is snoozed behind that
// work (no attempt counted); its next run goes on where this one stopped.
func (w *ParseWorker) yield(ctx context.Context, job *river.Job[jobargs.ParseArgs], log *slog.Logger, spent time.Duration, pagesDone int) error {
	if err := documents.YieldParse(ctx, w.Pool, job.Args.DocumentID, job.ID, spent); err != nil {
		return w.transient(ctx, job, err)
	}
	if err := stepBack(ctx, w.Pool, job.ID); err != nil {
		return w.transient(ctx, job, err)
	}
	log.Info("parse: slice over, another owner's work waits: back in the queue", "pages_done", pagesDone, "slice", spent.String())
	w.Metrics.observe("yielded", spent, 0)
	return river.JobSnooze(0)
}

// attemptOutcome names an attempt that will run again: handed back by a
// draining worker, or retried.
func attemptOutcome(ctx context.Context, draining func() bool) string {
	if ctx.Err() != nil && draining != nil && draining() {
		return "handed_back"
	}
	return "retry"
}

// permanent fails the document and cancels the job: retrying would end
// the same way.
func (w *ParseWorker) permanent(ctx context.Context, job *river.Job[jobargs.ParseArgs], log *slog.Logger, code, message string) error {
	log.Info("parse: failed", "code", code, "reason", message)
	if err := documents.FailParse(ctx, w.Pool, job.Args.DocumentID, job.ID, code, message); err != nil {
		return w.transient(ctx, job, err)
	}
	return river.JobCancel(fmt.Errorf("%s: %s", code, message))
}

// transient returns err for River to retry, with the document back to
// queued (parse.requeued); on the last attempt the document fails with
// "internal" instead.
func (w *ParseWorker) transient(ctx context.Context, job *river.Job[jobargs.ParseArgs], err error) error {
	if ctx.Err() != nil {
		if w.Draining != nil && w.Draining() {
			// River puts a job its stopping client cancelled straight back
			// to available, without counting the attempt: say so.
			if rerr := documents.RequeueParse(context.WithoutCancel(ctx), w.Pool, job.Args.DocumentID, job.ID, events.RequeuedDraining, job.Attempt); rerr != nil {
				w.Logger.Warn("parse: marking the document requeued", "err", rerr)
			}
		}
		// Carry the context's cause (River's stop signal, or a remote
		// cancel) whatever layer noticed the cancellation first (pgx, S3,
		// the sandbox): River recognises a drained job by it and puts it
		// straight back, without counting the attempt.
		return fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	if job.Attempt >= job.MaxAttempts {
		_ = documents.FailParse(ctx, w.Pool, job.Args.DocumentID, job.ID, "internal",
			"Parsing failed repeatedly for reasons that are not the file's; try reparsing later.")
		return err
	}
	if rerr := documents.RequeueParse(ctx, w.Pool, job.Args.DocumentID, job.ID, events.RequeuedRetry, job.Attempt); rerr != nil {
		w.Logger.Warn("parse: marking the document requeued", "err", rerr)
	}
	return err
}

// crashedBefore reports whether an earlier attempt of this job crashed the
// sandbox too.
func crashedBefore(job *river.Job[jobargs.ParseArgs]) bool {
	for _, e := range job.Errors {
		if strings.Contains(e.Error, sandbox.ErrCrashed.Error()) {
			return true
		}
	}
	return false
}

// hashingReader hashes what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}
