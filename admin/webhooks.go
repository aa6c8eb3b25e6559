package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/foliohq/folio/webhooks"
)

// endpointBody is what adding or updating an endpoint says.
type endpointBody struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	EventTypes  *[]string `json:"event_types"`
	Owners      *[]string `json:"owners"`
}

func (b endpointBody) input() webhooks.Input {
	return webhooks.Input{URL: b.URL, Description: b.Description, EventTypes: b.EventTypes, Owners: b.Owners}
}

// decode reads a small JSON body (none is an empty one).
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(v)
	if err != nil && !errors.Is(err, io.EOF) {
		writeProblem(w, http.StatusBadRequest, "bad_json", "The body must be a JSON object: "+err.Error())
		return false
	}
	return true
}

// writeWebhookError answers an error of the webhooks package.
func (s *Server) writeWebhookError(w http.ResponseWriter, err error) {
	var refused *webhooks.RefusedError
	var bad *webhooks.InputError
	switch {
	case errors.Is(err, webhooks.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "no_such_endpoint", "No such webhook endpoint.")
	case errors.Is(err, webhooks.ErrNoDelivery):
		writeProblem(w, http.StatusNotFound, "no_such_delivery", "No such webhook delivery.")
	case errors.As(err, &refused):
		writeProblem(w, http.StatusBadRequest, "address_refused", refused.Error()+
			" (loopback, private, link-local, multicast and cloud metadata addresses are refused; FOLIO_WEBHOOK_ALLOW_NETS names ranges to allow)")
	case errors.As(err, &bad):
		writeProblem(w, http.StatusBadRequest, "bad_endpoint", bad.Reason)
	default:
		s.logger.Error("webhooks", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "database_unavailable", "The database is not answering; try again shortly.")
	}
}

func endpointID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeProblem(w, http.StatusNotFound, "no_such_endpoint", "No such webhook endpoint.")
		return uuid.Nil, false
	}
	return id, true
}

// webhookList handles GET /admin/api/webhooks.
func (s *Server) webhookList(w http.ResponseWriter, r *http.Request) {
	eps, err := webhooks.List(r.Context(), s.cfg.Pool)
	if err != nil {
		s.writeWebhookError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"endpoints": eps})
}

// webhookAdd handles POST /admin/api/webhooks: the answer holds the new
// endpoint's secret, shown this once.
func (s *Server) webhookAdd(w http.ResponseWriter, r *http.Request) {
	var body endpointBody
	if !decode(w, r, &body) {
		return
	}
	ep, err := webhooks.Add(r.Context(), s.cfg.Pool, s.cfg.Webhooks.Guard, body.input())
	if err != nil {
		s.writeWebhookError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, ep)
}

// webhookGet handles GET /admin/api/webhooks/{id} (without its secret).
func (s *Server) webhookGet(w http.ResponseWriter, r *http.Request) {
	id, ok := endpointID(w, r)
	if !ok {
		return
	}
	ep, err := webhooks.Get(r.Context(), s.cfg.Pool, id)
	if err != nil {
		s.writeWebhookError(w, err)
		return
	}
	ep.Secret = ""
	writeJSON(w, http.StatusOK, ep)
}

// webhookUpdate handles PATCH /admin/api/webhooks/{id}.
func (s *Server) webhookUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := endpointID(w, r)
	if !ok {
		return
	}
	var body endpointBody
	if !decode(w, r, &body) {
		return
	}
	ep, err := webhooks.Update(r.Context(), s.cfg.Pool, s.cfg.Webhooks.Guard, id, body.input())
	if err != nil {
		s.writeWebhookError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ep)
}

