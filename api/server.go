package api

import (
	"log/slog"
	"net/http"

	"github.com/foliohq/folio/internal/health"
	"github.com/foliohq/folio/internal/telemetry"
)

// Server is the API's HTTP handler.
type Server struct {
	logger  *slog.Logger
	health  *health.Checker
	metrics *telemetry.Metrics
	handler http.Handler
}

// Deps are the Server's collaborators.
type Deps struct {
	Logger  *slog.Logger
	Health  *health.Checker
	Metrics *telemetry.Metrics
}

// New returns a Server with every route mounted.
func New(deps Deps) *Server {
	s := &Server{logger: deps.Logger, health: deps.Health, metrics: deps.Metrics}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.health.Healthz)
	mux.HandleFunc("GET /readyz", s.health.Readyz)
	mux.Handle("GET /metrics", s.metrics.Handler())
	s.handler = s.metrics.Instrument(mux)
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }
