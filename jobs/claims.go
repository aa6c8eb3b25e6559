package jobs

import (
	"context"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// claimAfterWork is how long a job still counts as this worker's after its
// Work returned: River records the outcome asynchronously, retrying a few
// times over some seconds, and a job must not be handed back meanwhile.
const claimAfterWork = 2 * time.Minute

// Claims knows which jobs this worker process is working, or finished
// working a moment ago. Liveness publishes them with each heartbeat, so
// that a job River still shows running although its live worker no longer
// claims it (its outcome was lost when the database failed as River
// recorded it) is handed back, instead of waiting for River's
// RescueStuckJobsAfter (an hour). It is a River worker middleware.
type Claims struct {
	river.MiddlewareDefaults
	mu      sync.Mutex
	working map[int64]int // id → attempts under way (1)
	ended   map[int64]time.Time
}

var _ rivertype.WorkerMiddleware = (*Claims)(nil)

// NewClaims returns an empty set of claims.
func NewClaims() *Claims {
	return &Claims{working: map[int64]int{}, ended: map[int64]time.Time{}}
}

// Work claims the job while it is worked, and for claimAfterWork after.
func (c *Claims) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	c.mu.Lock()
	c.working[job.ID]++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.working[job.ID]--; c.working[job.ID] <= 0 {
			delete(c.working, job.ID)
		}
		c.ended[job.ID] = time.Now()
		c.mu.Unlock()
	}()
	return doInner(ctx)
}

// IDs are the jobs claimed now.
func (c *Claims) IDs() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]int64, 0, len(c.working)+len(c.ended))
	for id := range c.working {
		ids = append(ids, id)
	}
	for id, at := range c.ended {
		if time.Since(at) > claimAfterWork {
			delete(c.ended, id)
			continue
		}
		if _, ok := c.working[id]; !ok {
			ids = append(ids, id)
		}
	}
	return ids
}
