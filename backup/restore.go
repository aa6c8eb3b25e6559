package backup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/storage"
	"github.com/foliohq/folio/uploads/expire"
)

// Restorer brings the bucket to the time the database was restored to and
// makes the two agree. Run it after PostgreSQL has been restored (to the
// same time) and before any API or worker starts.
type Restorer struct {
	Pool  *pgxpool.Pool
	Store *storage.Store
	Queue documents.Queue
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Report is what a restore did.
type Report struct {
	// Erased are the documents the erasure ledger deleted again.
	Erased []uuid.UUID `json:"erased"`
	// Objects: what the database names, brought back where deleted since.
	Objects ObjectsResult `json:"objects"`
	// OrphansDeleted: originals no document has; DerivedDeleted: page
	// images of documents that do not exist (written after the time
	// restored to, or of the documents erased again).
	OrphansDeleted int `json:"orphans_deleted"`
	DerivedDeleted int `json:"derived_deleted"`
	// ImagesForgotten: page image rows whose object is gone (drawn again
	// when asked for).
	ImagesForgotten int `json:"images_forgotten"`
	// UploadsExpired: unfinished uploads whose S3 multipart upload is gone
	// (finished or aborted after the time); their clients start again.
	UploadsExpired int `json:"uploads_expired"`
	// MissingOriginals are documents whose original the bucket does not
	// hold in any version (none, while the bucket keeps versions as long as
	// the database's backups reach back): an operator decides
	// (docs/operations.md).
	MissingOriginals []documents.Owned `json:"missing_originals"`
}

// ErrMissingOriginals is returned (with the report) when documents have
// no original after the restore.
var ErrMissingOriginals = errors.New("restore: some documents have no original in the bucket")

// Restore makes the bucket agree with a database just restored to an
// earlier time, and applies the erasure ledger again: the documents
// deleted since go again; every object the database names is current
// (deleted since: its delete markers are removed); every object it does
// not name under Folio's prefixes is deleted (written since); page image
// rows without their object are forgotten; uploads whose bytes are gone
// expire; documents without any version of their original are reported.
// Run it before any API or worker starts (they would write objects the
// sweep cannot tell from those written after the time). A second run finds
// nothing to do.
func (r Restorer) Restore(ctx context.Context) (Report, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	rep := Report{Erased: []uuid.UUID{}, MissingOriginals: []documents.Owned{}}
	var err error
	if rep.Erased, err = r.erase(ctx); err != nil {
		return rep, err
	}
	named, err := documents.StoredKeys(ctx, r.Pool)
	if err != nil {
		return rep, err
	}
	if rep.Objects, err = Revive(ctx, r.Store, named, documents.OriginalsPrefix, documents.DerivedRoot); err != nil {
		return rep, fmt.Errorf("error bringing objects back: %w", err)
	}
	// Every object is older than a minute from now: no API runs, so
	// nothing is being uploaded.
	cutoff := now().Add(time.Minute)
	if rep.OrphansDeleted, err = expire.Orphans(ctx, r.Pool, r.Store, cutoff); err != nil {
		return rep, err
	}
	if rep.DerivedDeleted, err = expire.Derived(ctx, r.Pool, r.Store, cutoff); err != nil {
		return rep, err
	}
	if rep.UploadsExpired, err = expire.Lost(ctx, r.Pool, r.Store, now()); err != nil {
		return rep, err
	}
	derived, err := r.keys(ctx, documents.DerivedRoot)
	if err != nil {
		return rep, err
	}
	if rep.ImagesForgotten, err = documents.ForgetImages(ctx, r.Pool, derived); err != nil {
		return rep, err
	}
	originals, err := r.keys(ctx, documents.OriginalsPrefix)
	if err != nil {
		return rep, err
	}
	missing, err := documents.MissingOriginals(ctx, r.Pool, originals, 1000)
	if err != nil {
		return rep, err
	}
	if len(missing) > 0 {
		rep.MissingOriginals = missing
		return rep, ErrMissingOriginals
	}
	return rep, nil
}

// erase applies every ledger entry again: the documents deleted after the
// time restored to came back with the database, and go again here (their
// objects with the sweep that follows).
func (r Restorer) erase(ctx context.Context) ([]uuid.UUID, error) {
	erased := []uuid.UUID{}
	err := Ledger{Store: r.Store}.Each(ctx, func(e Erasure) error {
		_, err := documents.Erase(ctx, r.Pool, r.Queue, e.DocumentID)
		switch {
		case errors.Is(err, documents.ErrNotFound):
		case err != nil:
			return fmt.Errorf("error erasing %s again: %w", e.DocumentID, err)
		default:
			erased = append(erased, e.DocumentID)
		}
		return nil
	})
	return erased, err
}

// keys lists the current keys under prefix.
func (r Restorer) keys(ctx context.Context, prefix string) (map[string]bool, error) {
	keys := map[string]bool{}
	err := r.Store.EachObject(ctx, prefix, func(objs []storage.ObjectInfo) error {
		for _, o := range objs {
			keys[o.Key] = true
		}
		return nil
	})
	return keys, err
}
