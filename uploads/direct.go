package uploads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/storage"
)

// Direct uploads: the client (Uppy's @uppy/aws-s3 with signRequest) sends
// the bytes straight to S3; Folio picks the key, presigns only the
// multipart requests for that key and the one multipart upload made on it,
// and makes the object a document at Finalize, after checking it.
type Direct struct {
	Pool   *pgxpool.Pool
	Store  *storage.Store
	Queue  documents.Queue
	Logger *slog.Logger
	// Admission is the rule of every upload path: rate, size, quota.
	Admission *Admission
	// MaxPending caps an owner's direct uploads not yet finalized.
	MaxPending int
	// Expiry is how long a direct upload may stay unfinalized.
	Expiry time.Duration
	// SignTTL is how long a presigned URL works.
	SignTTL time.Duration
}

// DirectUpload is a direct upload just made.
type DirectUpload struct {
	ID  uuid.UUID `json:"id"`
	Key string    `json:"key"`
	URL string    `json:"url"` // presigned CreateMultipartUpload, for createTTL
	// PartSize is the size of every part but the last: the client cuts
	// the file so (Uppy's default does: the larger of 5 MiB and a
	// 10,000th of the file), and each part is signed for its length.
	PartSize  int64     `json:"part_size"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createTTL bounds the presigned CreateMultipartUpload: the client uses it
// at once; a replay later makes nothing.
const createTTL = time.Minute

// minPartSize is S3's smallest part but the last.
const minPartSize = 5 << 20

// PartSize is the part size of a direct upload of size bytes: the larger
// of 5 MiB and a 10,000th of the file, as Uppy cuts it by default.
func PartSize(size int64) int64 {
	return max(minPartSize, (size+maxParts-1)/maxParts)
}

// partLength is the length of part n (from 1) of a file of size bytes in
// parts of ps; 0 when the file has no such part.
func partLength(size, ps int64, n int32) int64 {
	start := int64(n-1) * ps
	if n < 1 || start >= size {
		return 0
	}
	return min(ps, size-start)
}

// Errors of direct uploads (the API maps them to problems).
var (
	ErrDirectTooLarge     = errors.New("uploads: larger than the upload limit")
	ErrDirectEmpty        = errors.New("uploads: an empty file")
	ErrDirectTooMany      = errors.New("uploads: too many direct uploads not finalized")
	ErrDirectQuota        = errors.New("uploads: over the owner's quota")
	ErrDirectNotFound     = errors.New("uploads: no such direct upload")
	ErrDirectForbidden    = errors.New("uploads: not a request Folio signs")
	ErrDirectUploadID     = errors.New("uploads: not this key's multipart upload")
	ErrDirectIncomplete   = errors.New("uploads: the object is not complete")
	ErrDirectNotPDF       = errors.New("uploads: not a PDF")
	ErrDirectSizeMismatch = errors.New("uploads: the object is larger than declared")
	ErrDirectPastSize     = errors.New("uploads: a part past the declared size")
)

// DirectOptions are what a direct upload's creation says of its
// document: its name, the languages OCR reads it with ("" for the
// default) and the application's data, checked by the caller.
type DirectOptions struct {
	Filename     string
	OCRLanguages string
	AppData      documents.AppData
}

// Create records a direct upload of size bytes for owner and presigns its
// CreateMultipartUpload. The declared size is checked against the limit
// and the quota here (and the object against it at Finalize).
func (d *Direct) Create(ctx context.Context, owner string, o DirectOptions, size int64) (*DirectUpload, error) {
	filename, ocrLanguages := o.Filename, o.OCRLanguages
	var metadata []byte
	if len(o.AppData.Metadata) > 0 {
		metadata, _ = json.Marshal(o.AppData.Metadata)
	}
	adm := d.Admission
	switch {
	case size <= 0:
		return nil, ErrDirectEmpty
	case size > adm.MaxSize:
		return nil, ErrDirectTooLarge
	}
	id := uuid.Must(uuid.NewV7())
	up := &DirectUpload{ID: id, Key: documents.OriginalKey(owner, id), PartSize: PartSize(size), ExpiresAt: time.Now().Add(d.Expiry)}
	err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		// One owner's creations one at a time: the count and the quota
		// hold under concurrent requests.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('folio-direct:' || $1, 0))`, owner); err != nil {
			return err
		}
		var pending int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM direct_uploads WHERE owner = $1 AND expires_at > now()`,
			owner).Scan(&pending); err != nil {
			return err
		}
		if pending >= int64(d.MaxPending) {
			return ErrDirectTooMany
		}
		// Documents and every unfinished upload, under the lock.
		if _, err := adm.Admit(ctx, tx, owner, size, true); err != nil {
			if errors.Is(err, ErrOverQuota) {
				return ErrDirectQuota
			}
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO direct_uploads (id, owner, key, size, filename, expires_at, ocr_languages,
				external_id, metadata)
			VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), NULLIF($8, ''), $9)`, id, owner, up.Key, size, filename, up.ExpiresAt,
			ocrLanguages, o.AppData.ExternalID, metadata)
		return err
	})
	if err != nil {
		var limited *RateLimitedError
		if errors.Is(err, ErrDirectTooMany) || errors.Is(err, ErrDirectQuota) || errors.As(err, &limited) {
			return nil, err
		}
		return nil, fmt.Errorf("error recording a direct upload: %w", err)
	}
	if up.URL, err = d.Store.PresignMultipart(ctx, storage.OpCreate, up.Key, "", 0, min(d.SignTTL, createTTL)); err != nil {
		return nil, err
	}
	return up, nil
}

