package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foliohq/folio/internal/pg"
)

// Fair share between owners (jobargs.Priority says how jobs are ordered).
// A job that has held its slot for a slice while another owner's job waits
// in its queue gives the slot back: it stops at its next boundary (a parse
// at once, keeping the pages it has; thumbnails and OCR after the page in
// hand), keeps what it did, and is snoozed behind the waiting work (River
// counts a snooze as no attempt; the job is never out of the database, so
// a drain or a crash cannot lose it). The next run goes on where this one
// stopped. Nobody waits for a slot longer than one slice (and the page in
// hand); an owner alone keeps every slot as long as nobody waits.

// ErrYield stops a job's slice: another owner's work gets its slot.
var ErrYield = errors.New("the slice is over and another owner's job is waiting")

// yieldPoll is how often a job past its slice looks for waiting work.
const yieldPoll = time.Second

// OthersWaiting reports whether a job of another owner than owner waits
// to run in queue (available now).
func OthersWaiting(ctx context.Context, db pg.DBTX, queue, owner string) (bool, error) {
	var waiting bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE state = 'available' AND queue = $1
		AND scheduled_at <= now() AND coalesce(args->>'owner', '') <> $2)`, queue, owner).Scan(&waiting)
	if err != nil {
		return false, fmt.Errorf("error looking for waiting jobs: %w", err)
	}
	return waiting, nil
}

// slice watches one run of a job: once it has run for length, it looks
// every yieldPoll for another owner's job waiting in the queue, and when
// there is one, it is over: Over reports it, and the context Watch
// returned is cancelled with ErrYield.
type slice struct {
	over   atomic.Bool
	cancel context.CancelCauseFunc
	done   chan struct{}
	stop   chan struct{}
}

// watchSlice starts watching; length 0 never ends the slice. With hard,
// the returned context is cancelled (ErrYield) when the slice is over;
// otherwise the run checks Over at its boundaries. The caller calls end
// when the run is over.
func watchSlice(ctx context.Context, pool *pgxpool.Pool, length time.Duration, queue, owner string, hard bool) (context.Context, *slice) {
	ctx, cancel := context.WithCancelCause(ctx)
	s := &slice{cancel: cancel, done: make(chan struct{}), stop: make(chan struct{})}
	if length <= 0 || pool == nil {
		close(s.done)
		return ctx, s
	}
	go func() {
		defer close(s.done)
		wait := length
		for {
			select {
			case <-s.stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = yieldPoll
			waiting, err := OthersWaiting(ctx, pool, queue, owner)
			if err == nil && waiting {
				s.over.Store(true)
				if hard {
					cancel(ErrYield)
				}
				return
			}
		}
	}()
	return ctx, s
}

// Over reports whether the slice is over (another owner waits).
func (s *slice) Over() bool { return s.over.Load() }

// end stops watching.
func (s *slice) end() {
	close(s.stop)
	<-s.done
	s.cancel(nil)
}
