package uploads

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/storage"
)

// state is an upload's row.
type state struct {
	ID          uuid.UUID
	Owner       string
	Key         string
	S3UploadID  string // "" until the first part
	Size        *int64 // nil: deferred
	Offset      int64
	Parts       []storage.Part
	Tail        []byte
	HashState   []byte
	Filename    string
	Metadata    map[string]string
	Partial     bool
	PartialIDs  []uuid.UUID
	DocumentID  *uuid.UUID
	CompletedAt *time.Time
	ExpiresAt   time.Time
}

const stateColumns = `id, owner, key, coalesce(s3_upload_id, ''), size, "offset", parts, tail, hash_state,
	filename, metadata, partial, partial_ids, document_id, completed_at, expires_at`

func scanState(row pgx.Row) (*state, error) {
	var st state
	err := row.Scan(&st.ID, &st.Owner, &st.Key, &st.S3UploadID, &st.Size, &st.Offset, &st.Parts, &st.Tail, &st.HashState,
		&st.Filename, &st.Metadata, &st.Partial, &st.PartialIDs, &st.DocumentID, &st.CompletedAt, &st.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNoUpload
	}
	if err != nil {
		return nil, fmt.Errorf("error reading upload: %w", err)
	}
	return &st, nil
}

var errNoUpload = errors.New("uploads: no such upload")

func loadState(ctx context.Context, db pg.DBTX, owner string, id uuid.UUID) (*state, error) {
	return scanState(db.QueryRow(ctx, `SELECT `+stateColumns+` FROM uploads WHERE id = $1 AND owner = $2`, id, owner))
}

func insertState(ctx context.Context, db pg.DBTX, st *state) error {
	_, err := db.Exec(ctx, `INSERT INTO uploads (id, owner, key, size, filename, metadata, partial, partial_ids, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		st.ID, st.Owner, st.Key, st.Size, st.Filename, st.Metadata, st.Partial, st.PartialIDs, st.ExpiresAt)
	if err != nil {
		return fmt.Errorf("error recording upload: %w", err)
	}
	return nil
}

// complete reports whether every byte has arrived.
func (st *state) complete() bool { return st.Size != nil && st.Offset == *st.Size }

// committed reports whether the upload is done with: its document
// recorded (or, for a partial upload, its object completed).
func (st *state) committed() bool {
	return st.DocumentID != nil || (st.Partial && st.CompletedAt != nil)
}

// final reports whether the upload is a concatenation of partial ones.
func (st *state) final() bool { return st.PartialIDs != nil }

// PendingBytes is what the owner's unfinished resumable and direct uploads
// may still become: their declared sizes (or, for a deferred length, what
// arrived). Creations count it against the quota beside the documents.
func PendingBytes(ctx context.Context, db pg.DBTX, owner string) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, `SELECT
		(SELECT coalesce(sum(coalesce(size, "offset")), 0) FROM uploads
			WHERE owner = $1 AND document_id IS NULL AND expires_at > now())
		+ (SELECT coalesce(sum(size), 0) FROM direct_uploads WHERE owner = $1 AND expires_at > now())`, owner).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("error reading pending uploads: %w", err)
	}
	return n, nil
}

// tusOwnKeys are the Upload-Metadata keys that say something to Folio;
// every other key is the application's metadata.
var tusOwnKeys = map[string]bool{"filename": true, "name": true, "filetype": true, "ocr_languages": true, "external_id": true}

// TusAppData is the application data of a tus upload's Upload-Metadata:
// external_id, and every key but filename, name (Uppy's), filetype and
// ocr_languages as metadata. The caller checks it (AppData.Check).
func TusAppData(meta map[string]string) documents.AppData {
	a := documents.AppData{ExternalID: meta["external_id"]}
	for k, v := range meta {
		if tusOwnKeys[k] {
			continue
		}
		if a.Metadata == nil {
			a.Metadata = map[string]string{}
		}
		a.Metadata[k] = v
	}
	return a
}
