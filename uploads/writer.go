package uploads

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/storage"
)

// writer appends one request's bytes to an upload: the saved tail first,
// then the request's, cut into parts that go to S3 with at most the
// store's PartsInFlight in flight. With checkpoints, every part stored is
// recorded at once (in order) with the offset and hash at its end, so a
// process that dies loses only the parts in flight; without (a chunk with
// a checksum: all or nothing), save records everything at the end.
type writer struct {
	u          *upload
	ctx        context.Context
	checkpoint bool
	sha        hash.Hash
	start      int64 // the offset before this request
	offset     int64 // bytes received, saved or not
	buf        *[]byte
	fill       int
	next       int32 // the next part's number

	mu      sync.Mutex
	pending map[int32]stored // stored in S3, not yet recorded
	saved   int32            // the last part number recorded
	expires time.Time
	saveErr error
}

type stored struct {
	part      storage.Part
	end       int64
	hashState []byte
}

func (u *upload) newWriter(ctx context.Context, checkpoint bool) (*writer, error) {
	sha, err := restoreHash(u.st.HashState)
	if err != nil {
		return nil, err
	}
	w := &writer{
		u: u, ctx: ctx, checkpoint: checkpoint, sha: sha,
		start: u.st.Offset, offset: u.st.Offset,
		buf: u.s.cfg.Store.PartBuffer(), next: int32(len(u.st.Parts) + 1),
		pending: map[int32]stored{}, saved: int32(len(u.st.Parts)), expires: u.st.ExpiresAt,
	}
	w.fill = copy(*w.buf, u.st.Tail)
	return w, nil
}

// write reads src to its end and stores every whole part. It returns the bytes of src it took. sniff: the file's
// first bytes must carry %PDF- (the upload is deleted otherwise:
// ErrNotPDF).
func (w *writer) write(src io.Reader, sniff bool) (int64, error) {
	store := w.u.s.cfg.Store
	g, gctx := errgroup.WithContext(w.ctx)
	g.SetLimit(store.PartsInFlight())
	sniffing := sniff && w.u.st.Offset < documents.SniffLen
	var readErr error
	for {
		n, err := io.ReadFull(src, (*w.buf)[w.fill:])
		w.sha.Write((*w.buf)[w.fill : w.fill+n])
		w.fill += n
		w.offset += int64(n)
		eof := err != nil
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			readErr = err
		}
		if sniffing && (w.fill >= documents.SniffLen || eof) {
			head := (*w.buf)[:w.fill]
			whole := w.fill >= documents.SniffLen || (w.u.st.Size != nil && w.offset >= *w.u.st.Size)
			if !documents.LooksLikePDF(head) && whole {
				w.release()
				w.u.discard(w.ctx)
				return 0, ErrNotPDF
			}
			sniffing = !documents.LooksLikePDF(head)
		}
		if w.fill < len(*w.buf) {
			break // the body ended: the rest is the tail
		}
		if int(w.next) > maxParts {
			w.release()
			_ = g.Wait()
			return 0, ErrTooManyParts
		}
		if err := w.dispatch(gctx, g); err != nil {
			readErr = err
			break
		}
		if eof || gctx.Err() != nil {
			break
		}
	}
	upErr := g.Wait()
	w.mu.Lock()
	saveErr := w.saveErr
	w.mu.Unlock()
	if err := errors.Join(readErr, upErr, saveErr); err != nil {
		w.release()
		w.u.s.cfg.Logger.Warn("upload: a request's bytes were not all stored", "upload_id", w.u.st.ID, "err", err)
		// What was recorded stays: the client resumes from there.
		return w.u.st.Offset - w.start, errUnavailable
	}
	return w.offset - w.start, nil
}

const maxParts = 10_000

// stopReader ends a body early (io.EOF) once stop is closed: the bytes
// read so far are kept like those of a body that ended there.
type stopReader struct {
	r    io.Reader
	stop <-chan struct{}
}

func (s stopReader) Read(p []byte) (int, error) {
	select {
	case <-s.stop:
		return 0, io.EOF
	default:
		return s.r.Read(p)
	}
}

