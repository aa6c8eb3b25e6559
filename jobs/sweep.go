package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/storage"
	"github.com/foliohq/folio/uploads/expire"
)

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

// SweepUploadsWorker aborts multipart uploads under documents.OriginalsPrefix that are
// older than MaxAge, and deletes objects there older than MaxAge that no
// document references (an upload whose commit and cleanup both failed).
type SweepUploadsWorker struct {
	river.WorkerDefaults[SweepUploadsArgs]
	Store  *storage.Store
	Pool   *pgxpool.Pool // nil: uploads only
	MaxAge time.Duration
	// VersionRetention, when set, deletes object versions (and delete
	// markers) that stopped being current longer ago, under Folio's
	// prefixes (never the erasure ledger's): the lifecycle rule of a
	// versioned bucket, for S3 servers without lifecycle rules.
	VersionRetention time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Work aborts every stale upload, going on past single failures and
// reporting them together.
func (w *SweepUploadsWorker) Work(ctx context.Context, job *river.Job[SweepUploadsArgs]) error {
	uploads, err := w.Store.ListUploads(ctx, documents.OriginalsPrefix)
	if err != nil {
		return err
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	cutoff := now().Add(-w.MaxAge)
	live := map[string]bool{}
	if w.Pool != nil {
		// Resumable uploads live as long as they are used, however old.
		ids := make([]string, len(uploads))
		for i, u := range uploads {
			ids[i] = u.UploadID
		}
		if live, err = expire.LiveMultipart(ctx, w.Pool, ids, now()); err != nil {
			return err
		}
	}
	var aborted, failed int
	var firstErr error
	for _, u := range uploads {
		if !u.Initiated.Before(cutoff) || live[u.UploadID] {
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
	var orphans, derived int
	var resumable expire.Result
	var direct int
	if w.Pool != nil {
		if orphans, err = expire.Orphans(ctx, w.Pool, w.Store, cutoff); err != nil {
			return err
		}
		if derived, err = expire.Derived(ctx, w.Pool, w.Store, cutoff); err != nil {
			return err
		}
		if resumable, err = expire.Resumable(ctx, w.Pool, w.Store, now()); err != nil {
			return err
		}
		if direct, err = expire.Direct(ctx, w.Pool, w.Store, now()); err != nil {
			return err
		}
	}
	versions := 0
	if w.VersionRetention > 0 {
		for _, prefix := range expire.VersionedPrefixes {
			n, err := w.Store.ExpireVersions(ctx, prefix, now().Add(-w.VersionRetention))
			versions += n
			if err != nil {
				return err
			}
		}
	}
	return river.RecordOutput(ctx, SweepResult{Seen: len(uploads), Aborted: aborted, OrphansDeleted: orphans, DerivedDeleted: derived,
		ResumableExpired: resumable.Expired, ResumableDone: resumable.Done, DirectExpired: direct, VersionsExpired: versions})
}

// SweepResult is recorded as the sweep job's output.
type SweepResult struct {
	Seen           int `json:"seen"`
	Aborted        int `json:"aborted"`
	OrphansDeleted int `json:"orphans_deleted"`
	DerivedDeleted int `json:"derived_deleted"`
	// ResumableExpired: unfinished resumable uploads past their expiry,
	// bytes and rows deleted; ResumableDone: finished ones' rows.
	ResumableExpired int `json:"resumable_expired"`
	ResumableDone    int `json:"resumable_done"`
	// DirectExpired: direct uploads never finalized, objects and rows
	// deleted.
	DirectExpired int `json:"direct_expired"`
	// VersionsExpired: object versions and delete markers past
	// VersionRetention, deleted for good.
	VersionsExpired int `json:"versions_expired"`
}
