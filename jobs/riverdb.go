package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/jobs/jobargs"
)

// RiverSchemaVersion is the River migration (line "main") that this
// file's SQL was checked against: River v0.51.1, migration 8. River offers
// no call that hands back the running jobs of a dead client (its own
// rescuer waits RescueStuckJobsAfter), nor one that counts jobs by queue
// and state, so this file is the one place Folio queries river_job itself.
// TestRescueRiverSchemaIsPinned fails when River's schema moves on: check
// this SQL against the new one, then raise it.
const RiverSchemaVersion = 8

// claimMargin is how long after a job started its worker's heartbeat must
// claim it: a heartbeat written just before the job started cannot.
const claimMargin = 10 * time.Second

// Rescue hands back to the queue every running job whose client has not
// heartbeated for deadAfter (or never did), or whose client heartbeats but
// no longer claims it (Claims: River lost the job's outcome); a parse
// job's document is requeued too (documents.RequeueLost: parse.requeued,
// worker_lost), an OCR job's OCR goes back to pending, in the same
// transaction. Safe to run from every worker at
// once.
func Rescue(ctx context.Context, pool pg.TxDB, deadAfter time.Duration) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			UPDATE river_job j SET state = 'available', scheduled_at = now(),
				errors = array_append(coalesce(j.errors, '{}'), jsonb_build_object(
					'at', now(), 'attempt', j.attempt, 'error', 'worker lost the job: ' || j.attempted_by[array_length(j.attempted_by, 1)] || ' stopped heartbeating or no longer works it', 'trace', ''))
			WHERE j.id IN (
				SELECT j2.id FROM river_job j2
				WHERE j2.state = 'running'
				AND NOT EXISTS (SELECT 1 FROM worker_heartbeats h
					WHERE h.client_id = j2.attempted_by[array_length(j2.attempted_by, 1)]
					AND h.last_seen > now() - make_interval(secs => $1)
					AND (h.claimed IS NULL OR j2.id = ANY(h.claimed)
						OR h.last_seen < j2.attempted_at + make_interval(secs => $2)))
				FOR UPDATE SKIP LOCKED)
			RETURNING j.id, j.kind, coalesce(j.args->>'document_id', ''), coalesce((j.args->>'generation')::bigint, 0)`,
			deadAfter.Seconds(), claimMargin.Seconds())
		if err != nil {
			return fmt.Errorf("error rescuing jobs: %w", err)
		}
		type rescued struct {
			job  int64
			kind string
			doc  string
			gen  int64
		}
		list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (rescued, error) {
			var r rescued
			return r, row.Scan(&r.job, &r.kind, &r.doc, &r.gen)
		})
		if err != nil {
			return fmt.Errorf("error rescuing jobs: %w", err)
		}
		for _, r := range list {
			if r.doc == "" {
				continue // not a document's job: back in the queue is all it needs
			}
			id, err := uuid.Parse(r.doc)
			if err != nil {
				return fmt.Errorf("error rescuing job %d: bad document id: %w", r.job, err)
			}
			switch r.kind {
			case jobargs.KindParse:
				err = documents.RequeueLost(ctx, tx, id, r.job)
			case jobargs.KindOCR:
				err = documents.RequeueOCR(ctx, tx, id, r.gen)
			}
			if err != nil {
				return err
			}
		}
		n = len(list)
		_, err = tx.Exec(ctx, `DELETE FROM worker_heartbeats WHERE last_seen < now() - interval '1 hour'`)
		return err
	})
	return n, err
}

// CanceledWindow is how far back each rescue looks for canceled jobs.
//
// An operator may cancel a parse or OCR job outside
// Folio's API (River UI; `folio jobs cancel` goes through Cancel, which
// does the same at once): River finalizes it as cancelled and nothing
// tells the document. EndCanceled looks for such jobs and ends what they
// left waiting (documents.FailCanceledParses, FailCanceledOCR); the
// liveness loop runs it with the rescue, over the last CanceledWindow,
// and over River's retention of cancelled jobs once when a worker starts.
const CanceledWindow = 15 * time.Minute

// EndCanceled ends the documents whose parse, or whose OCR, was canceled
// within the last `within`, in one transaction. Idempotent; safe from
// every worker at once. It returns how many documents it failed.
func EndCanceled(ctx context.Context, pool pg.TxDB, within time.Duration) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, kind, args->>'document_id', coalesce((args->>'generation')::bigint, 0), finalized_at
			FROM river_job WHERE state = 'cancelled' AND finalized_at > now() - make_interval(secs => $1)
			AND kind IN ($2, $3) AND args ? 'document_id'`, within.Seconds(), jobargs.KindParse, jobargs.KindOCR)
		if err != nil {
			return fmt.Errorf("error reading canceled jobs: %w", err)
		}
		var parses, ocrs []documents.CanceledJob
		var (
			job      int64
			kind     string
			doc      string
			gen      int64
			finished time.Time
		)
		_, err = pgx.ForEachRow(rows, []any{&job, &kind, &doc, &gen, &finished}, func() error {
			id, perr := uuid.Parse(doc)
			if perr != nil {
				return nil //nolint:nilerr // not one of Folio's documents: nothing to end
			}
			if kind == jobargs.KindParse {
				parses = append(parses, documents.CanceledJob{Document: id, Generation: job, FinalizedAt: finished})
			} else {
				ocrs = append(ocrs, documents.CanceledJob{Document: id, Generation: gen, FinalizedAt: finished})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("error reading canceled jobs: %w", err)
		}
		if n, err = documents.FailCanceledParses(ctx, tx, parses); err != nil {
			return err
		}
		for _, c := range ocrs {
			if err := documents.FailCanceledOCR(ctx, tx, c.Document, c.Generation); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// Cancel cancels jobs as an operator asks (folio jobs cancel), each in a
// transaction of its own that also ends what it leaves waiting: a parse
// job's document becomes failed (canceled) and an OCR job's OCR ends,
// as EndCanceled does for jobs canceled elsewhere. A running job is asked
// to stop (River finalizes it once its worker has); its document is ended
// at once all the same.
func Cancel(ctx context.Context, pool pg.TxDB, client *river.Client[pgx.Tx], id int64) (*rivertype.JobRow, error) {
	var row *rivertype.JobRow
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if row, err = client.JobCancelTx(ctx, tx, id); err != nil {
			return err
		}
		doc, perr := uuid.Parse(argString(row.EncodedArgs, "document_id"))
		if perr != nil {
			return nil //nolint:nilerr // not a document's job: canceling it is all
		}
		at := time.Now()
		if row.FinalizedAt != nil {
			at = *row.FinalizedAt
		}
		switch row.Kind {
		case jobargs.KindParse:
			_, err = documents.FailCanceledParses(ctx, tx, []documents.CanceledJob{{Document: doc, Generation: row.ID, FinalizedAt: at}})
		case jobargs.KindOCR:
			var args jobargs.OCRArgs
			if err = json.Unmarshal(row.EncodedArgs, &args); err == nil {
				err = documents.FailCanceledOCR(ctx, tx, doc, args.Generation)
			}
		}
		return err
	})
	return row, err
}

// argString reads one string field of a job's encoded arguments.
func argString(args []byte, field string) string {
	var m map[string]any
	if json.Unmarshal(args, &m) != nil {
		return ""
	}
	s, _ := m[field].(string)
	return s
}

// QueueStat is one queue's jobs that have not finished, by state.
type QueueStat struct {
	Queue     string `json:"queue"`
	Available int64  `json:"available"`
	Running   int64  `json:"running"`
	Retryable int64  `json:"retryable"`
	Scheduled int64  `json:"scheduled"`
	// OldestAvailable is how long the oldest available job has waited
	// since it could run (0: none waits).
	OldestAvailable time.Duration `json:"oldest_available_ns"`
}

// QueueStats counts every queue's unfinished jobs by state (one indexed
// scan of those jobs; finished ones are not read).
func QueueStats(ctx context.Context, db pg.DBTX) ([]QueueStat, error) {
	rows, err := db.Query(ctx, `
		SELECT queue,
			count(*) FILTER (WHERE state = 'available'),
			count(*) FILTER (WHERE state = 'running'),
			count(*) FILTER (WHERE state = 'retryable'),
			count(*) FILTER (WHERE state = 'scheduled'),
			coalesce(extract(epoch FROM now() - min(scheduled_at) FILTER (WHERE state = 'available')), 0)::float8
		FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled')
		GROUP BY queue ORDER BY queue`)
	if err != nil {
		return nil, fmt.Errorf("error counting jobs: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (QueueStat, error) {
		var (
			q      QueueStat
			oldest float64
		)
		err := row.Scan(&q.Queue, &q.Available, &q.Running, &q.Retryable, &q.Scheduled, &oldest)
		q.OldestAvailable = time.Duration(max(oldest, 0) * float64(time.Second))
		return q, err
	})
}
