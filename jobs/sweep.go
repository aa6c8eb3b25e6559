package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
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
	orphans, err := w.sweepOrphans(ctx, cutoff)
	if err != nil {
		return err
	}
	derived, err := w.sweepDerived(ctx, cutoff)
	if err != nil {
		return err
	}
	var resumable expire.Result
	var direct int
	if w.Pool != nil {
		if resumable, err = expire.Resumable(ctx, w.Pool, w.Store, now()); err != nil {
			return err
		}
		if direct, err = expire.Direct(ctx, w.Pool, w.Store, now()); err != nil {
			return err
		}
	}
	return river.RecordOutput(ctx, SweepResult{Seen: len(uploads), Aborted: aborted, OrphansDeleted: orphans, DerivedDeleted: derived,
		ResumableExpired: resumable.Expired, ResumableDone: resumable.Done, DirectExpired: direct})
}

// sweepOrphans deletes objects older than cutoff that no document has.
func (w *SweepUploadsWorker) sweepOrphans(ctx context.Context, cutoff time.Time) (int, error) {
	if w.Pool == nil {
		return 0, nil
	}
	deleted := 0
	err := w.Store.EachObject(ctx, documents.OriginalsPrefix, func(objs []storage.ObjectInfo) error {
		var old []string
		for _, o := range objs {
			if o.LastModified.Before(cutoff) {
				old = append(old, o.Key)
			}
		}
		if len(old) == 0 {
			return nil
		}
		referenced, err := documents.ReferencedKeys(ctx, w.Pool, old)
		if err != nil {
			return err
		}
		for _, k := range old {
			if referenced[k] {
				continue
			}
			if err := w.Store.Delete(ctx, k); err != nil {
				return err
			}
			deleted++
		}
		return nil
	})
	return deleted, err
}

// sweepDerived deletes page images older than cutoff whose document is
// gone (the API deletes them with the document; this catches a failed
// delete, and an image a render stored while its document was deleted).
func (w *SweepUploadsWorker) sweepDerived(ctx context.Context, cutoff time.Time) (int, error) {
	if w.Pool == nil {
		return 0, nil
	}
	deleted := 0
	err := w.Store.EachObject(ctx, documents.DerivedRoot, func(objs []storage.ObjectInfo) error {
		var ids []uuid.UUID
		for _, o := range objs {
			if id, ok := documents.DerivedDocument(o.Key); ok {
				ids = append(ids, id)
			}
		}
		exists, err := documents.ExistingDocuments(ctx, w.Pool, ids)
		if err != nil {
			return err
		}
		for _, o := range objs {
			id, ok := documents.DerivedDocument(o.Key)
			if !o.LastModified.Before(cutoff) || (ok && exists[id]) {
				continue
			}
			if err := w.Store.Delete(ctx, o.Key); err != nil {
				return err
			}
			deleted++
		}
		return nil
	})
	return deleted, err
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
}
