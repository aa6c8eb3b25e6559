package documents

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/internal/tracing"
	"github.com/foliohq/folio/jobs/jobargs"
)

// Queue is what the lifecycle needs of River: enqueue, find and cancel
// jobs inside its own transactions. An insert-only *river.Client does.
type Queue interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobListTx(ctx context.Context, tx pgx.Tx, params *river.JobListParams) (*river.JobListResult, error)
	JobCancelTx(ctx context.Context, tx pgx.Tx, jobID int64) (*rivertype.JobRow, error)
}

var _ Queue = (*river.Client[pgx.Tx])(nil)

// appendEvent numbers the document's next event (the row's lock orders the
// writers of one document, so seq is gap-free) and appends it. The row must
// still exist: for document.deleted, append before deleting it.
func appendEvent(ctx context.Context, tx pg.DBTX, id uuid.UUID, data events.Payload) error {
	var (
		seq   int
		owner string
	)
	err := tx.QueryRow(ctx, `UPDATE documents SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq, owner`,
		id).Scan(&seq, &owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("error numbering event: %w", err)
	}
	_, err = events.Append(ctx, tx, id, owner, seq, data)
	if err == nil {
		trace.SpanFromContext(ctx).AddEvent(data.EventType(), trace.WithAttributes(attribute.Int("folio.event.seq", seq)))
	}
	return err
}

// Intake is how a new document is taken in: the owner's quota, and
// whether it is scanned for malware before its parse.
type Intake struct {
	QuotaBytes int64
	// Scan: the document is scanning, and its scan job is queued instead
	// of its parse (the scan queues the parse when it passes).
	Scan bool
}

// Create records an uploaded document (its bytes already stored at
// doc.S3Key) and enqueues its scan or its parse, in one transaction: either
// both exist or neither does. Under the owner's lock it re-checks the quota
// (ErrQuotaExceeded), so that concurrent uploads cannot overrun it
// together, and sets doc.DuplicateOf to the owner's oldest document with
// the same bytes. doc.Status becomes scanning or queued; its timestamps
// are set.
func Create(ctx context.Context, pool pg.TxDB, q Queue, doc *Document, in Intake) (err error) {
	ctx, span := tracing.Start(ctx, "documents.Create", attribute.String("folio.document.id", doc.ID.String()))
	defer tracing.End(span, &err)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return CreateTx(ctx, tx, q, doc, in) })
	var bad *AppDataError
	if err != nil && !errors.Is(err, ErrQuotaExceeded) && !errors.As(err, &bad) {
		return fmt.Errorf("error creating document: %w", err)
	}
	return err
}

// CreateTx is Create inside the caller's transaction (a resumable upload
// marks itself complete in the same one). ErrQuotaExceeded as Create; an
// *AppDataError for application data that breaks a rule (the upload
// paths check it before storing anything; this is the last guard).
func CreateTx(ctx context.Context, tx pgx.Tx, q Queue, doc *Document, in Intake) error {
	doc.Status = StatusQueued
	if in.Scan {
		doc.Status = StatusScanning
	}
	if err := lockOwner(ctx, tx, doc.Owner); err != nil {
		return err
	}
	usage, err := UsageBytes(ctx, tx, doc.Owner)
	if err != nil {
		return err
	}
	if usage+doc.SizeBytes > in.QuotaBytes {
		return ErrQuotaExceeded
	}
	if doc.DuplicateOf, err = FirstWithSHA256(ctx, tx, doc.Owner, doc.SHA256, doc.ID); err != nil {
		return err
	}
	if err := doc.Check(); err != nil {
		return err
	}
	if err := insert(ctx, tx, doc); err != nil {
		return err
	}
	// The scan or parse carries this trace on: its job's metadata holds
	// it; its priority comes from the owner's backlog (fair share).
	var args river.JobArgs = jobargs.ParseArgs{DocumentID: doc.ID, Owner: doc.Owner}
	queue := jobargs.QueueParse
	if in.Scan {
		args, queue = jobargs.ScanArgs{DocumentID: doc.ID, Owner: doc.Owner}, jobargs.QueueScan
	}
	opts, err := jobargs.FairOpts(ctx, tx, queue, doc.Owner, &river.InsertOpts{Metadata: tracing.Inject(ctx)})
	if err != nil {
		return err
	}
	if _, err := q.InsertTx(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("error enqueueing %s: %w", args.Kind(), err)
	}
	return appendEvent(ctx, tx, doc.ID, events.DocumentQueuedData{Filename: doc.Filename, SizeBytes: doc.SizeBytes, Scanning: in.Scan,
		ExternalID: doc.ExternalID, Metadata: doc.Metadata})
}

