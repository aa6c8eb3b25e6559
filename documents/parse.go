package documents

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"

	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/parsed"
	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/internal/tracing"
)

// Parse stages, shown with a parsing document.
const (
	StageReading    = "reading"
	StageExtracting = "extracting"
	StageRendering  = "rendering"
	StageDone       = "done" // in the last progress event only
)

// PageRow is one extracted page as stored.
type PageRow struct {
	Number   int     `json:"number"`
	Width    float64 `json:"width"`
	Height   float64 `json:"height"`
	Rotation int     `json:"rotation"`
	Text     string  `json:"text"`
	// Source is where Text came from: SourceText, SourceOCR, or
	// SourceNeedsOCR (only images fill the page and no OCR has read it:
	// Text is what little the page had).
	Source string `json:"source"`
	// OCRConfidence is Tesseract's mean word confidence (0 to 100) on a
	// page read by OCR.
	OCRConfidence *float64 `json:"ocr_confidence,omitempty"`
	// OCRFailure is why OCR could not read a needs_ocr page
	// (render_failed, ocr_failed, time_limit, memory_limit).
	OCRFailure string `json:"ocr_failure,omitempty"`
	// OCRRotation is how far OCR turned the page clockwise to read it (0,
	// 90, 180, 270: a scan fed sideways or upside down; the page's images
	// are drawn turned too), OCRRotationConfidence Tesseract's confidence
	// in its orientation (absent when the page read well as it came), and
	// OCRSkew the degrees (counter-clockwise) its lines were straightened
	// by. Absent until OCR has read the page.
	OCRRotation           *int     `json:"ocr_rotation,omitempty"`
	OCRRotationConfidence *float64 `json:"ocr_rotation_confidence,omitempty"`
	OCRSkew               *float64 `json:"ocr_skew,omitempty"`
	// Thumbnail is the page's thumbnail: its size, or why there is none.
	// Nil until the parse's rendering stage has reached the page.
	Thumbnail *Thumbnail `json:"thumbnail,omitempty"`
}

// Thumbnail is a page's thumbnail as the pages listing shows it.
type Thumbnail struct {
	Width   int      `json:"width"`
	Height  int      `json:"height,omitempty"`
	Failure *Failure `json:"failure,omitempty"`
}

// Where a page's text came from.
const (
	SourceText     = "text"
	SourceOCR      = "ocr"
	SourceNeedsOCR = "needs_ocr"
)

// ErrNothingToParse means the parse job's generation is done already (its
// job ran again: River had not recorded it complete when its worker died)
// or a newer generation (a reparse) has taken over. The job has no work.
// (A failed generation's job does run again: an operator retrying it.)
var ErrNothingToParse = errors.New("this parse finished already or was superseded")

// StartParse marks the document as parsing in generation gen (the parse
// job's id) and drops pages any other generation wrote. It returns the
// document and the first page that gen has not committed yet (a retried
// attempt resumes there). ErrNotFound: the document is gone;
// ErrNothingToParse: gen is done already, or older than the document's.
func StartParse(ctx context.Context, pool pg.TxDB, id uuid.UUID, gen int64, attempt int) (_ *Document, _ int, err error) {
	ctx, span := tracing.Start(ctx, "documents.StartParse", attribute.String("folio.document.id", id.String()), attribute.Int64("folio.parse.generation", gen))
	defer tracing.End(span, &err)
	var (
		doc       *Document
		firstPage int
	)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		d, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM documents WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		doc = d
		// The row is locked: an update that changes nothing means gen is
		// done already or older than the document's generation.
		tag, err := tx.Exec(ctx, `UPDATE documents SET status = 'parsing', parse_generation = $2, parse_stage = $3,
			failure_code = NULL, failure_message = NULL, ocr_status = NULL, ocr_pages = NULL, ocr_pages_done = 0,
			pages_rendered = 0, updated_at = now(),
			parse_ms = CASE WHEN parse_generation = $2 THEN parse_ms ELSE 0 END
			WHERE id = $1 AND status NOT IN ('scanning', 'quarantined') AND (parse_generation IS NULL OR parse_generation < $2
				OR (parse_generation = $2 AND status <> 'done'))`, id, gen, StageReading)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNothingToParse
		}
		if _, err := tx.Exec(ctx, `DELETE FROM pages WHERE document_id = $1 AND generation <> $2`, id, gen); err != nil {
			return err
		}
		var committed int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM pages WHERE document_id = $1 AND generation = $2`, id, gen).Scan(&committed); err != nil {
			return err
		}
		firstPage = committed + 1
		if committed > 0 {
			if _, err := tx.Exec(ctx, `UPDATE documents SET pages_done = $2 WHERE id = $1`, id, committed); err != nil {
				return err
			}
		}
		return appendEvent(ctx, tx, id, events.ParseStartedData{Attempt: attempt, ResumeAtPage: firstPage})
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNothingToParse) {
		return nil, 0, err
	}
	if err != nil {
		return nil, 0, fmt.Errorf("error starting parse: %w", err)
	}
	return doc, firstPage, nil
}

// SetPageCount records the page count once the parser knows it, with the
// first progress event.
func SetPageCount(ctx context.Context, pool pg.TxDB, id uuid.UUID, gen int64, n, pagesDone int) (err error) {
	ctx, span := tracing.Start(ctx, "documents.SetPageCount", attribute.String("folio.document.id", id.String()), attribute.Int64("folio.parse.generation", gen))
	defer tracing.End(span, &err)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE documents SET page_count = $3, parse_stage = $4, updated_at = now()
			WHERE id = $1 AND parse_generation = $2`, id, gen, n, StageExtracting)
		if err != nil {
			return fmt.Errorf("error setting page count: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return appendEvent(ctx, tx, id, progress(StageExtracting, pagesDone, n))
	})
}

