package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/jobs"
)

// RunWorker works River jobs until ctx ends, serving /healthz, /readyz and
// /metrics on healthLn meanwhile. On shutdown River stops fetching, running
// jobs get Config.ShutdownTimeout to finish, and the rest are cancelled.
func (a *App) RunWorker(ctx context.Context, healthLn net.Listener) error {
	cfg := a.Config
	client, err := jobs.NewClient(a.Pool, jobs.Deps{
		Store:  a.Store,
		Logger: a.Logger,
		Sandbox: &sandbox.Runner{
			MemoryLimit: cfg.ParseMemoryLimit,
			Timeout:     cfg.ParseTimeout,
			MaxPages:    cfg.MaxPages,
			Logger:      a.Logger,
		},
		Draining:         a.Health.Draining,
		UploadMaxAge:     cfg.UploadMaxAge,
		ProgressInterval: cfg.ProgressInterval,
		EventRetention:   cfg.EventRetention,
	}, cfg.WorkerConcurrency)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.Health.Healthz)
	mux.HandleFunc("GET /readyz", a.Health.Readyz)
	mux.Handle("GET /metrics", a.Metrics.Handler())
	srv := &http.Server{Handler: a.Metrics.Instrument(mux), ReadHeaderTimeout: 10 * time.Second}
	healthDone := make(chan error, 1)
	healthCtx, stopHealth := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHealth()
	go func() { healthDone <- serve(healthCtx, srv, healthLn, 5*time.Second) }()

	// River derives the jobs' contexts from Start's: the signal must not
	// cancel running jobs; Stop and StopAndCancel below decide their fate.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("error starting River client: %w", err)
	}
	a.Logger.Info("worker started", "concurrency", a.Config.WorkerConcurrency, "health_addr", healthLn.Addr().String(), "client_id", client.ID())
	// Heartbeats (and rescuing dead workers' jobs) go on while draining.
	liveCtx, stopLiveness := context.WithCancel(context.WithoutCancel(ctx))
	liveDone := make(chan struct{})
	go func() {
		(&jobs.Liveness{Pool: a.Pool, ClientID: client.ID(), Logger: a.Logger}).Run(liveCtx)
		close(liveDone)
	}()
	defer func() { stopLiveness(); <-liveDone }()

	<-ctx.Done()
	// Drain: not ready at once; River stops fetching; running jobs get
	// FOLIO_DRAIN_TIMEOUT, then their contexts are cancelled: parse
	// children are killed and the jobs go straight back to the queue
	// (parse.requeued, draining), to resume where they stopped.
	a.Health.Drain()
	began := time.Now()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.Config.DrainTimeout)
	defer cancel()
	if err := client.Stop(stopCtx); err != nil {
		a.Logger.Warn("jobs did not finish in time; handing them back to the queue", "drain_timeout", a.Config.DrainTimeout.String())
		hardCtx, hardCancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer hardCancel()
		if err := client.StopAndCancel(hardCtx); err != nil {
			return fmt.Errorf("error stopping River client: %w", err)
		}
	}
	a.Logger.Info("worker drained", "took", time.Since(began).Round(time.Millisecond).String())
	stopHealth()
	return <-healthDone
}

// ListenHealth opens the worker's health listener.
func (a *App) ListenHealth(ctx context.Context) (net.Listener, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", a.Config.HealthAddr)
	if err != nil {
		return nil, fmt.Errorf("error listening on FOLIO_HEALTH_ADDR=%s: %w", a.Config.HealthAddr, err)
	}
	return ln, nil
}
