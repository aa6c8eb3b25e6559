package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foliohq/folio/cmd/internal/app"
	"github.com/foliohq/folio/internal/config"
	"github.com/foliohq/folio/internal/telemetry"
	"github.com/foliohq/folio/migrations"
)

func migrate(args []string, stdout, stderr io.Writer) int {
	sub := "up"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("folio migrate "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.Int64("to", -1, "with down: the version to leave applied (0 undoes all of Folio's)")
	if err := fs.Parse(args); err != nil {
		return app.ExitUsage
	}
	if sub == "down" && *to < 0 {
		fmt.Fprintln(stderr, "folio migrate down: --to N is required (the version to leave applied; 0 undoes all)")
		return app.ExitUsage
	}

	cfg, err := config.Load()
	if err == nil {
		err = cfg.RequireDatabase()
	}
	if err != nil {
		fmt.Fprintf(stderr, "folio migrate: %v\n", err)
		return app.ExitUsage
	}
	logger := telemetry.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		fmt.Fprintf(stderr, "folio migrate: %v\n", err)
		return app.ExitFailed
	}
	defer pool.Close()

	switch sub {
	case "up":
		rep, err := migrations.Up(ctx, pool, logger)
		if err != nil {
			fmt.Fprintf(stderr, "folio migrate: %v\n", err)
			return app.ExitFailed
		}
		fmt.Fprintf(stdout, "migrated: %d River and %d Folio migrations applied\n", len(rep.River), len(rep.Folio))
	case "down":
		rep, err := migrations.DownTo(ctx, pool, *to, logger)
		if err != nil {
			fmt.Fprintf(stderr, "folio migrate: %v\n", err)
			return app.ExitFailed
		}
		fmt.Fprintf(stdout, "migrated down to %d: %d Folio migrations undone\n", *to, len(rep.Folio))
	case "status":
		folio, riverPending, err := migrations.StatusOf(ctx, pool)
		if err != nil {
			fmt.Fprintf(stderr, "folio migrate: %v\n", err)
			return app.ExitFailed
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT")
		for _, s := range folio {
			state, at := "pending", ""
			if s.Applied {
				state, at = "applied", s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Version, s.Name, state, at)
		}
		_ = tw.Flush()
		if len(riverPending) == 0 {
			fmt.Fprintln(stdout, "river: all migrations applied")
		} else {
			fmt.Fprintf(stdout, "river: %d migrations pending %v\n", len(riverPending), riverPending)
		}
	default:
		fmt.Fprintf(stderr, "folio migrate: unknown subcommand %q (want up, status or down --to N)\n", sub)
		return app.ExitUsage
	}
	return app.ExitOK
}
