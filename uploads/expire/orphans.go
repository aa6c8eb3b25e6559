package expire

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/storage"
)

// PartialPrefix is where the objects of partial uploads (concatenation)
// wait for their final upload (uploads.PartialPrefix).
const PartialPrefix = "uploads/"

// VersionedPrefixes are the prefixes of Folio's objects whose old
// versions the sweep expires (the erasure ledger's is not among them).
var VersionedPrefixes = []string{documents.OriginalsPrefix, documents.DerivedRoot, PartialPrefix}

// Orphans deletes the originals last written before cutoff that no
// document has (an upload whose commit and cleanup both failed; after a
// restore, with cutoff now, whatever the restored database does not
// know), and returns how many.
func Orphans(ctx context.Context, db pg.DBTX, store *storage.Store, cutoff time.Time) (int, error) {
	deleted := 0
	err := store.EachObject(ctx, documents.OriginalsPrefix, func(objs []storage.ObjectInfo) error {
		var old []string
		for _, o := range objs {
			if o.LastModified.Before(cutoff) {
				old = append(old, o.Key)
			}
		}
		if len(old) == 0 {
			return nil
		}
		referenced, err := documents.ReferencedKeys(ctx, db, old)
		if err != nil {
			return err
		}
		for _, k := range old {
			if referenced[k] {
				continue
			}
			if err := store.Delete(ctx, k); err != nil {
				return err
			}
			deleted++
		}
		return nil
	})
	return deleted, err
}

// Derived deletes page images last written before cutoff whose document
// is gone (the API deletes them with the document; this catches a failed
// delete, and an image a render stored while its document was deleted),
// and returns how many.
func Derived(ctx context.Context, db pg.DBTX, store *storage.Store, cutoff time.Time) (int, error) {
	deleted := 0
	err := store.EachObject(ctx, documents.DerivedRoot, func(objs []storage.ObjectInfo) error {
		var ids []uuid.UUID
		for _, o := range objs {
			if id, ok := documents.DerivedDocument(o.Key); ok {
				ids = append(ids, id)
			}
		}
		exists, err := documents.ExistingDocuments(ctx, db, ids)
		if err != nil {
			return err
		}
		for _, o := range objs {
			id, ok := documents.DerivedDocument(o.Key)
			if !o.LastModified.Before(cutoff) || (ok && exists[id]) {
				continue
			}
			if err := store.Delete(ctx, o.Key); err != nil {
				return err
			}
			deleted++
		}
		return nil
	})
	return deleted, err
}

// Lost expires the unfinished uploads (resumable and direct) whose S3
// multipart upload no longer exists, and returns how many: after a
// restore, an upload the restored database holds may have been finished
// or aborted since. Their clients start again (a resumable upload's URL
// answers 404). Uploads whose bytes are all in the database (no multipart
// upload yet) resume as they are.
func Lost(ctx context.Context, db pg.DBTX, store *storage.Store, now time.Time) (int, error) {
	lost := 0
	for _, table := range []string{"uploads", "direct_uploads"} {
		list, err := expiredRows(ctx, db, `SELECT id, key, s3_upload_id FROM `+table+`
			WHERE s3_upload_id IS NOT NULL AND expires_at >= $1`+unfinished(table), now)
		if err != nil {
			return lost, err
		}
		for _, e := range list {
			ok, err := store.HasMultipart(ctx, e.key, e.uploadID)
			if err != nil {
				return lost, err
			}
			if ok {
				continue
			}
			if _, err := db.Exec(ctx, `UPDATE `+table+` SET expires_at = $2 WHERE id = $1`, e.id, now.Add(-time.Second)); err != nil {
				return lost, err
			}
			lost++
		}
	}
	if _, err := Resumable(ctx, db, store, now); err != nil {
		return lost, err
	}
	_, err := Direct(ctx, db, store, now)
	return lost, err
}

func unfinished(table string) string {
	if table == "uploads" {
		return " AND document_id IS NULL"
	}
	return ""
}
