package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foliohq/folio/internal/config"
	"github.com/foliohq/folio/internal/health"
	"github.com/foliohq/folio/internal/telemetry"
	"github.com/foliohq/folio/storage"
)

// App holds one process's open connections.
type App struct {
	Config *config.Config
	Logger *slog.Logger
	Pool   *pgxpool.Pool
	// LockPool holds the locks of resumable uploads being written (a
	// connection each, FOLIO_RESUMABLE_MAX_ACTIVE at most).
	LockPool *pgxpool.Pool
	Store    *storage.Store
	Metrics  *telemetry.Metrics
	Health   *health.Checker
}

// Open connects to Postgres and S3. It does not wait for either to be up:
// a process starts even while a dependency is down, and /readyz tells.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger, s3opts storage.ClientOptions) (*App, error) {
	if err := cfg.RequireDatabase(); err != nil {
		return nil, err
	}
	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, &config.Error{Var: "DATABASE_URL", Reason: "not a valid Postgres URL"}
	}
	// A session whose client vanished in the middle of a transaction (a
	// network cut Postgres did not see) must not hold its row and advisory
	// locks for ever: Folio's transactions are short, so one idle for a
	// minute is ended by the server. DATABASE_URL may set another value.
	if _, set := poolCfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		poolCfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	}
	// pgxpool's default (four connections on two cores) lets a burst of
	// slow requests take every connection from the rest, /readyz's ping
	// included: more, unless DATABASE_URL says (pool_max_conns).
	if !strings.Contains(cfg.DatabaseURL, "pool_max_conns") {
		poolCfg.MaxConns = max(poolCfg.MaxConns, 20)
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("error creating Postgres pool: %w", err)
	}
	lockCfg := poolCfg.Copy()
	lockCfg.MaxConns = int32(min(cfg.ResumableMaxActive+1, 10_000)) //nolint:gosec // bounded above
	lockCfg.MinConns = 0
	lockPool, err := pgxpool.NewWithConfig(ctx, lockCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("error creating Postgres pool: %w", err)
	}
	s3opts.PathStyle = s3opts.PathStyle || cfg.S3PathStyle
	s3opts.MaxConns = cfg.S3MaxConns
	client, err := storage.NewClient(ctx, s3opts)
	if err != nil {
		pool.Close()
		lockPool.Close()
		return nil, err
	}
	a := &App{
		Config:   cfg,
		Logger:   logger,
		Pool:     pool,
		LockPool: lockPool,
		Store: storage.New(client, cfg.S3Bucket, storage.Options{PartSize: int(cfg.UploadPartSize), PartsInFlight: cfg.UploadPartsInFlight,
			UnsignedPayload: cfg.S3UnsignedPayload}),
		Metrics: telemetry.NewMetrics(),
	}
	a.Health = health.NewChecker(3*time.Second, map[string]health.Check{
		"postgres": func(ctx context.Context) error { return pool.Ping(ctx) },
		"s3":       a.Store.Ping,
	})
	return a, nil
}

// Listen opens the API's listener (separate from running the API so that
// callers learn the bound address, and a busy port fails fast).
func (a *App) Listen(ctx context.Context) (net.Listener, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", a.Config.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("error listening on FOLIO_HTTP_ADDR=%s: %w", a.Config.HTTPAddr, err)
	}
	return ln, nil
}

// ListenHealth opens the worker's health listener.
func (a *App) ListenHealth(ctx context.Context) (net.Listener, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", a.Config.HealthAddr)
	if err != nil {
		return nil, fmt.Errorf("error listening on FOLIO_HEALTH_ADDR=%s: %w", a.Config.HealthAddr, err)
	}
	return ln, nil
}

// Close closes the pools.
func (a *App) Close() {
	a.Pool.Close()
	a.LockPool.Close()
}

// Serve runs srv on ln until ctx ends, then shuts it down gracefully within
// timeout. When that runs out, cutoff (if set) is called to make the
// remaining requests end cleanly, and they get a short while to answer
// before the connections are closed.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, timeout time.Duration, cutoff func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("error serving HTTP on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		if cutoff != nil {
			cutoff()
			graceCtx, cancelGrace := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			err = srv.Shutdown(graceCtx)
			cancelGrace()
			if err == nil {
				return nil
			}
		}
		_ = srv.Close()
		return fmt.Errorf("error shutting down HTTP server on %s: %w", ln.Addr(), err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// SignalContext returns a context cancelled by the first SIGINT or SIGTERM
// (with the signal as its cause). A second signal exits the process at once
// with status 1.
func SignalContext(logger *slog.Logger) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		logger.Info("shutting down; send the signal again to exit at once", "signal", sig.String())
		cancel(fmt.Errorf("received %s", sig))
		sig = <-sigs
		logger.Warn("second signal: exiting at once", "signal", sig.String())
		os.Exit(1)
	}()
	return ctx, func() { signal.Stop(sigs); cancel(context.Canceled) }
}