// dispatch uploads the full buffer as the next part and takes a fresh one.
func (w *writer) dispatch(gctx context.Context, g *errgroup.Group) error {
	st, store := w.u.st, w.u.s.cfg.Store
	if st.S3UploadID == "" {
		id, err := store.CreateMultipart(gctx, st.Key, w.u.s.putOptions(st))
		if err != nil {
			return err
		}
		// Recorded at once: the sweeper must know it is ours and alive.
		ctx, cancel := w.saveCtx()
		defer cancel()
		if _, err := w.u.s.cfg.Pool.Exec(ctx, `UPDATE uploads SET s3_upload_id = $2 WHERE id = $1`, st.ID, id); err != nil {
			store.AbortUpload(ctx, storage.Upload{Key: st.Key, UploadID: id}) //nolint:errcheck // best effort; the sweeper catches it
			return fmt.Errorf("error recording an upload's multipart upload: %w", err)
		}
		st.S3UploadID = id
	}
	num, buf, end, hs := w.next, w.buf, w.offset, saveHash(w.sha)
	w.next++
	g.Go(func() error {
		defer store.ReleasePartBuffer(buf)
		etag, err := store.UploadPart(gctx, st.Key, st.S3UploadID, num, *buf)
		if err != nil {
			return err
		}
		w.stored(stored{part: storage.Part{Number: num, ETag: etag, Size: int64(len(*buf))}, end: end, hashState: hs})
		return nil
	})
	w.buf = store.PartBuffer()
	w.fill = 0
	return nil
}

// stored records a part (and those after it that were waiting for it)
// when checkpointing.
func (w *writer) stored(s stored) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending[s.part.Number] = s
	if !w.checkpoint || w.saveErr != nil {
		return
	}
	for {
		next, ok := w.pending[w.saved+1]
		if !ok {
			return
		}
		if err := w.record([]stored{next}, nil); err != nil {
			w.saveErr = err
			return
		}
		delete(w.pending, next.part.Number)
	}
}

// save records what write stored and the tail (after a successful
// write, and a matching checksum).
func (w *writer) save() error {
	defer w.release()
	w.mu.Lock()
	defer w.mu.Unlock()
	var rest []stored
	for num := w.saved + 1; ; num++ {
		s, ok := w.pending[num]
		if !ok {
			break
		}
		rest = append(rest, s)
	}
	tail := (*w.buf)[:w.fill]
	if err := w.record(rest, tail); err != nil {
		w.u.s.cfg.Logger.Error("upload: recording", "upload_id", w.u.st.ID, "err", err)
		return errUnavailable
	}
	return nil
}

// record appends parts to the upload's row and sets its offset and hash
// at the last one's end, or, with a tail (even empty), at the end of
// everything received. Called with w.mu held.
func (w *writer) record(parts []stored, tail []byte) error {
	st := w.u.st
	newParts := make([]storage.Part, 0, len(parts))
	for _, p := range parts {
		newParts = append(newParts, p.part)
	}
	offset, hs, newTail := st.Offset, st.HashState, st.Tail
	if len(parts) > 0 {
		offset, hs, newTail = parts[len(parts)-1].end, parts[len(parts)-1].hashState, nil
	}
	if tail != nil {
		offset, hs, newTail = w.offset, saveHash(w.sha), tail
	}
	if newTail == nil {
		newTail = []byte{}
	}
	expires := w.u.s.now().Add(w.u.s.cfg.Expiry)
	ctx, cancel := w.saveCtx()
	defer cancel()
	_, err := w.u.s.cfg.Pool.Exec(ctx, `UPDATE uploads SET parts = parts || $2, "offset" = $3, hash_state = $4, tail = $5,
		expires_at = $6, updated_at = now() WHERE id = $1`, st.ID, newParts, offset, hs, newTail, expires)
	if err != nil {
		return fmt.Errorf("error recording upload progress: %w", err)
	}
	st.Parts = append(st.Parts, newParts...)
	st.Offset, st.HashState, st.Tail = offset, hs, append([]byte(nil), newTail...)
	w.saved += int32(len(parts))
	w.expires = expires
	return nil
}

func (w *writer) saveCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(w.ctx), saveTimeout)
}

func (w *writer) release() {
	if w.buf != nil {
		w.u.s.cfg.Store.ReleasePartBuffer(w.buf)
		w.buf = nil
	}
}
