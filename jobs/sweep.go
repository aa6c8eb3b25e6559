package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/foliohq/folio/storage"
)

// OriginalsPrefix is where uploaded originals live in the bucket.
const OriginalsPrefix = "originals/"

// SweepInterval is how often the sweeper runs.
const SweepInterval = time.Hour

// SweepUploadsArgs are the (empty) arguments of the sweep_uploads job.
type SweepUploadsArgs struct{}

// Kind is the job kind.
func (SweepUploadsArgs) Kind() string { return "sweep_uploads" }

// InsertOpts makes the sweep unique per interval: many worker processes
// starting at once enqueue it once.
func (SweepUploadsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: SweepInterval / 2}}
}

// SweepUploadsWorker aborts multipart uploads under OriginalsPrefix that are
// older than MaxAge.
type SweepUploadsWorker struct {
	river.WorkerDefaults[SweepUploadsArgs]
	Store  *storage.Store
	MaxAge time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Work aborts every stale upload, going on past single failures and
// reporting them together.
func (w *SweepUploadsWorker) Work(ctx context.Context, job *river.Job[SweepUploadsArgs]) error {
	uploads, err := w.Store.ListUploads(ctx, OriginalsPrefix)
	if err != nil {
		return err
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	cutoff := now().Add(-w.MaxAge)
	var aborted, failed int
	var firstErr error
	for _, u := range uploads {
		if !u.Initiated.Before(cutoff) {
			continue
		}
		if err := w.Store.AbortUpload(ctx, u); err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		aborted++
	}
	if firstErr != nil {
		return fmt.Errorf("error sweeping uploads (%d aborted, %d failed): %w", aborted, failed, firstErr)
	}
	return river.RecordOutput(ctx, SweepResult{Seen: len(uploads), Aborted: aborted})
}

// SweepResult is recorded as the sweep job's output.
type SweepResult struct {
	Seen    int `json:"seen"`
	Aborted int `json:"aborted"`
}
