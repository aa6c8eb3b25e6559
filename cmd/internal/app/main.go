package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/foliohq/folio/internal/config"
	"github.com/foliohq/folio/internal/telemetry"
	"github.com/foliohq/folio/internal/tracing"
	"github.com/foliohq/folio/migrations"
	"github.com/foliohq/folio/storage"
)

// Exit codes of Folio's commands.
const (
	ExitOK     = 0
	ExitFailed = 1 // the process ran and failed
	ExitUsage  = 2 // bad flags or configuration: fix and start again
)

// Main is the whole of cmd/api's and cmd/worker's main: read flags and
// configuration (checked further by require), open the App, run it until
// SIGINT/SIGTERM, and map the outcome to an exit code.
func Main(name string, args []string, stderr io.Writer, run func(context.Context, *App) error, require ...func(*config.Config) error) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	migrate := fs.Bool("migrate", false, "apply pending migrations before starting (development only: production runs `folio migrate` as a release step)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	cfg, err := config.Load()
	if err == nil {
		err = cfg.RequireDatabase()
	}
	for _, check := range require {
		if err == nil {
			err = check(cfg)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitUsage
	}
	logger := telemetry.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat).With("process", name)
	ctx, stop := SignalContext(logger)
	defer stop()

	a, err := Open(ctx, cfg, logger, storage.ClientOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		var cerr *config.Error
		if errors.As(err, &cerr) {
			return ExitUsage
		}
		return ExitFailed
	}
	defer a.Close()
	flushTraces, err := tracing.Setup(ctx, "folio-"+name, logger)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitUsage
	}
	defer flushTraces()
	if *migrate {
		if _, err := migrations.Up(ctx, a.Pool, logger); err != nil {
			logger.Error("migrations failed", "err", err)
			return ExitFailed
		}
	}
	if err := run(ctx, a); err != nil {
		logger.Error("exiting on error", "err", err)
		return ExitFailed
	}
	logger.Info("stopped", "cause", causeOf(ctx))
	return ExitOK
}

func causeOf(ctx context.Context) string {
	if err := context.Cause(ctx); err != nil {
		return err.Error()
	}
	return "done"
}

// DiscardLogger logs nothing (for CLI commands that print their own lines).
func DiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
