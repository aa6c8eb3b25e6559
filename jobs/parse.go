package jobs

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// QueueParse is the queue parse jobs run in, apart from maintenance jobs so
// that a backlog of uploads never delays the sweeper (and the other way
// round).
const QueueParse = "parse"

// ParseMaxAttempts bounds retries of transient failures of one parse.
const ParseMaxAttempts = 5

// ParseArgs are the arguments of the parse job of one document.
type ParseArgs struct {
	DocumentID uuid.UUID `json:"document_id" river:"unique"`
}

// Kind is the job kind.
func (ParseArgs) Kind() string { return "parse" }

// InsertOpts make parse jobs unique per document while one is waiting or
// running; a finished one does not block a reparse.
func (ParseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueParse,
		MaxAttempts: ParseMaxAttempts,
		UniqueOpts: river.UniqueOpts{
			ByArgs: true,
			ByState: []rivertype.JobState{
				rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
				rivertype.JobStateRunning, rivertype.JobStateScheduled,
			},
		},
	}
}

// ActiveParseJobs lists the ids of a document's parse jobs that have not
// finished (queued, scheduled, retrying or running).
func ActiveParseJobs(ctx context.Context, tx pgx.Tx, documentID uuid.UUID) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM river_job WHERE kind = $1 AND args->>'document_id' = $2
		AND state NOT IN ('completed', 'cancelled', 'discarded')`, ParseArgs{}.Kind(), documentID.String())
	if err != nil {
		return nil, fmt.Errorf("error listing parse jobs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("error listing parse jobs: %w", err)
	}
	return ids, nil
}