// Reparse enqueues the owner's document for another parse, clearing the
// previous outcome, and returns it as it is now. ErrNotFound; a
// *ParseRunningError when a parse is queued or running already.
func Reparse(ctx context.Context, pool pg.TxDB, q Queue, owner string, id uuid.UUID) (*Document, error) {
	return ReparseWith(ctx, pool, q, owner, id, ReparseOptions{})
}

// ReparseOptions are a reparse's choices.
type ReparseOptions struct {
	// OCRLanguages, unless "", replace the document's (checked by the
	// caller).
	OCRLanguages string
	// Scan: uploads are scanned (FOLIO_SCAN=clamd). A document that was
	// never scanned (its scan failed, or it came before scanning was on)
	// is scanned first: it becomes scanning, and its scan queues the parse.
	Scan bool
}

// ReparseWith is Reparse with options.
func ReparseWith(ctx context.Context, pool pg.TxDB, q Queue, owner string, id uuid.UUID, o ReparseOptions) (_ *Document, err error) {
	ctx, span := tracing.Start(ctx, "documents.Reparse", attribute.String("folio.document.id", id.String()))
	defer tracing.End(span, &err)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		doc, err := getForUpdate(ctx, tx, owner, id)
		if err != nil {
			return err
		}
		if doc.Status.Busy() {
			return &ParseRunningError{Status: doc.Status}
		}
		if doc.Status == StatusQuarantined {
			return ErrQuarantined
		}
		scanFirst := o.Scan && doc.Scan == nil
		status, queue := StatusQueued, jobargs.QueueParse
		var args river.JobArgs = jobargs.ParseArgs{DocumentID: id, Owner: owner}
		if scanFirst {
			status, queue = StatusScanning, jobargs.QueueScan
			args = jobargs.ScanArgs{DocumentID: id, Owner: owner}
		}
		if _, err := tx.Exec(ctx, `UPDATE documents SET status = $3, failure_code = NULL, failure_message = NULL,
			pages_done = 0, ocr_languages = coalesce(NULLIF($2, ''), ocr_languages), updated_at = now() WHERE id = $1`,
			id, o.OCRLanguages, status); err != nil {
			return fmt.Errorf("error requeueing document: %w", err)
		}
		opts, err := jobargs.FairOpts(ctx, tx, queue, owner, &river.InsertOpts{Metadata: tracing.Inject(ctx)})
		if err != nil {
			return err
		}
		res, err := q.InsertTx(ctx, tx, args, opts)
		if err != nil {
			return fmt.Errorf("error enqueueing parse: %w", err)
		}
		if res.UniqueSkippedAsDuplicate {
			// A job not yet finished (a worker about to mark it so).
			return &ParseRunningError{Status: StatusQueued}
		}
		return appendEvent(ctx, tx, id, events.DocumentQueuedData{Reparse: true, Scanning: scanFirst})
	})
	if err != nil {
		return nil, err
	}
	return Get(ctx, pool, owner, id)
}

// Delete removes the owner's document: it cancels its parse if one is
// queued or running (document.canceled), announces the deletion
// (document.deleted) and deletes the row and its pages, in one
// transaction. It returns the deleted document: its original at S3Key is
// the caller's to delete (the sweeper deletes it if the caller cannot).
// ErrNotFound.
func Delete(ctx context.Context, pool pg.TxDB, q Queue, owner string, id uuid.UUID) (_ *Document, err error) {
	ctx, span := tracing.Start(ctx, "documents.Delete", attribute.String("folio.document.id", id.String()))
	defer tracing.End(span, &err)
	var doc *Document
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if doc, err = getForUpdate(ctx, tx, owner, id); err != nil {
			return err
		}
		return deleteTx(ctx, tx, q, doc)
	})
	if err != nil {
		return nil, err
	}
	return doc, nil
}

