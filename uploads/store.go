package uploads

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/storage"
	"github.com/foliohq/folio/uploads/expire"
)

// PartialPrefix is where the objects of partial uploads (concatenation)
// wait for their final upload.
const PartialPrefix = expire.PartialPrefix

// saveTimeout bounds the writes that record what a request stored: they
// run on a context of their own, so that a client leaving does not lose
// what already arrived.
const saveTimeout = 30 * time.Second

// Config configures a Store.
type Config struct {
	Pool   *pgxpool.Pool
	Store  *storage.Store
	Queue  documents.Queue // enqueues the parse in the commit's transaction
	Logger *slog.Logger
	// MaxSize is the largest upload (FOLIO_MAX_UPLOAD_BYTES).
	MaxSize int64
	// Quota is an owner's byte quota (FOLIO_OWNER_QUOTA_BYTES).
	Quota int64
	// Scan: documents are scanned for malware before their parse.
	Scan bool
	// Expiry is how long an upload may go without a byte before it is
	// swept (it is renewed by every request that stores bytes).
	Expiry time.Duration
	// PutOptions describes an original (content type, disposition).
	PutOptions func(filename string) storage.PutOptions
}

// Store is the tusd data store (and its concatenation, termination and
// deferred-length extensions). Register it with Compose.
type Store struct {
	cfg Config
	now func() time.Time
}

// NewStore returns a Store.
func NewStore(cfg Config) *Store {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PutOptions == nil {
		cfg.PutOptions = func(string) storage.PutOptions { return storage.PutOptions{ContentType: "application/pdf"} }
	}
	return &Store{cfg: cfg, now: time.Now}
}

// Compose registers s (and locker) with a tusd store composer.
func (s *Store) Compose(c *handler.StoreComposer, locker handler.Locker) {
	c.UseCore(s)
	c.UseTerminater(s)
	c.UseConcater(s)
	c.UseLengthDeferrer(s)
	c.UseLocker(locker)
}

// Request carries what a tus request brings to the store and what the
// store learns for its answer. The API puts one in every tus request's
// context (WithRequest).
type Request struct {
	Owner string
	// Locked: tusd holds the upload's lock for this request (HEAD,
	// PATCH, DELETE): an upload whose bytes all arrived but whose
	// commit failed is committed on the way.
	Locked bool
	// Checksum, when set, is the Upload-Checksum the request's bytes
	// must match (the chunk is dropped otherwise: 460).
	Checksum *Checksum
	// Stop, when closed, ends a PATCH where its body is: the whole parts
	// are in S3, the rest is kept as the tail, and the client is told the
	// offset, to resume elsewhere (the API's drain).
	Stop <-chan struct{}

	// DocumentID is set once the upload is a document.
	DocumentID string
	// Expires is the upload's expiry (Upload-Expires).
	Expires time.Time

	arm func() // set by the lock: the request now streams its body
}

type requestKey struct{}

// WithRequest returns ctx carrying r.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

func requestOf(ctx context.Context) *Request {
	if r, ok := ctx.Value(requestKey{}).(*Request); ok {
		return r
	}
	return &Request{}
}

// Errors the store answers with (tusd sends their status; the API turns
// them into problems with the code before the colon).
var (
	ErrNotPDF           = handler.NewError("not_pdf", "The file is not a PDF: no %PDF- signature in its first 1024 bytes. The upload was deleted.", http.StatusUnsupportedMediaType)
	ErrExpired          = handler.NewError("upload_expired", "The upload expired and its bytes were deleted; start a new one.", http.StatusGone)
	ErrChecksumMismatch = handler.NewError("checksum_mismatch", "The chunk does not match its Upload-Checksum; it was dropped. Send it again.", 460)
	ErrQuotaExceeded    = handler.NewError("quota_exceeded", "Your documents would exceed your quota; delete some to make room. The upload was deleted.", http.StatusTooManyRequests)
	ErrQuotaReached     = handler.NewError("quota_exceeded", "The upload reached your quota: the bytes that fit are kept; delete documents to make room, then resume.", http.StatusRequestEntityTooLarge)
	ErrTooManyParts     = handler.NewError("too_large", "The upload is larger than the store can hold.", http.StatusRequestEntityTooLarge)
	ErrNotFinished      = handler.NewError("upload_not_finished", "A partial upload of this concatenation has not finished.", http.StatusBadRequest)
	ErrBadConcat        = handler.NewError("bad_concatenation", "A final upload may name only your own partial uploads (created with Upload-Concat: partial), each once.", http.StatusBadRequest)
	ErrPartialUsed      = handler.NewError("partial_used", "A partial upload of this concatenation was used by another final upload meanwhile.", http.StatusConflict)
	errUnavailable      = handler.NewError("storage_unavailable", "The upload could not be stored now; what arrived before is kept. Resume shortly.", http.StatusServiceUnavailable)
)

