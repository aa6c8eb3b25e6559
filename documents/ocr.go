package documents

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"

	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/internal/tracing"
)

// A document's OCR status (documents.ocr_status).
const (
	OCRPending     = "pending"
	OCRRunning     = "running"
	OCRDone        = "done"
	OCRUnavailable = "unavailable"
)

// ErrNoOCR means the OCR job has no work: the document is gone, was
// reparsed since (its generation is not gen), or its OCR is done.
var ErrNoOCR = errors.New("no OCR to do for this generation")

// OCRResult is one page as OCR read it, or why it could not.
type OCRResult struct {
	Number     int
	Text       string
	Confidence float64
	Failure    string // a reason code; empty when read
	// Rotation is the clockwise quarter turn the page was read with,
	// RotationConfidence the orientation confidence (nil: not asked), Skew
	// the degrees its lines were straightened by (PageRow).
	Rotation           int
	RotationConfidence *float64
	Skew               float64
}

// StaleImage is a page image drawn with another turn than the one OCR
// found for its page: its row is gone, its object is to be deleted, and
// the page drawn again (a thumbnail at once; other widths on demand).
type StaleImage struct {
	Page, Width int
	S3Key       string // "" for a failure row
}

// StartOCR marks generation gen's OCR running and returns the S3 key of
// the original, the languages chosen for the document ("" for the
// worker's default) and the pages still to read (those stored as needing
// OCR that no earlier attempt read or failed), announcing where it
// stands. ErrNoOCR: nothing to do.
func StartOCR(ctx context.Context, pool pg.TxDB, id uuid.UUID, gen int64) (key, languages string, pages []int, err error) {
	ctx, span := tracing.Start(ctx, "documents.StartOCR", attribute.String("folio.document.id", id.String()), attribute.Int64("folio.parse.generation", gen))
	defer tracing.End(span, &err)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var total, done int
		err := tx.QueryRow(ctx, `UPDATE documents SET ocr_status = $3, updated_at = now()
			WHERE id = $1 AND parse_generation = $2 AND status = 'done' AND ocr_status IN ($3, $4)
			RETURNING s3_key, coalesce(ocr_pages, 0), ocr_pages_done, coalesce(ocr_languages, '')`, id, gen, OCRRunning, OCRPending).Scan(&key, &total, &done, &languages)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoOCR
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT page_number FROM pages WHERE document_id = $1 AND generation = $2
			AND source = $3 AND ocr_failure IS NULL ORDER BY page_number`, id, gen, SourceNeedsOCR)
		if err != nil {
			return err
		}
		if pages, err = pgx.CollectRows(rows, pgx.RowTo[int]); err != nil {
			return err
		}
		return appendEvent(ctx, tx, id, events.OCRProgressData{PagesDone: done, PagesTotal: total})
	})
	if errors.Is(err, ErrNoOCR) {
		return "", "", nil, err
	}
	if err != nil {
		return "", "", nil, fmt.Errorf("error starting OCR: %w", err)
	}
	return key, languages, pages, nil
}

// SaveOCRPages stores pages read by OCR (their text replaces the page's,
// its source becomes ocr, with the turn and skew it was read with) or
// failed (the reason is kept, the page stays needs_ocr), counts them
// done, and announces progress when announce is set. Pages of another
// generation are left alone. The images of a page read with another turn
// than they were drawn with are forgotten and returned: the caller
// deletes their objects and has the thumbnail drawn again.
func SaveOCRPages(ctx context.Context, pool pg.TxDB, id uuid.UUID, gen int64, results []OCRResult, announce bool) (stale []StaleImage, err error) {
	if len(results) == 0 {
		return nil, nil
	}
	ctx, span := tracing.Start(ctx, "documents.SaveOCRPages", attribute.String("folio.document.id", id.String()),
		attribute.Int64("folio.parse.generation", gen), attribute.Int("folio.pages", len(results)))
	defer tracing.End(span, &err)
	nums := make([]int32, len(results))
	texts := make([]string, len(results))
	confs := make([]*float32, len(results))
	fails := make([]*string, len(results))
	turns := make([]*int32, len(results))
	turnConfs := make([]*float32, len(results))
	skews := make([]*float32, len(results))
	for i, r := range results {
		nums[i], texts[i] = int32(r.Number), r.Text
		if r.Failure != "" {
			fails[i] = &results[i].Failure
			continue
		}
		c, turn, skew := float32(r.Confidence), int32(r.Rotation), float32(r.Skew)
		confs[i], turns[i], skews[i] = &c, &turn, &skew
		if r.RotationConfidence != nil {
			tc := float32(*r.RotationConfidence)
			turnConfs[i] = &tc
		}
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		stale = stale[:0]
		tag, err := tx.Exec(ctx, `UPDATE pages p SET
				text = CASE WHEN u.f IS NULL THEN u.t ELSE p.text END,
				source = CASE WHEN u.f IS NULL THEN $3 ELSE p.source END,
				ocr_confidence = u.c, ocr_failure = u.f, ocr_rotation = u.r, ocr_rotation_confidence = u.rc, ocr_skew = u.s
			FROM unnest($4::int[], $5::text[], $6::real[], $7::text[], $8::smallint[], $9::real[], $10::real[]) AS u(n, t, c, f, r, rc, s)
			WHERE p.document_id = $1 AND p.generation = $2 AND p.page_number = u.n AND p.source = 'needs_ocr'`,
			id, gen, SourceOCR, nums, texts, confs, fails, turns, turnConfs, skews)
		if err != nil {
			return fmt.Errorf("error saving OCR pages: %w", err)
		}
		rows, err := tx.Query(ctx, `DELETE FROM page_images i USING unnest($2::int[], $3::smallint[]) AS u(n, r)
			WHERE i.document_id = $1 AND i.page_number = u.n AND u.r IS NOT NULL AND i.turn <> u.r
				AND EXISTS (SELECT 1 FROM documents d WHERE d.id = $1 AND d.parse_generation = $4)
			RETURNING i.page_number, i.width, coalesce(i.s3_key, '')`, id, nums, turns, gen)
		if err != nil {
			return fmt.Errorf("error forgetting page images drawn with another turn: %w", err)
		}
		for rows.Next() {
			var s StaleImage
			if err := rows.Scan(&s.Page, &s.Width, &s.S3Key); err != nil {
				rows.Close()
				return err
			}
			stale = append(stale, s)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("error forgetting page images drawn with another turn: %w", err)
		}
		var done, total int
		err = tx.QueryRow(ctx, `UPDATE documents SET ocr_pages_done = ocr_pages_done + $3, updated_at = now()
			WHERE id = $1 AND parse_generation = $2 RETURNING ocr_pages_done, coalesce(ocr_pages, 0)`,
			id, gen, tag.RowsAffected()).Scan(&done, &total)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // reparsed or gone
		}
		if err != nil {
			return fmt.Errorf("error saving OCR progress: %w", err)
		}
		if announce {
			return appendEvent(ctx, tx, id, events.OCRProgressData{PagesDone: done, PagesTotal: total})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return stale, nil
}

// FinishOCR marks generation gen's OCR done (running, or pending when its
// last attempt gave up) and announces what it read.
func FinishOCR(ctx context.Context, pool pg.TxDB, id uuid.UUID, gen int64) (err error) {
	ctx, span := tracing.Start(ctx, "documents.FinishOCR", attribute.String("folio.document.id", id.String()), attribute.Int64("folio.parse.generation", gen))
	defer tracing.End(span, &err)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return finishOCR(ctx, tx, id, gen) })
}

func finishOCR(ctx context.Context, tx pgx.Tx, id uuid.UUID, gen int64) error {
	tag, err := tx.Exec(ctx, `UPDATE documents SET ocr_status = $3, updated_at = now()
		WHERE id = $1 AND parse_generation = $2 AND ocr_status IN ($4, $5)`, id, gen, OCRDone, OCRRunning, OCRPending)
	if err != nil {
		return fmt.Errorf("error finishing OCR: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	var d events.OCRDoneData
	var conf *float64
	if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE source = 'ocr'), count(*) FILTER (WHERE ocr_failure IS NOT NULL),
			avg(ocr_confidence) FILTER (WHERE source = 'ocr')
		FROM pages WHERE document_id = $1 AND generation = $2`, id, gen).Scan(&d.PagesRead, &d.PagesFailed, &conf); err != nil {
		return fmt.Errorf("error summing up OCR: %w", err)
	}
	if conf != nil {
		d.Confidence = float64(int(*conf*10+0.5)) / 10
	}
	return appendEvent(ctx, tx, id, d)
}

