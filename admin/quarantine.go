package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/foliohq/folio/backup"
	"github.com/foliohq/folio/documents"
)

// quarantineList handles GET /admin/api/quarantine?limit=: every owner's
// quarantined documents, oldest first.
func (s *Server) quarantineList(w http.ResponseWriter, r *http.Request) {
	limit := 1000
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10_000 {
			writeProblem(w, http.StatusBadRequest, "bad_limit", "limit must be a whole number from 1 to 10000.")
			return
		}
		limit = n
	}
	docs, err := documents.Quarantined(r.Context(), s.cfg.Pool, limit)
	if err != nil {
		s.logger.Error("listing quarantined documents", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "database_unavailable", "The database is not answering; try again shortly.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"documents": docs})
}

// actionBody is what a release, rescan or delete may say: who does it
// (the audit line's actor; "admin" when absent) and why.
type actionBody struct {
	By   string `json:"by"`
	Note string `json:"note"`
}

// quarantineAction handles POST /admin/api/documents/{id}/release and
// /rescan, and DELETE /admin/api/documents/{id} (quarantined ones only).
func (s *Server) quarantineAction(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeProblem(w, http.StatusNotFound, "not_found", "No such document.")
		return
	}
	var body actionBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<10)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		writeProblem(w, http.StatusBadRequest, "bad_json", `The body, if any, must be a JSON object like {"by": "ops@example.com", "note": "a false positive"}.`)
		return
	}
	actor := strings.TrimSpace(body.By)
	if actor == "" {
		actor = "admin"
	}
	ctx := r.Context()
	switch {
	case r.Method == http.MethodDelete:
		err = s.recordErasure(ctx, id, actor)
		if err == nil {
			_, err = documents.DeleteQuarantined(ctx, s.cfg.Pool, s.river, id, actor)
		}
	case strings.HasSuffix(r.URL.Path, "/release"):
		_, err = documents.Release(ctx, s.cfg.Pool, s.river, id, actor, body.Note)
	default:
		err = documents.QueueRescan(ctx, s.cfg.Pool, s.river, id, actor)
	}
	switch {
	case errors.Is(err, documents.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "not_found", "No such document.")
		return
	case errors.Is(err, documents.ErrNotQuarantined):
		writeProblem(w, http.StatusConflict, "not_quarantined", "The document is not quarantined.")
		return
	case errors.Is(err, documents.ErrParseRunning):
		writeProblem(w, http.StatusConflict, "scan_in_progress", "The document is being scanned already.")
		return
	case err != nil:
		s.logger.Error("quarantine action", "document_id", id, "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "database_unavailable", "The database is not answering; try again shortly.")
		return
	}
	doc, err := documents.Original(ctx, s.cfg.Pool, id)
	if errors.Is(err, documents.ErrNotFound) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		writeProblem(w, http.StatusServiceUnavailable, "database_unavailable", "The database is not answering; try again shortly.")
		return
	}
	writeJSON(w, http.StatusOK, documents.Owned{Document: doc, Owner: doc.Owner})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// recordErasure writes a quarantined document's erasure to the ledger
// before it is deleted.
func (s *Server) recordErasure(ctx context.Context, id uuid.UUID, actor string) error {
	if s.cfg.Ledger == nil {
		return nil
	}
	doc, err := documents.Original(ctx, s.cfg.Pool, id)
	if err != nil {
		return err
	}
	if doc.Status != documents.StatusQuarantined {
		return documents.ErrNotQuarantined
	}
	return s.cfg.Ledger.Record(ctx, backup.Erasure{DocumentID: id, Owner: doc.Owner, By: actor})
}