// SignRequest is what Uppy's signRequest is called with.
type SignRequest struct {
	Method     string `json:"method"`
	Key        string `json:"key"`
	UploadID   string `json:"uploadId"`
	PartNumber int32  `json:"partNumber"`
}

// Sign presigns one request of the owner's direct upload at req.Key: list
// parts (GET), upload a part (PUT, 1–10,000), complete (POST) or abort
// (DELETE), each with the multipart upload made on that key. Anything
// else — another key, another owner's, a simple PUT, a DELETE of the
// object, another upload id — is refused.
func (d *Direct) Sign(ctx context.Context, owner string, req SignRequest) (string, error) {
	var id uuid.UUID
	var recorded *string
	var declared int64
	err := d.Pool.QueryRow(ctx, `SELECT id, s3_upload_id, size FROM direct_uploads WHERE key = $1 AND owner = $2 AND expires_at > now()`,
		req.Key, owner).Scan(&id, &recorded, &declared)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrDirectNotFound
	}
	if err != nil {
		return "", fmt.Errorf("error reading a direct upload: %w", err)
	}
	if req.UploadID == "" {
		return "", ErrDirectForbidden // only the multipart requests of one upload
	}
	var op string
	switch {
	case req.Method == http.MethodGet:
		op = storage.OpList
	case req.Method == http.MethodPut && req.PartNumber >= 1 && req.PartNumber <= maxParts:
		op = storage.OpPart
		if partLength(declared, PartSize(declared), req.PartNumber) == 0 {
			return "", ErrDirectPastSize // the declared size has no such part
		}
	case req.Method == http.MethodPost:
		op = storage.OpComplete
	case req.Method == http.MethodDelete:
		op = storage.OpAbort
	default:
		return "", ErrDirectForbidden
	}
	if recorded == nil {
		// The first request after the client made the multipart upload:
		// it must be on this key (made with the URL Create signed).
		ok, err := d.Store.HasMultipart(ctx, req.Key, req.UploadID)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", ErrDirectUploadID
		}
		tag, err := d.Pool.Exec(ctx, `UPDATE direct_uploads SET s3_upload_id = $2 WHERE id = $1 AND s3_upload_id IS NULL`, id, req.UploadID)
		if err != nil {
			return "", fmt.Errorf("error recording a direct upload's multipart upload: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return d.Sign(ctx, owner, req) // recorded meanwhile: check against it
		}
		// Any other multipart upload on the key (the creation URL used
		// twice) is aborted: one upload per direct upload.
		d.abortOthers(ctx, req.Key, req.UploadID)
	} else if *recorded != req.UploadID {
		return "", ErrDirectUploadID
	}
	if op == storage.OpPart {
		ps := PartSize(declared)
		return d.Store.PresignPart(ctx, req.Key, req.UploadID, req.PartNumber, partLength(declared, ps, req.PartNumber), d.SignTTL)
	}
	return d.Store.PresignMultipart(ctx, op, req.Key, req.UploadID, req.PartNumber, d.SignTTL)
}

