package uploads

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/storage"
)

// Concatenation (tus's concatenation extension): partial uploads, each
// a plain upload of its own, become one document through a final upload
// that names them. A final may name only its owner's partial uploads,
// finished, each once (the API checks the list's form and length first);
// they are used up in the transaction that commits the final's document.

// errPartialUsed: another final took a partial upload first.
var errPartialUsed = errors.New("uploads: a partial upload was used by another final upload")

// checkPartials checks that every id names one of owner's partial uploads,
// finished.
func checkPartials(ctx context.Context, db pg.DBTX, owner string, ids []uuid.UUID) error {
	rows, err := db.Query(ctx, `SELECT partial, completed_at IS NOT NULL FROM uploads WHERE owner = $1 AND id = ANY($2)`, owner, ids)
	if err != nil {
		return fmt.Errorf("error reading partial uploads: %w", err)
	}
	defer rows.Close()
	found, notPartial, unfinished := 0, false, false
	for rows.Next() {
		var partial, completed bool
		if err := rows.Scan(&partial, &completed); err != nil {
			return fmt.Errorf("error reading partial uploads: %w", err)
		}
		found++
		notPartial = notPartial || !partial
		unfinished = unfinished || !completed
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("error reading partial uploads: %w", err)
	}
	switch {
	case found != len(ids):
		return handler.ErrNotFound
	case notPartial:
		return ErrBadConcat
	case unfinished:
		return ErrNotFinished
	}
	return nil
}

// AsConcatableUpload lets a final upload be made of partial ones.
func (s *Store) AsConcatableUpload(up handler.Upload) handler.ConcatableUpload { return up.(*upload) }

// ConcatUploads streams the partial uploads' objects, in order, into this
// final upload's parts (checked as a PDF from its first bytes, hashed),
// commits the document, then deletes the partial uploads. The bytes pass
// through this process once more: parts of any size, and the SHA-256 of
// the whole file, come at that price.
func (u *upload) ConcatUploads(ctx context.Context, partials []handler.Upload) (err error) {
	defer func() {
		if err != nil {
			u.discard(ctx)
		}
	}()
	// One partial's object open at a time, whatever their number: a
	// request never holds more than one S3 read.
	readers := make([]io.Reader, 0, len(partials))
	for _, p := range partials {
		pst := p.(*upload).st
		if !pst.committed() {
			return ErrNotFinished
		}
		readers = append(readers, &lazyObject{ctx: ctx, store: u.s.cfg.Store, key: pst.Key})
	}
	w, err := u.newWriter(ctx, false)
	if err != nil {
		return err
	}
	all := io.MultiReader(readers...)
	defer func() {
		for _, r := range readers {
			r.(*lazyObject).close()
		}
	}()
	if _, err := w.write(all, true); err != nil {
		var missing *missingPartError
		if errors.As(err, &missing) {
			return ErrNotFinished
		}
		return err
	}
	if u.st.Size != nil && w.offset != *u.st.Size {
		return ErrNotFinished
	}
	if err := w.save(); err != nil {
		return err
	}
	if err := u.finish(ctx, false); err != nil {
		return err
	}
	u.tell(requestOf(ctx))
	for _, p := range partials {
		p.(*upload).discard(ctx)
	}
	return nil
}

// lazyObject reads an object, opened at the first read and closed at its
// end, so that a reader of many objects holds one at a time.
type lazyObject struct {
	ctx   context.Context
	store *storage.Store
	key   string
	obj   io.ReadCloser
	done  bool
}

// missingPartError: a partial upload's object could not be read.
type missingPartError struct{ err error }

func (e *missingPartError) Error() string { return "a partial upload's object: " + e.err.Error() }
func (e *missingPartError) Unwrap() error { return e.err }

func (l *lazyObject) Read(p []byte) (int, error) {
	if l.done {
		return 0, io.EOF
	}
	if l.obj == nil {
		obj, err := l.store.Get(l.ctx, l.key)
		if err != nil {
			return 0, &missingPartError{err}
		}
		l.obj = obj
	}
	n, err := l.obj.Read(p)
	if errors.Is(err, io.EOF) {
		l.close()
	}
	return n, err
}

func (l *lazyObject) close() {
	if l.obj != nil {
		_ = l.obj.Close()
		l.obj = nil
	}
	l.done = true
}
