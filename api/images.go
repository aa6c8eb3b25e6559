package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/jobs/jobargs"
	"github.com/foliohq/folio/storage"
)

// pageImage handles GET /v1/documents/{id}/pages/{n}/image?width=: the
// page drawn at one of the fixed widths, as JPEG. A page not drawn at that
// width yet is rendered on demand (one render job for every concurrent
// request, on any API process) while the request waits up to RenderWait.
// An image never changes for its URL: ETag and a year's Cache-Control.
func (s *Server) pageImage(w http.ResponseWriter, r *http.Request) {
	id, ok := documentID(r)
	// Page numbers are 32-bit in the database: anything past that is
	// no page of any document.
	n64, err := strconv.ParseInt(r.PathValue("n"), 10, 32)
	if !ok || err != nil || n64 < 1 {
		writeProblem(w, errNotFound)
		return
	}
	n := int(n64)
	width := jobargs.ThumbnailWidth
	if v := r.URL.Query().Get("width"); v != "" {
		if width, err = strconv.Atoi(v); err != nil || !slices.Contains(jobargs.RenderWidths, width) {
			writeProblem(w, problem(http.StatusBadRequest, "bad_width",
				fmt.Sprintf("width must be one of %s.", strings.Trim(fmt.Sprint(jobargs.RenderWidths), "[]"))))
			return
		}
	}
	owner := ownerOf(r.Context())
	doc, img, err := documents.Image(r.Context(), s.Pool, owner, id, n, width)
	if err != nil {
		s.writeError(w, err)
		return
	}
	if p := unscanned(doc); p != nil {
		writeProblem(w, p)
		return
	}
	if doc.PageCount != nil && n > *doc.PageCount {
		writeProblem(w, noSuchPage(*doc.PageCount))
		return
	}
	if img == nil {
		// Nothing is queued for a document not parsed yet (its page count
		// is not known, and its thumbnails are on their way), nor beyond an
		// owner's share of the render queue.
		if !requireDone(w, doc) {
			return
		}
		backlog, err := jobargs.Backlog(r.Context(), s.Pool, jobargs.QueueRender, owner)
		if err != nil {
			s.writeError(w, err)
			return
		}
		if backlog >= s.Limits.RenderMaxQueued {
			p := problem(http.StatusTooManyRequests, "render_busy",
				fmt.Sprintf("You have %d page images being drawn already; ask again when they are done.", backlog))
			p.retryAfter = 2 * time.Second
			writeProblem(w, p)
			return
		}
		if img, err = s.awaitRender(r.Context(), owner, id, n, width); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	if img.Failure != nil {
		if img.Failure.Code == "no_such_page" {
			writeProblem(w, problem(http.StatusNotFound, "no_such_page", img.Failure.Message))
			return
		}
		p := problem(http.StatusUnprocessableEntity, "page_not_rendered", img.Failure.Message)
		p.Reason = img.Failure.Code
		writeProblem(w, p)
		return
	}
	s.serveImage(w, r, img)
}

func noSuchPage(count int) *Problem {
	return problem(http.StatusNotFound, "no_such_page", fmt.Sprintf("The document has %d pages.", count))
}

// serveImage streams a stored image, or answers 304 to a client that has it.
func (s *Server) serveImage(w http.ResponseWriter, r *http.Request, img *documents.PageImage) {
	sum := sha256.Sum256([]byte(img.S3Key))
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	// private: the image is the owner's; immutable: a key is never rewritten.
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	h.Set("X-Image-Width", strconv.Itoa(img.Width))
	h.Set("X-Image-Height", strconv.Itoa(img.Height))
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	obj, err := s.Store.Get(r.Context(), img.S3Key)
	if err != nil {
		s.Logger.Error("page image: reading the stored image", "key", img.S3Key, "err", err)
		writeProblem(w, errStorage)
		return
	}
	defer obj.Close()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Length", strconv.Itoa(img.SizeBytes))
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, obj); err != nil {
		s.Logger.Debug("page image: client went away", "err", err)
	}
}

// etagMatch reports whether an If-None-Match header names etag (or *).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

var (
	errRenderGaveUp = errors.New("the render job ended without an image")
	errRenderWait   = errors.New("the render is taking longer than the wait")
)

// awaitRender enqueues the page's render job (unique: a job already
// waiting or running for it is joined) and waits for its row. Concurrent
// requests on this process for one image share a single wait.
func (s *Server) awaitRender(ctx context.Context, owner string, id uuid.UUID, page, width int) (*documents.PageImage, error) {
	key := fmt.Sprintf("%s/%d/%d", id, page, width)
	ch := s.renders.DoChan(key, func() (any, error) {
		// Not the first caller's context: its leaving must not fail the rest.
		wctx, cancel := context.WithTimeoutCause(context.WithoutCancel(ctx), s.renderWait(), errRenderWait)
		defer cancel()
		opts, err := jobargs.FairOpts(wctx, s.Pool, jobargs.QueueRender, owner, nil)
		if err != nil {
			return nil, err
		}
		res, err := s.River.Insert(wctx, jobargs.RenderArgs{DocumentID: id, Page: page, Width: width, Owner: owner}, opts)
		if err != nil {
			return nil, fmt.Errorf("error enqueueing render: %w", err)
		}
		s.Logger.Info("page image: rendering on demand", "document_id", id, "page", page, "width", width,
			"job_id", res.Job.ID, "joined", res.UniqueSkippedAsDuplicate)
		// The caller checked the owner: poll the image's row only.
		for delay := 20 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
			img, err := documents.ImageOf(wctx, s.Pool, id, page, width)
			if err != nil || img != nil {
				return img, err
			}
			job, err := s.River.JobGet(wctx, res.Job.ID)
			if err != nil {
				return nil, err
			}
			if job.FinalizedAt != nil {
				// Finished: the row is there now, or never will be (the
				// document may have been deleted meanwhile: 404).
				if _, img, err = documents.Image(wctx, s.Pool, owner, id, page, width); err != nil || img != nil {
					return img, err
				}
				return nil, errRenderGaveUp
			}
			select {
			case <-wctx.Done():
				return nil, context.Cause(wctx)
			case <-time.After(delay):
			}
		}
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*documents.PageImage), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Server) renderWait() time.Duration {
	if s.Limits.RenderWait > 0 {
		return s.Limits.RenderWait
	}
	return 30 * time.Second
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case r.Context().Err() != nil:
		return // the client left
	case errors.Is(err, errRenderWait):
		p := problem(http.StatusServiceUnavailable, "render_pending", "The page is being rendered; ask again in a moment.")
		p.retryAfter = 2 * time.Second
		writeProblem(w, p)
	case errors.Is(err, errRenderGaveUp):
		s.Logger.Error("page image: render job ended without an image", "err", err)
		writeProblem(w, problem(http.StatusServiceUnavailable, "render_unavailable",
			"Rendering the page failed for reasons that are not the file's; try again later."))
	case errors.Is(err, documents.ErrNotFound):
		writeProblem(w, errNotFound)
	default:
		s.writeError(w, err)
	}
}

// cleanupDerived deletes a deleted document's page images (what is left
// is the sweeper's).
func (s *Server) cleanupDerived(reqCtx context.Context, doc *documents.Document) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), commitTimeout)
	defer cancel()
	err := s.Store.EachObject(ctx, documents.DerivedPrefix(doc.Owner, doc.ID), func(objs []storage.ObjectInfo) error {
		for _, o := range objs {
			if err := s.Store.Delete(ctx, o.Key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.Logger.Error("delete: removing page images (the sweeper will retry)", "document_id", doc.ID, "err", err)
	}
}
