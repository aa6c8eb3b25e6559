package jobs

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/foliohq/folio/events"
)

// PruneEventsInterval is how often old events are pruned.
const PruneEventsInterval = time.Hour

// PruneEventsArgs are the (empty) arguments of the prune_events job.
type PruneEventsArgs struct{}

// Kind is the job kind.
func (PruneEventsArgs) Kind() string { return "prune_events" }

// InsertOpts makes the job unique per half interval.
func (PruneEventsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: PruneEventsInterval / 2}}
}

// PruneEventsWorker deletes events older than Retention (a client resuming
// from before that gets a fresh snapshot flagged replay_truncated), and
// stream tickets that expired over an hour ago.
type PruneEventsWorker struct {
	river.WorkerDefaults[PruneEventsArgs]
	Pool      *pgxpool.Pool
	Retention time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Work prunes.
func (w *PruneEventsWorker) Work(ctx context.Context, _ *river.Job[PruneEventsArgs]) error {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	n, err := events.Prune(ctx, w.Pool, now().Add(-w.Retention))
	if err != nil {
		return err
	}
	tickets, err := events.PruneTickets(ctx, w.Pool)
	if err != nil {
		return err
	}
	return river.RecordOutput(ctx, map[string]int64{"pruned": n, "tickets_pruned": tickets})
}
