package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/jobs/jobargs"
)

// Fair share between owners (jobargs.Priority says how jobs are ordered).
// A job that has held its slot for a slice while another owner's job waits
// in its queue gives the slot back: it stops at its next boundary (a parse
// at once, keeping the pages it has; thumbnails where they are; OCR, whose
// pages take seconds, after the page in hand, slice or not), keeps what it
// did, and is
// snoozed behind the waiting work (River counts a snooze as no attempt;
// the job is never out of the database, so a drain or a crash cannot lose
// it). The next run goes on where this one stopped. Nobody waits for a
// slot longer than about one slice; an owner alone keeps every slot as
// long as nobody waits.
//
// Slots are not the whole story on a shared machine: the children of an
// owner with many jobs unfinished run at a higher nice value (ownerNice),
// so that the CPU too goes first to those who asked for little.

// ErrYield stops a job's slice: another owner's work gets its slot.
var ErrYield = errors.New("the slice is over and another owner's job is waiting")

// yieldPoll is how often a running job looks for waiting work.
const yieldPoll = 500 * time.Millisecond

// Running counts owner's jobs running in queue.
func Running(ctx context.Context, db pg.DBTX, queue, owner string) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE queue = $1 AND args->>'owner' = $2 AND state = 'running'`,
		queue, owner).Scan(&n); err != nil {
		return 0, fmt.Errorf("error counting running jobs: %w", err)
	}
	return n, nil
}

// OthersWaiting reports whether a job of another owner than owner waits to
// run in queue (available now) while that owner has fewer than below jobs
// running there: someone with a smaller share of the queue than below is
// kept waiting.
func OthersWaiting(ctx context.Context, db pg.DBTX, queue, owner string, below int) (bool, error) {
	var waiting bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job w WHERE w.state = 'available' AND w.queue = $1
		AND w.scheduled_at <= now() AND coalesce(w.args->>'owner', '') <> $2
		AND (SELECT count(*) FROM river_job r WHERE r.queue = $1 AND r.state = 'running'
			AND r.args->>'owner' = w.args->>'owner') < $3)`, queue, owner, below).Scan(&waiting)
	if err != nil {
		return false, fmt.Errorf("error looking for waiting jobs: %w", err)
	}
	return waiting, nil
}

// shareExceeded reports whether a job of owner that has just started in
// queue would give its owner two slots more than another owner who has a
// job waiting there: then it steps back (snoozes) before doing anything,
// so that the waiting one gets the slot. Max-min fair: two owners with a
// job running each keep starting theirs, and nobody snoozes in turn.
func shareExceeded(ctx context.Context, db pg.DBTX, queue, owner string) bool {
	if owner == "" {
		return false
	}
	mine, err := Running(ctx, db, queue, owner) // this job included
	if err != nil || mine < 2 {
		return false
	}
	waiting, err := OthersWaiting(ctx, db, queue, owner, mine-1)
	return err == nil && waiting
}

// stepBack puts a job that gives its slot to another owner behind every
// waiting job: River fetches by priority first, so a snoozed job that kept
// a better priority than the waiting one would be fetched again at once,
// step back again, and the waiting one would never run (a livelock a
// 1,000-document run of two owners found). Its priority becomes the
// lowest; the snooze that follows keeps it.
func stepBack(ctx context.Context, db pg.DBTX, jobID int64) error {
	if _, err := db.Exec(ctx, `UPDATE river_job SET priority = $2 WHERE id = $1 AND priority < $2`, jobID, jobargs.Priority(1<<30)); err != nil {
		return fmt.Errorf("error lowering the priority of job %d: %w", jobID, err)
	}
	return nil
}

// ownerNice is the nice value of the children of a run of owner's job:
// by how many of the owner's jobs are unfinished at this moment in every
// fair queue (this one included; running or waiting): 5 for one, 10 for
// two, 15 for up to four, 19 beyond. An owner with a backlog gets the CPU
// after one who asked for a single thing, whatever their priorities said
// when they were queued (a slice's next run looks again).
func ownerNice(ctx context.Context, db pg.DBTX, owner string) int {
	if owner == "" {
		return 10 // a job from before jobs named their owner
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE queue = ANY($1) AND args->>'owner' = $2
		AND state IN ('available', 'pending', 'retryable', 'running', 'scheduled')`, fairQueues, owner).Scan(&n); err != nil {
		return 10
	}
	switch {
	case n <= 1:
		return 5
	case n == 2:
		return 10
	case n <= 4:
		return 15
	}
	return 19
}

// fairQueues are the queues whose jobs carry their owner.
var fairQueues = []string{jobargs.QueueParse, jobargs.QueueOCR, jobargs.QueueRender}

// slice watches one run of a job: every yieldPoll it looks for another
// owner's job waiting in the queue whose owner has fewer jobs running there
// than this one's. Due says whether the run should stop
// before work that takes next; with hard, the context watchSlice returned
// is cancelled (ErrYield) as soon as the slice is over.
type slice struct {
	ctx     context.Context // the run's, cancelled (ErrYield) when a hard slice is over
	start   time.Time
	length  time.Duration
	waiting atomic.Bool
	over    atomic.Bool
	cancel  context.CancelCauseFunc
	done    chan struct{}
	stop    chan struct{}
}

// watchSlice starts watching; length 0 never ends the slice. The caller
// calls end when the run is over.
func watchSlice(ctx context.Context, pool *pgxpool.Pool, length time.Duration, queue, owner string, hard bool) (context.Context, *slice) {
	ctx, cancel := context.WithCancelCause(ctx)
	s := &slice{ctx: ctx, start: time.Now(), length: length, cancel: cancel, done: make(chan struct{}), stop: make(chan struct{})}
	if length <= 0 || pool == nil {
		close(s.done)
		return ctx, s
	}
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(yieldPoll):
			}
			mine, err := Running(ctx, pool, queue, owner)
			if err != nil {
				continue
			}
			waiting, err := OthersWaiting(ctx, pool, queue, owner, mine)
			if err != nil {
				continue
			}
			s.waiting.Store(waiting)
			if waiting && time.Since(s.start) >= length {
				s.over.Store(true)
				if hard {
					cancel(ErrYield)
					return
				}
			}
		}
	}()
	return ctx, s
}

// Waiting reports whether an owner with fewer jobs running waits (as of
// the last look).
func (s *slice) Waiting() bool { return s.waiting.Load() }

// Over reports whether the slice is over (another owner waits).
func (s *slice) Over() bool { return s.over.Load() }

// Due reports whether the run should stop now rather than start work that
// takes about next: another owner waits, and that work would take the run
// past its slice.
func (s *slice) Due(next time.Duration) bool {
	return s.length > 0 && s.waiting.Load() && time.Since(s.start)+next >= s.length
}

// end stops watching.
func (s *slice) end() {
	close(s.stop)
	<-s.done
	s.cancel(nil)
}
