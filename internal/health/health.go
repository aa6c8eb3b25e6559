package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Check reports whether one dependency is reachable.
type Check func(ctx context.Context) error

// Checker holds the readiness checks and the draining flag.
type Checker struct {
	checks   map[string]Check
	timeout  time.Duration
	draining atomic.Bool
}

// NewChecker returns a Checker running checks, each bounded by timeout.
func NewChecker(timeout time.Duration, checks map[string]Check) *Checker {
	return &Checker{checks: checks, timeout: timeout}
}

// Drain marks the process as draining: /readyz answers 503 from now on, so
// load balancers stop sending it work.
func (c *Checker) Drain() { c.draining.Store(true) }

// Draining reports whether Drain was called.
func (c *Checker) Draining() bool { return c.draining.Load() }

// Healthz answers 200 while the process can serve HTTP at all.
func (c *Checker) Healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

// Readyz runs every check concurrently and answers 200 if all pass and the
// process is not draining, 503 otherwise, naming what failed.
func (c *Checker) Readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), c.timeout)
	defer cancel()

	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		failed = map[string]string{}
	)
	for name, check := range c.checks {
		wg.Go(func() {
			if err := check(ctx); err != nil {
				mu.Lock()
				failed[name] = err.Error()
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	body := map[string]any{"status": "ready"}
	status := http.StatusOK
	if len(failed) > 0 {
		body = map[string]any{"status": "unavailable", "failed": failed}
		status = http.StatusServiceUnavailable
	}
	if c.Draining() {
		body["status"] = "draining"
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