func progress(stage string, done, total int) events.ParseProgressData {
	return events.ParseProgressData{Stage: stage, PagesDone: done, PagesTotal: total}
}

// SavePages upserts pages of generation gen and sets pages_done, in one
// transaction, with a progress event when announce is set (the caller
// throttles). A page written by a newer generation is never overwritten.
func SavePages(ctx context.Context, pool pg.TxDB, id uuid.UUID, gen int64, pages []PageRow, pagesDone int, announce bool) (err error) {
	if len(pages) == 0 {
		return nil
	}
	ctx, span := tracing.Start(ctx, "documents.SavePages", attribute.String("folio.document.id", id.String()),
		attribute.Int64("folio.parse.generation", gen), attribute.Int("folio.pages", len(pages)), attribute.Int("folio.pages_done", pagesDone))
	defer tracing.End(span, &err)
	nums := make([]int32, len(pages))
	widths := make([]float32, len(pages))
	heights := make([]float32, len(pages))
	rots := make([]int32, len(pages))
	texts := make([]string, len(pages))
	sources := make([]string, len(pages))
	for i, p := range pages {
		nums[i], widths[i], heights[i], rots[i], texts[i] = int32(p.Number), float32(p.Width), float32(p.Height), int32(p.Rotation), p.Text
		sources[i] = cmp.Or(p.Source, SourceText)
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO pages (document_id, page_number, generation, width, height, rotation, text, source)
			SELECT $1, n, $2, w, h, r, t, s FROM unnest($3::int[], $4::real[], $5::real[], $6::int[], $7::text[], $8::text[]) AS u(n, w, h, r, t, s)
			ON CONFLICT (document_id, page_number) DO UPDATE
			SET generation = EXCLUDED.generation, width = EXCLUDED.width, height = EXCLUDED.height,
				rotation = EXCLUDED.rotation, text = EXCLUDED.text, source = EXCLUDED.source,
				ocr_confidence = NULL, ocr_failure = NULL
			WHERE pages.generation <= EXCLUDED.generation`,
			id, gen, nums, widths, heights, rots, texts, sources)
		if err != nil {
			return fmt.Errorf("error saving pages: %w", err)
		}
		var total *int
		err = tx.QueryRow(ctx, `UPDATE documents SET pages_done = $3, updated_at = now()
			WHERE id = $1 AND parse_generation = $2 RETURNING page_count`, id, gen, pagesDone).Scan(&total)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // a newer generation took over, or the document is gone
		}
		if err != nil {
			return fmt.Errorf("error saving progress: %w", err)
		}
		if announce && total != nil {
			return appendEvent(ctx, tx, id, progress(StageExtracting, pagesDone, *total))
		}
		return nil
	})
}

// EnqueueOCR inserts a document's OCR job in the transaction that ends its
// parse.
type EnqueueOCR func(ctx context.Context, tx pgx.Tx, id uuid.UUID, gen int64) error

// FinishParse marks generation gen's parse done with its summary and
// outline, and announces it. Pages stored as needing OCR get it in the
// same transaction: enqueueOCR queues the job (nil: this worker has no
// OCR engine, and the document's OCR is "unavailable"). It reports false
// when a newer generation has taken over.
func FinishParse(ctx context.Context, pool pg.TxDB, id uuid.UUID, gen int64, pageCount int, summary Summary,
	outline []parsed.OutlineItem, enqueueOCR EnqueueOCR) (_ bool, err error) {
	ctx, span := tracing.Start(ctx, "documents.FinishParse", attribute.String("folio.document.id", id.String()), attribute.Int64("folio.parse.generation", gen))
	defer tracing.End(span, &err)
	s, err := json.Marshal(summary)
	if err != nil {
		return false, err
	}
	o, err := json.Marshal(outline)
	if err != nil {
		return false, err
	}
	current := false
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE documents SET status = 'done', page_count = $3, pages_done = $3, summary = $4,
			outline = $5, parse_stage = NULL, failure_code = NULL, failure_message = NULL, updated_at = now()
			WHERE id = $1 AND parse_generation = $2 AND status <> 'quarantined'`, id, gen, pageCount, s, o)
		if err != nil {
			return fmt.Errorf("error finishing parse: %w", err)
		}
		if current = tag.RowsAffected() == 1; !current {
			return nil
		}
		if err := appendEvent(ctx, tx, id, progress(StageDone, pageCount, pageCount)); err != nil {
			return err
		}
		done := events.DocumentDoneData{PageCount: pageCount, Summary: s}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM pages WHERE document_id = $1 AND generation = $2 AND source = $3`,
			id, gen, SourceNeedsOCR).Scan(&done.OCRPages); err != nil {
			return fmt.Errorf("error counting pages for OCR: %w", err)
		}
		if done.OCRPages > 0 {
			done.OCR = OCRUnavailable
			if enqueueOCR != nil {
				if err := enqueueOCR(ctx, tx, id, gen); err != nil {
					return fmt.Errorf("error queueing OCR: %w", err)
				}
				done.OCR = OCRPending
			}
			if _, err := tx.Exec(ctx, `UPDATE documents SET ocr_status = $2, ocr_pages = $3, ocr_pages_done = 0 WHERE id = $1`,
				id, done.OCR, done.OCRPages); err != nil {
				return fmt.Errorf("error recording OCR: %w", err)
			}
		}
		return appendEvent(ctx, tx, id, done)
	})
	return current, err
}

// FailParse marks generation gen's parse failed with a reason, and
// announces it.
func FailParse(ctx context.Context, pool pg.TxDB, id uuid.UUID, gen int64, code, message string) (err error) {
	ctx, span := tracing.Start(ctx, "documents.FailParse", attribute.String("folio.document.id", id.String()), attribute.Int64("folio.parse.generation", gen))
	defer tracing.End(span, &err)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE documents SET status = 'failed', failure_code = $3, failure_message = $4,
			parse_stage = NULL, updated_at = now() WHERE id = $1 AND parse_generation = $2 AND status <> 'quarantined'`, id, gen, code, message)
		if err != nil {
			return fmt.Errorf("error failing parse: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return appendEvent(ctx, tx, id, events.DocumentFailedData{Code: code, Message: message})
	})
}