// RequeueOCR puts a running OCR back to pending: its job was handed back
// by a draining worker, will be retried, or was rescued from a lost
// worker.
func RequeueOCR(ctx context.Context, db pg.DBTX, id uuid.UUID, gen int64) error {
	_, err := db.Exec(ctx, `UPDATE documents SET ocr_status = $3, updated_at = now()
		WHERE id = $1 AND parse_generation = $2 AND ocr_status = $4`, id, gen, OCRPending, OCRRunning)
	if err != nil {
		return fmt.Errorf("error requeueing OCR: %w", err)
	}
	return nil
}

// FailOCR ends generation gen's OCR after its last attempt: the pages it
// did not read keep needs_ocr with the reason code, and ocr.done says so.
func FailOCR(ctx context.Context, pool pg.TxDB, id uuid.UUID, gen int64, code string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return failOCR(ctx, tx, id, gen, code) })
}

func failOCR(ctx context.Context, tx pgx.Tx, id uuid.UUID, gen int64, code string) error {
	_, err := tx.Exec(ctx, `UPDATE pages SET ocr_failure = $3
		WHERE document_id = $1 AND generation = $2 AND source = 'needs_ocr' AND ocr_failure IS NULL`, id, gen, code)
	if err != nil {
		return fmt.Errorf("error failing OCR pages: %w", err)
	}
	return finishOCR(ctx, tx, id, gen)
}