// abortOthers aborts every multipart upload on key but keep.
func (d *Direct) abortOthers(ctx context.Context, key, keep string) {
	list, err := d.Store.ListUploads(ctx, key)
	if err != nil {
		d.Logger.Warn("direct upload: listing multipart uploads", "key", key, "err", err)
		return
	}
	for _, u := range list {
		if u.Key == key && u.UploadID != keep {
			if err := d.Store.AbortUpload(ctx, u); err != nil {
				d.Logger.Warn("direct upload: aborting a second multipart upload", "key", key, "err", err)
			}
		}
	}
}

// IDOfKey returns the id in a direct upload's key (its last segment).
func IDOfKey(key string) (uuid.UUID, bool) {
	id, err := uuid.Parse(key[strings.LastIndex(key, "/")+1:])
	return id, err == nil
}

// Finalize makes the owner's completed direct upload a document: the
// object must exist, be no larger than declared (nor the limit), start
// with %PDF- and fit the quota; then the document and its parse job are
// committed in one transaction (its SHA-256 comes from the parse). Any
// failed check deletes the object and the upload.
func (d *Direct) Finalize(ctx context.Context, owner string, id uuid.UUID) (*documents.Document, error) {
	var key, filename string
	var declared int64
	var ocrLanguages string
	var app documents.AppData
	err := d.Pool.QueryRow(ctx, `SELECT key, size, filename, coalesce(ocr_languages, ''), coalesce(external_id, ''), metadata
		FROM direct_uploads WHERE id = $1 AND owner = $2 AND expires_at > now()`, id, owner).
		Scan(&key, &declared, &filename, &ocrLanguages, &app.ExternalID, &app.Metadata)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrDirectNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error reading a direct upload: %w", err)
	}
	size, err := d.Store.Head(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrDirectIncomplete // not completed yet: the client may still complete it
	}
	if err != nil {
		return nil, err
	}
	// The object is complete: no other multipart upload on its key may
	// ever complete over it (a creation URL used twice).
	d.abortOthers(ctx, key, "")
	fail := func(reason error) (*documents.Document, error) {
		d.discard(ctx, id, key)
		return nil, reason
	}
	if size > declared || size > d.Admission.MaxSize {
		return fail(ErrDirectSizeMismatch)
	}
	if size == 0 {
		return fail(ErrDirectEmpty)
	}
	head, err := d.Store.ReadHead(ctx, key, documents.SniffLen)
	if err != nil {
		return nil, err
	}
	if !documents.LooksLikePDF(head) {
		return fail(ErrDirectNotPDF)
	}
	doc := &documents.Document{ID: id, Owner: owner, Filename: filename, SizeBytes: size, S3Key: key, OCRLanguages: ocrLanguages,
		AppData: app}
	err = pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM direct_uploads WHERE id = $1 AND owner = $2`, id, owner)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return ErrDirectNotFound // finalized by a concurrent request
		}
		return documents.CreateTx(ctx, tx, d.Queue, doc, d.Admission.Intake())
	})
	switch {
	case errors.Is(err, documents.ErrQuotaExceeded):
		return fail(ErrDirectQuota)
	case errors.Is(err, ErrDirectNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("error committing a direct upload: %w", err)
	}
	d.Logger.Info("upload: created", "document_id", id, "size_bytes", size, "direct", true)
	return doc, nil
}

// discard deletes a refused direct upload's object, multipart upload and
// row.
func (d *Direct) discard(ctx context.Context, id uuid.UUID, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	var uploadID *string
	_ = d.Pool.QueryRow(ctx, `DELETE FROM direct_uploads WHERE id = $1 RETURNING s3_upload_id`, id).Scan(&uploadID)
	if uploadID != nil {
		_ = d.Store.AbortUpload(ctx, storage.Upload{Key: key, UploadID: *uploadID})
	}
	if err := d.Store.Delete(ctx, key); err != nil {
		d.Logger.Error("direct upload: deleting a refused object", "key", key, "err", err)
	}
}
