package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/foliohq/folio/backup"
	"github.com/foliohq/folio/cmd/internal/app"
	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/internal/pgbackrest"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// parseRestoreTo reads --restore-to: "" (no restore), "latest" (the
// archive's end: the zero time), or an RFC 3339 time.
func parseRestoreTo(s string) (time.Time, error) {
	switch s {
	case "", "latest":
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("--restore-to: %w", err)
	}
	return t, nil
}

// startDevPostgres starts the local cluster: with backups on, archiving
// WAL through pgBackRest, and first restored to restoreTo when asked.
func startDevPostgres(ctx context.Context, opts devOptions, restoreTo time.Time, logger *slog.Logger) (*devstack.Postgres, error) {
	pgOpts := devstack.PostgresOptions{Dir: filepath.Join(opts.dir, "pg"), Port: opts.pgPort}
	if opts.backup {
		pgOpts.Backup = &devstack.BackupOptions{Dir: filepath.Join(opts.dir, "backup")}
	}
	if opts.restoreTo != "" {
		logger.Info("restoring the local Postgres (pgBackRest)", "to", opts.restoreTo, "dir", pgOpts.Dir)
		return devstack.RestorePostgres(ctx, pgOpts, devstack.RestoreOptions{To: restoreTo})
	}
	logger.Info("starting local Postgres", "dir", pgOpts.Dir, "port", opts.pgPort, "backup", opts.backup)
	return devstack.StartPostgres(ctx, pgOpts)
}

// restoreDevBucket makes the bucket agree with the restored Postgres
// (folio restore's work) before the API and the worker start.
func restoreDevBucket(ctx context.Context, a *app.App, stdout io.Writer) error {
	client, err := river.NewClient(riverpgxv5.New(a.Pool), &river.Config{Logger: app.DiscardLogger()})
	if err != nil {
		return err
	}
	rep, err := backup.Restorer{Pool: a.Pool, Store: a.Store, Queue: client}.Restore(ctx)
	printRestore(stdout, rep)
	return err
}

// devBackups takes a base backup at once when the repository holds none,
// then an incremental one every every, recording each (backup freshness).
func devBackups(ctx context.Context, pg *devstack.Postgres, a *app.App, every time.Duration, logger *slog.Logger) error {
	take := func(typ string) {
		b, err := pg.Backup(ctx, typ)
		if err == nil {
			var all []pgbackrest.Backup
			all, err = pg.BackupInfo(ctx)
			if err == nil {
				_, err = backup.Record(ctx, a.Pool, all)
			}
			logger.Info("base backup taken", "label", b.Label, "type", b.Type, "db_bytes", b.Size)
		}
		if err != nil && ctx.Err() == nil {
			logger.Error("base backup failed", "err", err)
		}
	}
	existing, err := pg.BackupInfo(ctx)
	if err != nil {
		logger.Error("reading the backup repository", "err", err)
	}
	if len(existing) == 0 {
		take("full")
	} else if _, err := backup.Record(ctx, a.Pool, existing); err != nil {
		logger.Error("recording backups", "err", err)
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			take("incr")
		}
	}
}
