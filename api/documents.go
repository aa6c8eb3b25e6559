package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/jobs"
)

// documentID reads the {id} path value; a malformed id is a document that
// does not exist.
func documentID(r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	return id, err == nil
}

// loadDocument reads the caller's document {id}. When it cannot, it has
// answered (404 or 503) and ok is false.
func (s *Server) loadDocument(w http.ResponseWriter, r *http.Request) (*documents.Document, bool) {
	id, ok := documentID(r)
	if !ok {
		writeProblem(w, errNotFound)
		return nil, false
	}
	doc, err := documents.Get(r.Context(), s.Pool, ownerOf(r.Context()), id)
	if err != nil {
		s.writeRepoError(w, err)
		return nil, false
	}
	return doc, true
}

// get handles GET /v1/documents/{id}.
func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	doc, ok := s.loadDocument(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

// documentList is one page of GET /v1/documents.
type documentList struct {
	Documents  []*documents.Document `json:"documents"`
	NextCursor string                `json:"next_cursor,omitempty"`
}

// list handles GET /v1/documents?limit=&cursor=: newest first, keyset
// pagination.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeProblem(w, problem(http.StatusBadRequest, "bad_limit", "limit must be a whole number from 1 to 100."))
			return
		}
		limit = n
	}
	var after *documents.Cursor
	if v := q.Get("cursor"); v != "" {
		c, err := documents.ParseCursor(v)
		if err != nil {
			writeProblem(w, problem(http.StatusBadRequest, "bad_cursor", "cursor is not one this API gave out."))
			return
		}
		after = &c
	}
	docs, next, err := documents.List(r.Context(), s.Pool, ownerOf(r.Context()), after, limit)
	if err != nil {
		s.writeRepoError(w, err)
		return
	}
	page := documentList{Documents: docs}
	if next != nil {
		page.NextCursor = next.String()
	}
	writeJSON(w, http.StatusOK, page)
}

// content handles GET /v1/documents/{id}/content: a redirect to a
// short-lived presigned S3 URL that downloads the original under its name.
func (s *Server) content(w http.ResponseWriter, r *http.Request) {
	doc, ok := s.loadDocument(w, r)
	if !ok {
		return
	}
	u, err := s.Store.PresignGet(r.Context(), doc.S3Key, contentDisposition(doc.Filename), s.Limits.PresignTTL)
	if err != nil {
		s.Logger.Error("presigning", "document_id", doc.ID, "err", err)
		writeProblem(w, errStorage)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
}

// reparse handles POST /v1/documents/{id}/reparse: enqueue the parse again,
// unless one is queued or running (409).
func (s *Server) reparse(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tx, doc, ok := s.lockDocument(w, r)
	if !ok {
		return
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	id := doc.ID
	if doc.Status.Busy() {
		writeProblem(w, problem(http.StatusConflict, "parse_in_progress", "A parse of this document is already "+string(doc.Status)+"."))
		return
	}
	if err := documents.Requeue(ctx, tx, id); err != nil {
		s.writeRepoError(w, err)
		return
	}
	res, err := s.River.InsertTx(ctx, tx, jobs.ParseArgs{DocumentID: id}, nil)
	if err != nil {
		s.writeRepoError(w, err)
		return
	}
	if res.UniqueSkippedAsDuplicate {
		writeProblem(w, problem(http.StatusConflict, "parse_in_progress", "A parse of this document is already queued."))
		return
	}
	if _, err := events.Append(ctx, tx, id, events.DocumentQueued, map[string]any{"reparse": true}); err != nil {
		s.writeRepoError(w, err)
		return
	}
	if err := tx.Commit(ctx); err != nil {
		s.writeRepoError(w, err)
		return
	}
	doc, err = documents.Get(ctx, s.Pool, ownerOf(ctx), id)
	if err != nil {
		s.writeRepoError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, doc)
}

// delete handles DELETE /v1/documents/{id}: cancel its parse if queued or
// running, delete the row, then the original. Deleting again answers 404;
// the outcome is the same.
func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tx, doc, ok := s.lockDocument(w, r)
	if !ok {
		return
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	id := doc.ID
	jobIDs, err := jobs.ActiveParseJobs(ctx, tx, id)
	if err != nil {
		s.writeRepoError(w, err)
		return
	}
	for _, jobID := range jobIDs {
		if _, err := s.River.JobCancelTx(ctx, tx, jobID); err != nil {
			s.writeRepoError(w, err)
			return
		}
	}
	if len(jobIDs) > 0 {
		if _, err := events.Append(ctx, tx, id, events.DocumentCanceled, nil); err != nil {
			s.writeRepoError(w, err)
			return
		}
	}
	if _, err := events.Append(ctx, tx, id, events.DocumentDeleted, nil); err != nil {
		s.writeRepoError(w, err)
		return
	}
	if err := documents.Delete(ctx, tx, id); err != nil {
		s.writeRepoError(w, err)
		return
	}
	if err := tx.Commit(ctx); err != nil {
		s.writeRepoError(w, err)
		return
	}
	s.cleanupObject(ctx, doc.S3Key)
	w.WriteHeader(http.StatusNoContent)
}

// lockDocument begins a transaction holding the caller's document {id}
// locked. When it cannot, it has answered (404 or 503) and ok is false.
func (s *Server) lockDocument(w http.ResponseWriter, r *http.Request) (tx pgx.Tx, doc *documents.Document, ok bool) {
	id, ok := documentID(r)
	if !ok {
		writeProblem(w, errNotFound)
		return nil, nil, false
	}
	tx, err := s.Pool.Begin(r.Context())
	if err != nil {
		s.writeRepoError(w, err)
		return nil, nil, false
	}
	doc, err = documents.GetForUpdate(r.Context(), tx, ownerOf(r.Context()), id)
	if err != nil {
		_ = tx.Rollback(r.Context())
		s.writeRepoError(w, err)
		return nil, nil, false
	}
	return tx, doc, true
}

// writeRepoError maps repository errors to problems: this is the one place
// where domain errors become HTTP statuses for document endpoints.
func (s *Server) writeRepoError(w http.ResponseWriter, err error) {
	if errors.Is(err, documents.ErrNotFound) {
		writeProblem(w, errNotFound)
		return
	}
	s.Logger.Error("database error", "err", err)
	writeProblem(w, errDatabase)
}