// deleteTx is Delete's work on a document whose row tx has locked.
func deleteTx(ctx context.Context, tx pgx.Tx, q Queue, doc *Document) error {
	id := doc.ID
	canceled, err := cancelJobs(ctx, tx, q, id, jobargs.KindParse, jobargs.KindScan)
	if err != nil {
		return err
	}
	if canceled > 0 {
		if err := appendEvent(ctx, tx, id, events.DocumentCanceledData{}); err != nil {
			return err
		}
	}
	if err := appendEvent(ctx, tx, id, events.DocumentDeletedData{ExternalID: doc.ExternalID, Metadata: doc.Metadata}); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM documents WHERE id = $1`, id); err != nil {
		return fmt.Errorf("error deleting document: %w", err)
	}
	return nil
}

// RequeueLost puts a document back to queued, in the caller's transaction,
// when the worker running generation gen's parse died (its job was handed
// back to the queue by jobs.Rescue). It announces parse.requeued
// (worker_lost); a document no longer parsing that generation is left
// alone.
func RequeueLost(ctx context.Context, tx pgx.Tx, id uuid.UUID, gen int64) error {
	return requeue(ctx, tx, id, gen, events.ParseRequeuedData{Why: events.RequeuedWorkerLost})
}

// requeue sets a parsing document of generation gen back to queued and
// announces why.
func requeue(ctx context.Context, tx pgx.Tx, id uuid.UUID, gen int64, why events.ParseRequeuedData) error {
	tag, err := tx.Exec(ctx, `UPDATE documents SET status = 'queued', parse_stage = NULL, updated_at = now()
		WHERE id = $1 AND parse_generation = $2 AND status = 'parsing'`, id, gen)
	if err != nil {
		return fmt.Errorf("error requeueing parse: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	return appendEvent(ctx, tx, id, why)
}

// CanceledJob is a job an operator canceled (folio jobs cancel, River UI):
// its document, its generation (the parse job's id for a parse; the
// parse's generation for an OCR) and when River finalized it.
type CanceledJob struct {
	Document    uuid.UUID
	Generation  int64
	FinalizedAt time.Time
}

// FailureCanceled is the failure code of a document whose parse an
// operator canceled.
const FailureCanceled = "canceled"

// canceledMessage is what the owner reads of a parse an operator canceled.
const canceledMessage = "The parse was canceled by an operator; parse it again to try once more."

// FailCanceledParses ends the documents whose parse an operator canceled,
// in the caller's transaction: one still waiting for that parse (queued
// since before it was canceled) or running it (parsing that generation)
// becomes failed with the reason canceled, which its owner can act on
// (reparse), and announces it (document.failed). A document no longer
// waiting for that job (reparsed, done, deleted) is left alone. It
// returns how many documents it ended.
func FailCanceledParses(ctx context.Context, tx pgx.Tx, jobs []CanceledJob) (int, error) {
	if len(jobs) == 0 {
		return 0, nil
	}
	ids, gens, at := make([]uuid.UUID, len(jobs)), make([]int64, len(jobs)), make([]time.Time, len(jobs))
	for i, j := range jobs {
		ids[i], gens[i], at[i] = j.Document, j.Generation, j.FinalizedAt
	}
	rows, err := tx.Query(ctx, `UPDATE documents d SET status = 'failed', failure_code = $4, failure_message = $5,
			parse_stage = NULL, updated_at = now()
		FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[]) AS c(id, gen, at)
		WHERE d.id = c.id AND ((d.status = 'parsing' AND d.parse_generation = c.gen)
			OR (d.status = 'queued' AND d.updated_at <= c.at))
		RETURNING d.id`, ids, gens, at, FailureCanceled, canceledMessage)
	if err != nil {
		return 0, fmt.Errorf("error ending canceled parses: %w", err)
	}
	ended, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return 0, fmt.Errorf("error ending canceled parses: %w", err)
	}
	for _, id := range ended {
		if err := appendEvent(ctx, tx, id, events.DocumentFailedData{Code: FailureCanceled, Message: canceledMessage}); err != nil {
			return 0, err
		}
	}
	return len(ended), nil
}
