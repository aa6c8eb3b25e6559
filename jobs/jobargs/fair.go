package jobargs

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/foliohq/folio/internal/pg"
)

// Fair share. River runs a queue's jobs in order of priority (1 first),
// then of when they became available. Folio gives each job the priority of
// its owner's backlog in that queue when it is inserted: an owner's only
// job goes first; one with a few behind it comes after every owner that has
// none; large backlogs last. So an owner who has queued thousands of jobs
// never stands in front of one who queued one: that one gets the next free
// slot. Long jobs give their slot back between slices when another owner is
// waiting (jobs.Yield), and come back behind that owner: nobody waits more
// than one slice. An owner alone uses every slot (work-conserving).

// Priority is the River priority of an owner's new job behind backlog of
// its jobs not finished in the same queue.
func Priority(backlog int) int {
	switch {
	case backlog == 0:
		return 1
	case backlog < 10:
		return 2
	case backlog < 100:
		return 3
	}
	return 4
}

// Backlog counts owner's jobs in queue that have not finished (waiting,
// scheduled, retrying or running), through the index migration 00014 adds
// (river_job_folio_owner).
func Backlog(ctx context.Context, db pg.DBTX, queue, owner string) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE queue = $1 AND args->>'owner' = $2
		AND state IN ('available', 'pending', 'retryable', 'running', 'scheduled')`, queue, owner).Scan(&n); err != nil {
		return 0, fmt.Errorf("error counting %s's %s jobs: %w", owner, queue, err)
	}
	return n, nil
}

// FairOpts are the insert options of an owner's new job in queue: its
// priority from the owner's backlog there, and base's other options.
func FairOpts(ctx context.Context, db pg.DBTX, queue, owner string, base *river.InsertOpts) (*river.InsertOpts, error) {
	n, err := Backlog(ctx, db, queue, owner)
	if err != nil {
		return nil, err
	}
	opts := river.InsertOpts{}
	if base != nil {
		opts = *base
	}
	opts.Priority = Priority(n)
	return &opts, nil
}