// webhookRemove handles DELETE /admin/api/webhooks/{id}.
func (s *Server) webhookRemove(w http.ResponseWriter, r *http.Request) {
	id, ok := endpointID(w, r)
	if !ok {
		return
	}
	if err := webhooks.Remove(r.Context(), s.cfg.Pool, id); err != nil {
		s.writeWebhookError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// webhookAction handles POST /admin/api/webhooks/{id}/{action}:
// rotate-secret ({"keep": "24h"}), disable, enable ({"skip_backlog":
// true}), replay ({"since", "until", "only_dead"}).
func (s *Server) webhookAction(w http.ResponseWriter, r *http.Request) {
	id, ok := endpointID(w, r)
	if !ok {
		return
	}
	var body struct {
		Keep        string    `json:"keep"`
		SkipBacklog bool      `json:"skip_backlog"`
		Since       time.Time `json:"since"`
		Until       time.Time `json:"until"`
		OnlyDead    bool      `json:"only_dead"`
	}
	if !decode(w, r, &body) {
		return
	}
	ctx := r.Context()
	var (
		ep  *webhooks.Endpoint
		err error
	)
	switch r.PathValue("action") {
	case "rotate-secret":
		keep := s.cfg.Webhooks.RotationOverlap
		if body.Keep != "" {
			if keep, err = time.ParseDuration(body.Keep); err != nil || keep < 0 {
				writeProblem(w, http.StatusBadRequest, "bad_duration", `keep is a duration like "24h".`)
				return
			}
		}
		ep, err = webhooks.RotateSecret(ctx, s.cfg.Pool, id, keep)
	case "disable":
		ep, err = webhooks.Disable(ctx, s.cfg.Pool, id, webhooks.DisabledByOperator)
	case "enable":
		ep, err = webhooks.Enable(ctx, s.cfg.Pool, id, body.SkipBacklog)
	case "replay":
		if body.Until.IsZero() {
			body.Until = time.Now().Add(time.Minute)
		}
		if _, err = webhooks.Get(ctx, s.cfg.Pool, id); err == nil {
			var n int64
			if n, err = webhooks.ReplayRange(ctx, s.cfg.Pool, id, body.Since, body.Until, body.OnlyDead); err == nil {
				writeJSON(w, http.StatusOK, map[string]int64{"replayed": n})
				return
			}
		}
	default:
		writeProblem(w, http.StatusNotFound, "not_found", "No such action: rotate-secret, disable, enable or replay.")
		return
	}
	if err != nil {
		s.writeWebhookError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ep)
}

// webhookDeliveries handles GET /admin/api/webhooks/{id}/deliveries?
// status=pending|delivered|dead&since=&until=&limit= (RFC 3339 times),
// newest first.
func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	id, ok := endpointID(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := webhooks.DeliveryFilter{Endpoint: id, Status: q.Get("status"), Limit: 100, WithPayload: q.Get("payload") == "true"}
	if f.Status != "" && f.Status != "pending" && f.Status != "delivered" && f.Status != "dead" {
		writeProblem(w, http.StatusBadRequest, "bad_status", "status is pending, delivered or dead.")
		return
	}
	for name, t := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			var err error
			if *t, err = time.Parse(time.RFC3339, v); err != nil {
				writeProblem(w, http.StatusBadRequest, "bad_time", fmt.Sprintf("%s is an RFC 3339 time (2026-12-02T10:00:00Z).", name))
				return
			}
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10_000 {
			writeProblem(w, http.StatusBadRequest, "bad_limit", "limit must be a whole number from 1 to 10000.")
			return
		}
		f.Limit = n
	}
	if _, err := webhooks.Get(r.Context(), s.cfg.Pool, id); err != nil {
		s.writeWebhookError(w, err)
		return
	}
	ds, err := webhooks.Deliveries(r.Context(), s.cfg.Pool, f)
	if err != nil {
		s.writeWebhookError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds})
}

// webhookReplayOne handles POST /admin/api/webhook-deliveries/{id}/replay.
func (s *Server) webhookReplayOne(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeProblem(w, http.StatusNotFound, "no_such_delivery", "No such webhook delivery.")
		return
	}
	d, err := webhooks.Replay(r.Context(), s.cfg.Pool, id)
	if err != nil {
		s.writeWebhookError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
