// Package expire sweeps resumable and direct uploads past their expiry.
// It is apart from package uploads so that the worker, which runs the
// sweep, does not link tusd: both own the uploads table.
package expire

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/storage"
)

// Result counts what Resumable removed.
type Result struct {
	Expired int // unfinished uploads whose bytes and rows were deleted
	Done    int // rows of finished uploads past their expiry
}

// Resumable deletes the uploads past their expiry: an unfinished one's
// multipart upload is aborted and its object (a partial upload's)
// deleted, then its row; a finished one's row (its document stays).
func Resumable(ctx context.Context, db pg.DBTX, store *storage.Store, now time.Time) (Result, error) {
	var res Result
	tag, err := db.Exec(ctx, `DELETE FROM uploads WHERE expires_at < $1 AND document_id IS NOT NULL`, now)
	if err != nil {
		return res, fmt.Errorf("error sweeping finished uploads: %w", err)
	}
	res.Done = int(tag.RowsAffected())
	list, err := expiredRows(ctx, db, `SELECT id, key, coalesce(s3_upload_id, '') FROM uploads
		WHERE expires_at < $1 AND document_id IS NULL ORDER BY expires_at LIMIT 1000`, now)
	if err != nil {
		return res, err
	}
	for _, e := range list {
		if e.uploadID != "" {
			if err := store.AbortUpload(ctx, storage.Upload{Key: e.key, UploadID: e.uploadID}); err != nil {
				return res, err
			}
		}
		if err := store.Delete(ctx, e.key); err != nil {
			return res, err
		}
		// Only if it is still expired: a request may have renewed it.
		tag, err := db.Exec(ctx, `DELETE FROM uploads WHERE id = $1 AND expires_at < $2 AND document_id IS NULL`, e.id, now)
		if err != nil {
			return res, fmt.Errorf("error deleting an expired upload: %w", err)
		}
		res.Expired += int(tag.RowsAffected())
	}
	return res, nil
}

// LiveMultipart returns which of these S3 multipart upload ids belong to
// uploads that are not expired (the sweeper leaves those alone, however
// old).
func LiveMultipart(ctx context.Context, db pg.DBTX, ids []string, now time.Time) (map[string]bool, error) {
	live := map[string]bool{}
	if len(ids) == 0 {
		return live, nil
	}
	rows, err := db.Query(ctx, `SELECT s3_upload_id FROM uploads WHERE s3_upload_id = ANY($1) AND expires_at >= $2`, ids, now)
	if err != nil {
		return nil, fmt.Errorf("error reading live uploads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		live[id] = true
	}
	return live, rows.Err()
}

// expired is a row to sweep: its id, key and multipart upload id.
type expired struct {
	id            uuid.UUID
	key, uploadID string
}

// expiredRows runs query (with now) for rows of (id, key, upload id).
func expiredRows(ctx context.Context, db pg.DBTX, query string, now time.Time) ([]expired, error) {
	rows, err := db.Query(ctx, query, now)
	if err != nil {
		return nil, fmt.Errorf("error listing expired uploads: %w", err)
	}
	defer rows.Close()
	var list []expired
	for rows.Next() {
		var e expired
		if err := rows.Scan(&e.id, &e.key, &e.uploadID); err != nil {
			return nil, fmt.Errorf("error listing expired uploads: %w", err)
		}
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error listing expired uploads: %w", err)
	}
	return list, nil
}

// Direct deletes direct uploads past their expiry: their multipart
// uploads, their objects (never documents) and rows.
func Direct(ctx context.Context, db pg.DBTX, store *storage.Store, now time.Time) (int, error) {
	list, err := expiredRows(ctx, db, `SELECT id, key, coalesce(s3_upload_id, '') FROM direct_uploads WHERE expires_at < $1 LIMIT 1000`, now)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range list {
		if e.uploadID != "" {
			if err := store.AbortUpload(ctx, storage.Upload{Key: e.key, UploadID: e.uploadID}); err != nil {
				return n, err
			}
		}
		// The key is a document's only if Finalize deleted the row in
		// the same transaction: a row still here has no document.
		if err := store.Delete(ctx, e.key); err != nil {
			return n, err
		}
		if _, err := db.Exec(ctx, `DELETE FROM direct_uploads WHERE id = $1`, e.id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