// RequeueParse puts generation gen's document back to queued after an
// attempt that River will retry (why: events.RequeuedRetry) or that a
// draining worker handed back (events.RequeuedDraining), and announces it.
func RequeueParse(ctx context.Context, pool pg.TxDB, id uuid.UUID, gen int64, why string, attempt int) (err error) {
	ctx, span := tracing.Start(ctx, "documents.RequeueParse", attribute.String("folio.document.id", id.String()), attribute.Int64("folio.parse.generation", gen))
	defer tracing.End(span, &err)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return requeue(ctx, tx, id, gen, events.ParseRequeuedData{Why: why, Attempt: attempt})
	})
}

// ParseSpent is the time the runs of generation gen's parse used so far
// (a parse cut into slices spends one budget across them).
func ParseSpent(ctx context.Context, db pg.DBTX, id uuid.UUID, gen int64) (time.Duration, error) {
	var ms int64
	err := db.QueryRow(ctx, `SELECT parse_ms FROM documents WHERE id = $1 AND parse_generation = $2`, id, gen).Scan(&ms)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("error reading the parse's time: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// YieldParse puts generation gen's parse back to queued after a slice
// that gave its slot to another owner's work (its job is snoozed: it runs
// again behind that work, resuming where this run stopped), adds what the
// run used to the parse's time, and announces it (parse.requeued,
// fair_share).
func YieldParse(ctx context.Context, pool pg.TxDB, id uuid.UUID, gen int64, spent time.Duration) (err error) {
	ctx, span := tracing.Start(ctx, "documents.YieldParse", attribute.String("folio.document.id", id.String()), attribute.Int64("folio.parse.generation", gen))
	defer tracing.End(span, &err)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE documents SET parse_ms = parse_ms + $3 WHERE id = $1 AND parse_generation = $2`,
			id, gen, spent.Milliseconds()); err != nil {
			return fmt.Errorf("error recording the parse's time: %w", err)
		}
		return requeue(ctx, tx, id, gen, events.ParseRequeuedData{Why: events.RequeuedFairShare})
	})
}
