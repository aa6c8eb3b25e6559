package backup_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/backup"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/storage"
)

// Restore, on a database and a bucket that disagree as they do after a
// restore: a document the ledger says was deleted goes (with its object);
// an original deleted since comes back; an object no row names goes; a
// resumable upload whose multipart upload is gone expires, one whose
// multipart upload is there stays; a document with no original at all is
// reported.
func TestRestoreReconciles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, b := testenv.Postgres(t), testenv.S3(t)
	require.NoError(t, b.Store.EnableVersioning(ctx))
	client, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{})
	require.NoError(t, err)
	newDoc := func(withObject bool) *documents.Document {
		id := uuid.Must(uuid.NewV7())
		doc := &documents.Document{ID: id, Owner: "alice", Filename: "x.pdf", SizeBytes: 3, S3Key: documents.OriginalKey("alice", id)}
		require.NoError(t, documents.Create(ctx, db.Pool, client, doc, documents.Intake{QuotaBytes: 1 << 30}))
		if withObject {
			_, err := b.Store.Put(ctx, doc.S3Key, bytes.NewReader([]byte("pdf")), storage.PutOptions{})
			require.NoError(t, err)
		}
		return doc
	}
	kept, erased, revived, lost := newDoc(true), newDoc(true), newDoc(true), newDoc(false)
	require.NoError(t, b.Store.Delete(ctx, revived.S3Key)) // deleted after the time restored to
	require.NoError(t, backup.Ledger{Store: b.Store}.Record(ctx, backup.Erasure{DocumentID: erased.ID, Owner: "alice", By: "owner"}))
	_, err = b.Store.Put(ctx, documents.OriginalKey("alice", uuid.Must(uuid.NewV7())), bytes.NewReader([]byte("later")), storage.PutOptions{})
	require.NoError(t, err)

	upload := func(multipartGone bool) uuid.UUID {
		id := uuid.Must(uuid.NewV7())
		key := documents.OriginalKey("alice", id)
		mp, err := b.Store.CreateMultipart(ctx, key, storage.PutOptions{})
		require.NoError(t, err)
		if multipartGone {
			require.NoError(t, b.Store.AbortUpload(ctx, storage.Upload{Key: key, UploadID: mp}))
		}
		_, err = db.Pool.Exec(ctx, `INSERT INTO uploads (id, owner, key, s3_upload_id, size, expires_at) VALUES ($1, 'alice', $2, $3, 100, $4)`,
			id, key, mp, time.Now().Add(time.Hour))
		require.NoError(t, err)
		return id
	}
	gone, resumable := upload(true), upload(false)

	rep, err := backup.Restorer{Pool: db.Pool, Store: b.Store, Queue: client}.Restore(ctx)
	require.ErrorIs(t, err, backup.ErrMissingOriginals)
	require.Equal(t, []uuid.UUID{erased.ID}, rep.Erased)
	require.Equal(t, backup.ObjectsResult{Named: 3, Revived: 1, Missing: 1}, rep.Objects)
	require.Equal(t, 2, rep.OrphansDeleted, "the erased document's original and the one written later")
	require.Equal(t, 1, rep.UploadsExpired)
	require.Len(t, rep.MissingOriginals, 1)
	require.Equal(t, lost.ID, rep.MissingOriginals[0].ID)
	require.ElementsMatch(t, []string{kept.S3Key, revived.S3Key}, b.Keys(t, documents.OriginalsPrefix))
	_, err = documents.Get(ctx, db.Pool, "alice", erased.ID)
	require.ErrorIs(t, err, documents.ErrNotFound)
	var uploads []uuid.UUID
	rows, err := db.Pool.Query(ctx, `SELECT id FROM uploads`)
	require.NoError(t, err)
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		uploads = append(uploads, id)
	}
	require.NotContains(t, uploads, gone)
	require.Contains(t, uploads, resumable)
}
