package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/foliohq/folio/api"
)

// Listen opens the API's listener (separate from RunAPI so that callers
// learn the bound address, and a busy port fails fast).
func (a *App) Listen(ctx context.Context) (net.Listener, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", a.Config.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("error listening on FOLIO_HTTP_ADDR=%s: %w", a.Config.HTTPAddr, err)
	}
	return ln, nil
}

// RunAPI serves the API on ln until ctx ends, then drains: /readyz turns
// 503 and in-flight requests get Config.ShutdownTimeout to finish.
func (a *App) RunAPI(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           api.New(api.Deps{Logger: a.Logger, Health: a.Health, Metrics: a.Metrics}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	a.Logger.Info("api listening", "addr", ln.Addr().String())
	go func() {
		<-ctx.Done()
		a.Health.Drain()
	}()
	return serve(ctx, srv, ln, a.Config.ShutdownTimeout)
}
