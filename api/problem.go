package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/uploads"
)

// Problem is an RFC 9457 problem detail. Code is Folio's stable,
// machine-readable name for it; docs/errors.md lists them all.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
	// Reason is a page's own reason code (page_not_rendered: time_limit,
	// memory_limit, page_too_large, render_failed).
	Reason string `json:"reason,omitempty"`

	retryAfter time.Duration
}

func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

// problem makes a Problem; title is the status text.
func problem(status int, code, detail string) *Problem {
	return &Problem{Type: "urn:folio:problem:" + code, Title: http.StatusText(status), Status: status, Detail: detail, Code: code}
}

// Problems the handlers share.
var (
	errUnauthorized = func(detail string) *Problem { return problem(http.StatusUnauthorized, "unauthorized", detail) }
	errNotFound     = problem(http.StatusNotFound, "not_found", "No such document.")
	errDatabase     = problem(http.StatusServiceUnavailable, "database_unavailable", "The database is not answering; try again shortly.")
	errStorage      = problem(http.StatusServiceUnavailable, "storage_unavailable", "The object store is not answering; try again shortly.")
)

// writeProblem sends p as application/problem+json.
func writeProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="folio"`)
	}
	if p.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((p.retryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// problemFor maps an error from the layers below to the problem a client
// sees: the one place where domain errors become HTTP statuses. Anything
// it does not know is the database failing (errDatabase); the caller logs
// those (writeError does).
func (s *Server) problemFor(err error) *Problem {
	var running *documents.ParseRunningError
	switch {
	case errors.Is(err, documents.ErrQuarantined):
		return problem(http.StatusForbidden, "quarantined", "Malware was found in this document: it is quarantined and is not parsed again. An operator may release it.")
	case errors.Is(err, documents.ErrNotFound):
		return errNotFound
	case errors.As(err, &running):
		return problem(http.StatusConflict, "parse_in_progress", "A parse of this document is already "+string(running.Status)+".")
	case errors.Is(err, documents.ErrQuotaExceeded), errors.Is(err, uploads.ErrOverQuota):
		return overQuota(s.Limits.OwnerQuotaBytes)
	case errors.Is(err, uploads.ErrTooLarge):
		return tooLarge(s.Limits.MaxUploadBytes)
	}
	var bad *documents.AppDataError
	if errors.As(err, &bad) {
		return problem(http.StatusBadRequest, bad.Code, bad.Detail)
	}
	var limited *uploads.RateLimitedError
	if errors.As(err, &limited) {
		p := problem(http.StatusTooManyRequests, "rate_limited",
			fmt.Sprintf("At most %d uploads per %s; try again later.", limited.Limit, limited.Window))
		p.retryAfter = limited.RetryAfter
		return p
	}
	return errDatabase
}

// writeError answers with err's problem, logging errors that are not the
// client's.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	p := s.problemFor(err)
	if p == errDatabase {
		s.Logger.Error("database error", "err", err)
	}
	writeProblem(w, p)
}