// FailCanceledOCR ends the OCR of generation gen that an operator
// canceled, in the caller's transaction: the pages not read yet get
// ocr_failure canceled and ocr.done says so (a reparse reads them again).
// An OCR not pending or running is left alone.
func FailCanceledOCR(ctx context.Context, tx pgx.Tx, id uuid.UUID, gen int64) error {
	var status *string
	err := tx.QueryRow(ctx, `SELECT ocr_status FROM documents WHERE id = $1 AND parse_generation = $2 FOR UPDATE`, id, gen).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (status == nil || (*status != OCRPending && *status != OCRRunning))) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("error reading OCR status: %w", err)
	}
	return failOCR(ctx, tx, id, gen, FailureCanceled)
}

// YieldOCR puts generation gen's running OCR back to pending after a
// slice that gave its slot to another owner's OCR (fair share), with an
// ocr.progress of the pages read so far. Its job is snoozed: the pages
// left are read when its turn comes again.
func YieldOCR(ctx context.Context, pool pg.TxDB, id uuid.UUID, gen int64) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := RequeueOCR(ctx, tx, id, gen); err != nil {
			return err
		}
		var done, total int
		err := tx.QueryRow(ctx, `SELECT ocr_pages_done, coalesce(ocr_pages, 0) FROM documents WHERE id = $1 AND parse_generation = $2`,
			id, gen).Scan(&done, &total)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("error reading OCR progress: %w", err)
		}
		return appendEvent(ctx, tx, id, events.OCRProgressData{PagesDone: done, PagesTotal: total})
	})
}