// NewUpload records a new upload. Its id is also the id of the document
// it becomes (its key is that document's original's).
func (s *Store) NewUpload(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	req := requestOf(ctx)
	if req.Owner == "" {
		return nil, errors.New("uploads: no owner in the request")
	}
	id := uuid.Must(uuid.NewV7())
	st := &state{
		ID: id, Owner: req.Owner, Filename: info.MetaData["filename"], Metadata: info.MetaData,
		Partial: info.IsPartial, ExpiresAt: s.now().Add(s.cfg.Expiry),
	}
	if st.Metadata == nil {
		st.Metadata = map[string]string{}
	}
	if !info.SizeIsDeferred {
		size := info.Size
		st.Size = &size
	}
	if info.IsFinal {
		st.PartialIDs = make([]uuid.UUID, 0, len(info.PartialUploads))
		for _, p := range info.PartialUploads {
			pid, err := uuid.Parse(p)
			if err != nil {
				return nil, handler.ErrNotFound
			}
			st.PartialIDs = append(st.PartialIDs, pid)
		}
		if err := checkPartials(ctx, s.cfg.Pool, req.Owner, st.PartialIDs); err != nil {
			return nil, err
		}
	}
	if st.Partial {
		st.Key = PartialPrefix + documents.OwnerSegment(req.Owner) + "/" + id.String()
	} else {
		st.Key = documents.OriginalKey(req.Owner, id)
	}
	if err := insertState(ctx, s.cfg.Pool, st); err != nil {
		return nil, err
	}
	req.Expires = st.ExpiresAt
	return &upload{s: s, st: st}, nil
}

// GetUpload loads the owner's upload: another owner's is not found.
func (s *Store) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	req := requestOf(ctx)
	uid, err := uuid.Parse(id)
	if err != nil || req.Owner == "" {
		return nil, handler.ErrNotFound
	}
	st, err := loadState(ctx, s.cfg.Pool, req.Owner, uid)
	if errors.Is(err, errNoUpload) {
		return nil, handler.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if !st.committed() && st.ExpiresAt.Before(s.now()) {
		return nil, ErrExpired
	}
	u := &upload{s: s, st: st}
	if !req.Locked {
		// A creation looking up the partial uploads it names: what it
		// answers is about the new upload, not these.
		return u, nil
	}
	// Every byte arrived but the commit did not happen (the process
	// died, or the database failed): finish it now, under the lock.
	if st.complete() && !st.committed() && !st.final() {
		if err := u.finish(ctx, true); err != nil {
			return nil, err
		}
	}
	u.tell(req)
	return u, nil
}

// upload is one upload as loaded by a request.
type upload struct {
	s  *Store
	st *state
}

func (u *upload) tell(req *Request) {
	if u.st.DocumentID != nil {
		req.DocumentID = u.st.DocumentID.String()
	}
	req.Expires = u.st.ExpiresAt
}

func (u *upload) GetInfo(ctx context.Context) (handler.FileInfo, error) {
	st := u.st
	info := handler.FileInfo{
		ID: st.ID.String(), Offset: st.Offset, MetaData: st.Metadata,
		IsPartial: st.Partial, IsFinal: st.final(),
		Storage: map[string]string{"Type": "folio", "Key": st.Key},
	}
	if st.Size == nil {
		info.SizeIsDeferred = true
	} else {
		info.Size = *st.Size
	}
	for _, p := range st.PartialIDs {
		info.PartialUploads = append(info.PartialUploads, p.String())
	}
	return info, nil
}

func (u *upload) GetReader(context.Context) (io.ReadCloser, error) {
	return nil, handler.ErrNotImplemented
}

// WriteChunk streams src into the upload's parts (see writer).
func (u *upload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	if u.st.committed() {
		return 0, handler.ErrMismatchOffset
	}
	req := requestOf(ctx)
	if req.arm != nil {
		req.arm()
	}
	w, err := u.newWriter(ctx, req.Checksum == nil)
	if err != nil {
		return 0, err
	}
	var sum hash.Hash
	if req.Checksum != nil {
		sum = req.Checksum.new()
		src = io.TeeReader(src, sum)
	}
	if req.Stop != nil {
		src = stopReader{r: src, stop: req.Stop}
	}
	// A length not declared yet counts what the upload holds against the
	// quota as it grows: the bytes past the room left are refused.
	var quota *capReader
	if u.st.Size == nil {
		room, err := u.s.admission().Room(ctx, u.s.cfg.Pool, u.st.Owner)
		if err != nil {
			w.release()
			return 0, err
		}
		if room <= 0 {
			w.release()
			return 0, ErrQuotaReached
		}
		quota = &capReader{r: src, left: room}
		src = quota
	}
	n, err := w.write(src, !u.st.Partial)
	if err != nil {
		return n, err
	}
	if sum != nil && !req.Checksum.matches(sum) {
		return 0, ErrChecksumMismatch
	}
	if err := w.save(); err != nil {
		return 0, err
	}
	u.st.ExpiresAt = w.expires
	u.tell(req)
	if quota != nil && quota.over {
		return n, ErrQuotaReached
	}
	return n, nil
}

