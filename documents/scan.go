package documents

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"

	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/internal/tracing"
	"github.com/foliohq/folio/jobs/jobargs"
)

// Scan results (ScanState.Result).
const (
	ScanClean    = "clean"
	ScanTooLarge = "too_large"
	ScanFound    = "found"
	ScanReleased = "released"
)

// ScanOutcome is what one scan of a document found.
type ScanOutcome struct {
	// Result is ScanClean, ScanTooLarge (passed by the deployment's
	// choice) or ScanFound.
	Result string
	// Found names what the scanner found (ScanFound).
	Found string
	// Signatures is the scanner's signature database version.
	Signatures string
}

// PassScan records a scan that let the document through. A document
// scanning (its upload's scan), or quarantined and rescanned clean at an
// operator's request (actor), goes on to its parse: queued, its parse job
// inserted, scan.done, in one transaction; it reports true. Any other
// document (a background rescan of one parsed already) only records the
// scan. ErrNotFound: it is gone.
func PassScan(ctx context.Context, pool pg.TxDB, q Queue, id uuid.UUID, out ScanOutcome, actor string) (queued bool, err error) {
	ctx, span := tracing.Start(ctx, "documents.PassScan", attribute.String("folio.document.id", id.String()))
	defer tracing.End(span, &err)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		doc, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM documents WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE documents SET scan_result = $2, scan_signature = NULL, scan_signatures = NULLIF($3, ''),
			scanned_at = now() WHERE id = $1`, id, out.Result, out.Signatures); err != nil {
			return fmt.Errorf("error recording a scan: %w", err)
		}
		if doc.Status != StatusScanning && doc.Status != StatusQuarantined {
			return nil
		}
		if doc.Status == StatusQuarantined {
			if err := audit(ctx, tx, doc, "released", actor, "", "rescanned clean"); err != nil {
				return err
			}
		}
		queued = true
		return queueParse(ctx, tx, q, doc, events.ScanDoneData{Result: out.Result, Signatures: out.Signatures})
	})
	return queued, err
}

// queueParse sets the document queued, inserts its parse job and appends
// ev, in tx.
func queueParse(ctx context.Context, tx pgx.Tx, q Queue, doc *Document, ev events.Payload) error {
	if _, err := tx.Exec(ctx, `UPDATE documents SET status = 'queued', failure_code = NULL, failure_message = NULL,
		pages_done = 0, parse_stage = NULL, updated_at = now() WHERE id = $1`, doc.ID); err != nil {
		return fmt.Errorf("error queueing a parse: %w", err)
	}
	opts, err := jobargs.FairOpts(ctx, tx, jobargs.QueueParse, doc.Owner, &river.InsertOpts{Metadata: tracing.Inject(ctx)})
	if err != nil {
		return err
	}
	if _, err := q.InsertTx(ctx, tx, jobargs.ParseArgs{DocumentID: doc.ID, Owner: doc.Owner}, opts); err != nil {
		return fmt.Errorf("error enqueueing parse: %w", err)
	}
	return appendEvent(ctx, tx, doc.ID, ev)
}

// Quarantine records a scan that found out.Found: the document becomes
// quarantined, its jobs not finished (parse, OCR, page images) are
// cancelled, document.quarantined is appended and an audit line written,
// in one transaction. rescan says it was found by a rescan. A document
// quarantined already only records the scan. ErrNotFound: it is gone.
func Quarantine(ctx context.Context, pool pg.TxDB, q Queue, id uuid.UUID, out ScanOutcome, rescan bool) (err error) {
	ctx, span := tracing.Start(ctx, "documents.Quarantine", attribute.String("folio.document.id", id.String()))
	defer tracing.End(span, &err)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		doc, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM documents WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE documents SET scan_result = 'found', scan_signature = $2, scan_signatures = NULLIF($3, ''),
			scanned_at = now() WHERE id = $1`, id, out.Found, out.Signatures); err != nil {
			return fmt.Errorf("error recording a scan: %w", err)
		}
		if doc.Status == StatusQuarantined {
			return nil
		}
		if _, err := cancelJobs(ctx, tx, q, id, jobargs.KindParse, jobargs.KindOCR, jobargs.KindRender); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE documents SET status = 'quarantined', parse_stage = NULL,
			ocr_status = CASE WHEN ocr_status IN ('pending', 'running') THEN NULL ELSE ocr_status END, updated_at = now()
			WHERE id = $1`, id); err != nil {
			return fmt.Errorf("error quarantining: %w", err)
		}
		if err := audit(ctx, tx, doc, "quarantined", "scanner", out.Found, ""); err != nil {
			return err
		}
		return appendEvent(ctx, tx, id, events.DocumentQuarantinedData{Signature: out.Found, Signatures: out.Signatures, Rescan: rescan})
	})
}

// cancelJobs cancels the document's jobs of kinds that have not finished
// and returns how many there were.
func cancelJobs(ctx context.Context, tx pgx.Tx, q Queue, id uuid.UUID, kinds ...string) (int, error) {
	active, err := q.JobListTx(ctx, tx, river.NewJobListParams().
		Kinds(kinds...).
		States(jobargs.ActiveParseStates...).
		Where("args->>'document_id' = @document_id", river.NamedArgs{"document_id": id.String()}).
		First(10_000))
	if err != nil {
		return 0, fmt.Errorf("error listing the document's jobs: %w", err)
	}
	for _, job := range active.Jobs {
		if _, err := q.JobCancelTx(ctx, tx, job.ID); err != nil {
			return 0, fmt.Errorf("error cancelling job %d: %w", job.ID, err)
		}
	}
	return len(active.Jobs), nil
}

// audit writes a line of scan_audit.
func audit(ctx context.Context, tx pg.DBTX, doc *Document, action, actor, signature, note string) error {
	_, err := tx.Exec(ctx, `INSERT INTO scan_audit (document_id, owner, action, actor, signature, note)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), NULLIF($6, ''))`, doc.ID, doc.Owner, action, actor, signature, note)
	if err != nil {
		return fmt.Errorf("error writing the audit line: %w", err)
	}
	return nil
}

// FailScan ends a document still scanning as failed with a reason
// (document.failed): its scan could not read it, attempt after attempt.
// A document no longer scanning is left alone.
func FailScan(ctx context.Context, pool pg.TxDB, id uuid.UUID, code, message string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE documents SET status = 'failed', failure_code = $2, failure_message = $3,
			updated_at = now() WHERE id = $1 AND status = 'scanning'`, id, code, message)
		if err != nil {
			return fmt.Errorf("error failing a scan: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return appendEvent(ctx, tx, id, events.DocumentFailedData{Code: code, Message: message})
	})
}

