package api

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/foliohq/folio/backup"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/ratelimit"
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
		s.writeError(w, err)
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
	status := documents.Status(q.Get("status"))
	if status != "" && !slices.Contains(documents.Statuses, status) {
		writeProblem(w, problem(http.StatusBadRequest, "bad_status", fmt.Sprintf("status must be one of %v.", documents.Statuses)))
		return
	}
	filter, err := documents.AppDataFromForm(slices.Collect(maps.Keys(q)), func(name string) []string { return q[name] })
	if err != nil {
		writeProblem(w, s.problemFor(err))
		return
	}
	docs, next, err := documents.ListWhere(r.Context(), s.Pool, ownerOf(r.Context()),
		documents.ListOptions{Status: status, Filter: filter, After: after, Limit: limit})
	if err != nil {
		s.writeError(w, err)
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
	if p := unscanned(doc); p != nil {
		writeProblem(w, p)
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
	id, ok := documentID(r)
	if !ok {
		writeProblem(w, errNotFound)
		return
	}
	owner := ownerOf(r.Context())
	if p := s.limit(r.Context(), owner, ratelimit.Reparse, s.Limits.ReparseRateLimit, time.Minute, "reparses"); p != nil {
		writeProblem(w, p)
		return
	}
	var langs string
	if asked := r.URL.Query().Get("ocr_languages"); asked != "" {
		var p *Problem
		if langs, p = s.ocrLanguages(asked); p != nil {
			writeProblem(w, p)
			return
		}
	}
	doc, err := documents.ReparseWith(r.Context(), s.Pool, s.River, owner, id,
		documents.ReparseOptions{OCRLanguages: langs, Scan: s.Limits.Scan})
	if err != nil {
		s.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, doc)
}

// delete handles DELETE /v1/documents/{id}: record the erasure in the
// ledger (a restore applies it again), cancel its parse if queued or
// running, delete the row, then the original. Deleting again answers 404;
// the outcome is the same.
func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	id, ok := documentID(r)
	if !ok {
		writeProblem(w, errNotFound)
		return
	}
	owner := ownerOf(r.Context())
	if _, err := documents.Get(r.Context(), s.Pool, owner, id); err != nil {
		s.writeError(w, err)
		return
	}
	err := backup.Ledger{Store: s.Store}.Record(r.Context(), backup.Erasure{DocumentID: id, Owner: owner, By: "owner"})
	if err != nil {
		s.Logger.Error("delete: recording the erasure", "document_id", id, "err", err)
		writeProblem(w, errStorage)
		return
	}
	doc, err := documents.Delete(r.Context(), s.Pool, s.River, owner, id)
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.cleanupObject(r.Context(), doc.S3Key)
	s.cleanupDerived(r.Context(), doc)
	w.WriteHeader(http.StatusNoContent)
}

// update handles PATCH /v1/documents/{id}: the application's data, as a
// JSON merge patch (RFC 7396) of {external_id, metadata}: a member
// absent is left, null removes it (a metadata key set to null removes
// that key). The answer is the document; a change writes document.updated.
func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	id, ok := documentID(r)
	if !ok {
		writeProblem(w, errNotFound)
		return
	}
	var in map[string]json.RawMessage
	if p := decodeBody(w, r, &in); p != nil {
		writeProblem(w, p)
		return
	}
	var patch documents.AppDataPatch
	for name, raw := range in {
		switch name {
		case "external_id":
			var v *string
			if err := json.Unmarshal(raw, &v); err != nil {
				writeProblem(w, problem(http.StatusBadRequest, "bad_external_id", "external_id must be a string or null."))
				return
			}
			if v == nil {
				v = new(string)
			}
			patch.ExternalID = v
		case "metadata":
			if string(raw) == "null" {
				patch.ClearMetadata = true
				continue
			}
			m, p := metadataObject(raw, true)
			if p != nil {
				writeProblem(w, p)
				return
			}
			patch.Metadata = m
		default:
			writeProblem(w, problem(http.StatusBadRequest, "bad_patch",
				fmt.Sprintf("%q cannot be changed: a PATCH changes external_id and metadata only.", name)))
			return
		}
	}
	doc, err := documents.UpdateAppData(r.Context(), s.Pool, ownerOf(r.Context()), id, patch)
	if err != nil {
		s.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}