// admission is the quota rule of the store's uploads.
func (s *Store) admission() *Admission {
	return &Admission{MaxSize: s.cfg.MaxSize, Quota: s.cfg.Quota, Scan: s.cfg.Scan}
}

// capReader reads at most left bytes of r, then ends; over says that r
// had more.
type capReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var probe [1]byte
		if n, _ := io.ReadFull(c.r, probe[:]); n > 0 {
			c.over = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// FinishUpload completes the object and, unless the upload is partial,
// records the document.
func (u *upload) FinishUpload(ctx context.Context) error {
	err := u.finish(ctx, false)
	u.tell(requestOf(ctx))
	return err
}

// finish completes the object (flushing the tail as its last part) and
// commits. recovering: a previous attempt may have completed the object
// already.
func (u *upload) finish(ctx context.Context, recovering bool) error {
	st := u.st
	if st.committed() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	// A file with no whole part was never looked at as a whole (it may
	// be empty, or its length came after its bytes): its first bytes are
	// all in the tail.
	if !st.Partial && len(st.Parts) == 0 && !documents.LooksLikePDF(st.Tail) {
		u.discard(ctx)
		return ErrNotPDF
	}
	if err := u.completeObject(ctx, recovering); err != nil {
		u.s.cfg.Logger.Error("upload: completing the object", "upload_id", st.ID, "err", err)
		return errUnavailable
	}
	if st.Partial {
		_, err := u.s.cfg.Pool.Exec(ctx, `UPDATE uploads SET completed_at = now(), tail = '', updated_at = now() WHERE id = $1`, st.ID)
		if err != nil {
			return fmt.Errorf("error recording a finished partial upload: %w", err)
		}
		now := u.s.now()
		st.CompletedAt = &now
		return nil
	}
	return u.commit(ctx)
}

// completeObject makes the object at st.Key hold every byte.
func (u *upload) completeObject(ctx context.Context, recovering bool) error {
	st, store := u.st, u.s.cfg.Store
	if recovering {
		if size, err := store.Head(ctx, st.Key); err == nil && size == st.Offset {
			return nil
		}
	}
	if st.S3UploadID == "" {
		return store.PutBytes(ctx, st.Key, st.Tail, u.s.putOptions(st))
	}
	err := u.completeMultipart(ctx)
	if errors.Is(err, storage.ErrUploadGone) {
		// Completed by an attempt that died before its commit.
		if size, herr := store.Head(ctx, st.Key); herr == nil && size == st.Offset {
			return nil
		}
	}
	return err
}

// completeMultipart sends the tail as the last part and completes the
// multipart upload.
func (u *upload) completeMultipart(ctx context.Context) error {
	st, store := u.st, u.s.cfg.Store
	parts := st.Parts
	if len(st.Tail) > 0 || len(parts) == 0 {
		num := int32(len(parts) + 1)
		etag, err := store.UploadPart(ctx, st.Key, st.S3UploadID, num, st.Tail)
		if err != nil {
			return err
		}
		parts = append(parts[:len(parts):len(parts)], storage.Part{Number: num, ETag: etag, Size: int64(len(st.Tail))})
	}
	return store.CompleteMultipart(ctx, st.Key, st.S3UploadID, parts)
}

// commit records the document and marks the upload with it, in one
// transaction. Over quota: the object and the upload are deleted.
func (u *upload) commit(ctx context.Context) error {
	st := u.st
	digest, err := restoreHash(st.HashState)
	if err != nil {
		return err
	}
	doc := &documents.Document{
		ID: st.ID, Owner: st.Owner, Filename: st.Filename, SizeBytes: st.Offset,
		SHA256: hex.EncodeToString(digest.Sum(nil)), S3Key: st.Key, OCRLanguages: st.Metadata["ocr_languages"],
		AppData: TusAppData(st.Metadata),
	}
	err = pgx.BeginFunc(ctx, u.s.cfg.Pool, func(tx pgx.Tx) error {
		if err := documents.CreateTx(ctx, tx, u.s.cfg.Queue, doc, u.s.admission().Intake()); err != nil {
			return err
		}
		if st.final() {
			// The partial uploads are used up with the commit: a final
			// racing for the same ones finds them gone and rolls back.
			tag, err := tx.Exec(ctx, `DELETE FROM uploads WHERE owner = $1 AND id = ANY($2) AND partial AND completed_at IS NOT NULL`,
				st.Owner, st.PartialIDs)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != int64(len(st.PartialIDs)) {
				return errPartialUsed
			}
		}
		_, err := tx.Exec(ctx, `UPDATE uploads SET document_id = id, completed_at = now(), tail = '', updated_at = now(),
			expires_at = $2 WHERE id = $1`, st.ID, u.s.now().Add(u.s.cfg.Expiry))
		return err
	})
	if errors.Is(err, documents.ErrQuotaExceeded) {
		u.discard(ctx)
		return ErrQuotaExceeded
	}
	if errors.Is(err, errPartialUsed) {
		u.discard(ctx)
		return ErrPartialUsed
	}
	if err != nil {
		u.s.cfg.Logger.Error("upload: committing", "upload_id", st.ID, "err", err)
		return errUnavailable
	}
	st.DocumentID = &st.ID
	u.s.cfg.Logger.Info("upload: created", "document_id", st.ID, "size_bytes", st.Offset, "resumable", true)
	return nil
}

// discard deletes the upload's bytes and row (termination, a refused
// file, the quota).
func (u *upload) discard(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	st, store := u.st, u.s.cfg.Store
	if st.S3UploadID != "" {
		_ = store.AbortUpload(ctx, storage.Upload{Key: st.Key, UploadID: st.S3UploadID})
	}
	if st.DocumentID == nil {
		_ = store.Delete(ctx, st.Key)
	}
	if _, err := u.s.cfg.Pool.Exec(ctx, `DELETE FROM uploads WHERE id = $1`, st.ID); err != nil {
		u.s.cfg.Logger.Error("upload: deleting", "upload_id", st.ID, "err", err)
	}
}

func (s *Store) putOptions(st *state) storage.PutOptions {
	if st.Partial {
		return storage.PutOptions{ContentType: "application/octet-stream"}
	}
	return s.cfg.PutOptions(st.Filename)
}

// AsTerminatableUpload lets DELETE end an upload.
func (s *Store) AsTerminatableUpload(up handler.Upload) handler.TerminatableUpload {
	return up.(*upload)
}

// Terminate deletes the upload's bytes and row. A finished upload's
// document stays (DELETE /v1/documents/{id} deletes it).
func (u *upload) Terminate(ctx context.Context) error {
	u.discard(ctx)
	return nil
}

// AsLengthDeclarableUpload lets a deferred length be declared.
func (s *Store) AsLengthDeclarableUpload(up handler.Upload) handler.LengthDeclarableUpload {
	return up.(*upload)
}

// DeclareLength sets a deferred length.
func (u *upload) DeclareLength(ctx context.Context, length int64) error {
	if length > u.s.cfg.MaxSize {
		return handler.ErrMaxSizeExceeded
	}
	// What it holds is counted already; what it will hold must fit.
	room, err := u.s.admission().Room(ctx, u.s.cfg.Pool, u.st.Owner)
	if err != nil {
		return err
	}
	if length-u.st.Offset > room {
		return ErrQuotaReached
	}
	tag, err := u.s.cfg.Pool.Exec(ctx, `UPDATE uploads SET size = $2, updated_at = now() WHERE id = $1 AND size IS NULL AND "offset" <= $2`, u.st.ID, length)
	if err != nil {
		return fmt.Errorf("error declaring upload length: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return handler.ErrInvalidUploadLength
	}
	u.st.Size = &length
	return nil
}

// restoreHash returns the SHA-256 digest at a saved state (a new one for
// none).
func restoreHash(saved []byte) (hash.Hash, error) {
	h := sha256.New()
	if len(saved) == 0 {
		return h, nil
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(saved); err != nil {
		return nil, fmt.Errorf("error restoring an upload's hash: %w", err)
	}
	return h, nil
}

func saveHash(h hash.Hash) []byte {
	b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(err) // sha256's digest always marshals
	}
	return b
}

// Checksum is an Upload-Checksum: an algorithm and the expected digest.
type Checksum struct {
	Algorithm string
	Sum       []byte
}

// ChecksumAlgorithms are the algorithms Upload-Checksum may name.
const ChecksumAlgorithms = "sha1,sha256"

func (c *Checksum) new() hash.Hash {
	if strings.EqualFold(c.Algorithm, "sha256") {
		return sha256.New()
	}
	return newSHA1()
}

func (c *Checksum) matches(h hash.Hash) bool {
	got := h.Sum(nil)
	return len(got) == len(c.Sum) && string(got) == string(c.Sum)
}