// ErrNotQuarantined is the document an operator would release (or delete
// as quarantined) not being quarantined.
var ErrNotQuarantined = errors.New("the document is not quarantined")

// Release lets a quarantined document through at an operator's word
// (actor; note says why): it is queued for its parse (document.queued,
// released), its scan result becomes released, and an audit line is
// written. ErrNotFound, ErrNotQuarantined.
func Release(ctx context.Context, pool pg.TxDB, q Queue, id uuid.UUID, actor, note string) (_ *Document, err error) {
	ctx, span := tracing.Start(ctx, "documents.Release", attribute.String("folio.document.id", id.String()))
	defer tracing.End(span, &err)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		doc, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM documents WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if doc.Status != StatusQuarantined {
			return ErrNotQuarantined
		}
		if _, err := tx.Exec(ctx, `UPDATE documents SET scan_result = 'released' WHERE id = $1`, id); err != nil {
			return fmt.Errorf("error releasing: %w", err)
		}
		if err := audit(ctx, tx, doc, "released", actor, doc.scanFound(), note); err != nil {
			return err
		}
		return queueParse(ctx, tx, q, doc, events.DocumentQueuedData{Released: true})
	})
	if err != nil {
		return nil, err
	}
	return Original(ctx, pool, id)
}

func (d *Document) scanFound() string {
	if d.Scan == nil {
		return ""
	}
	return d.Scan.Found
}

// QueueRescan queues a scan of any document at an operator's request
// (actor), with an audit line: found, it is quarantined; clean, a
// quarantined one goes on to its parse. A document scanning is being
// scanned already (ErrParseRunning). ErrNotFound.
func QueueRescan(ctx context.Context, pool pg.TxDB, q Queue, id uuid.UUID, actor string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		doc, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM documents WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if doc.Status == StatusScanning {
			return &ParseRunningError{Status: doc.Status}
		}
		res, err := q.InsertTx(ctx, tx, jobargs.ScanArgs{DocumentID: id, Owner: doc.Owner, Rescan: true, Actor: actor}, nil)
		if err != nil {
			return fmt.Errorf("error enqueueing a rescan: %w", err)
		}
		if res.UniqueSkippedAsDuplicate {
			return &ParseRunningError{Status: StatusScanning} // a scan of it waits already
		}
		return audit(ctx, tx, doc, "rescan", actor, "", "")
	})
}

// DeleteQuarantined deletes a quarantined document at an operator's
// request: Delete's work and an audit line, in one transaction.
// ErrNotFound, ErrNotQuarantined.
func DeleteQuarantined(ctx context.Context, pool pg.TxDB, q Queue, id uuid.UUID, actor string) (*Document, error) {
	var doc *Document
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if doc, err = scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM documents WHERE id = $1 FOR UPDATE`, id)); err != nil {
			return err
		}
		if doc.Status != StatusQuarantined {
			return ErrNotQuarantined
		}
		if err := audit(ctx, tx, doc, "deleted", actor, doc.scanFound(), ""); err != nil {
			return err
		}
		return deleteTx(ctx, tx, q, doc)
	})
	if err != nil {
		return nil, err
	}
	return doc, nil
}

// Owned is a document as operators see it: the API's form and its owner
// (which the API never shows).
type Owned struct {
	*Document
	Owner string `json:"owner"`
}

// Quarantined lists every owner's quarantined documents, oldest first,
// up to limit.
func Quarantined(ctx context.Context, db pg.DBTX, limit int) ([]Owned, error) {
	docs, err := listWhere(ctx, db, `status = 'quarantined' ORDER BY updated_at, id LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Owned, len(docs))
	for i, d := range docs {
		out[i] = Owned{Document: d, Owner: d.Owner}
	}
	return out, nil
}

// RescanCandidates returns up to limit documents created since since with
// an id after after (in id order), whose last scan was not with
// signatures: what a background rescan reads next. Documents scanning or
// quarantined are not among them (their own scan, or an operator, decides).
func RescanCandidates(ctx context.Context, db pg.DBTX, signatures string, since time.Time, after uuid.UUID, limit int) ([]*Document, error) {
	return listWhere(ctx, db, `created_at >= $2 AND id > $3 AND status NOT IN ('scanning', 'quarantined')
		AND scan_signatures IS DISTINCT FROM $4 ORDER BY id LIMIT $1`, limit, since, after, signatures)
}

func listWhere(ctx context.Context, db pg.DBTX, where string, args ...any) ([]*Document, error) {
	rows, err := db.Query(ctx, `SELECT `+columns+` FROM documents WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("error listing documents: %w", err)
	}
	docs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Document, error) { return scan(row) })
	if err != nil {
		return nil, fmt.Errorf("error listing documents: %w", err)
	}
	return docs, nil
}

// AuditLine is one line of the scan audit.
type AuditLine struct {
	Document  uuid.UUID `json:"document_id"`
	Owner     string    `json:"owner"`
	Action    string    `json:"action"`
	Actor     string    `json:"actor"`
	Signature string    `json:"signature,omitempty"`
	Note      string    `json:"note,omitempty"`
	At        time.Time `json:"at"`
}

// Audit returns the scan audit of a document, oldest first.
func Audit(ctx context.Context, db pg.DBTX, id uuid.UUID) ([]AuditLine, error) {
	rows, err := db.Query(ctx, `SELECT document_id, owner, action, actor, coalesce(signature, ''), coalesce(note, ''), at
		FROM scan_audit WHERE document_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("error reading the audit: %w", err)
	}
	lines, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditLine, error) {
		var l AuditLine
		return l, row.Scan(&l.Document, &l.Owner, &l.Action, &l.Actor, &l.Signature, &l.Note, &l.At)
	})
	if err != nil {
		return nil, fmt.Errorf("error reading the audit: %w", err)
	}
	return lines, nil
}

// NoteSignatures records a signature database version a scanner
// reported, and reports whether it is new: no scanner reported it before.
func NoteSignatures(ctx context.Context, db pg.DBTX, version, engine string) (bool, error) {
	tag, err := db.Exec(ctx, `INSERT INTO scan_signatures (version, engine) VALUES ($1, $2) ON CONFLICT DO NOTHING`, version, engine)
	if err != nil {
		return false, fmt.Errorf("error recording signatures %s: %w", version, err)
	}
	return tag.RowsAffected() == 1, nil
}
