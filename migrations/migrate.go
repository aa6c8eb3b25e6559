package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.sql
var sqlFiles embed.FS

// lockKey is the advisory lock key every migration run takes: the first
// eight bytes of sha256("folio migrations"), fixed so that every version of
// Folio agrees on it.
const lockKey int64 = 0x2a1f5c03b6e4d917

// versionTable is where goose records Folio's own applied versions.
const versionTable = "folio_schema_migrations"

// Status describes one of Folio's migrations.
type Status struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// Report is what a run did: River's and Folio's versions applied or undone.
type Report struct {
	River []int
	Folio []int64
}

// Sources returns the embedded SQL migrations, for tests and tooling.
func Sources() fs.FS { return sqlFiles }

// Up applies every pending migration, River's first (Folio's tables may refer
// to them), under the advisory lock.
func Up(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (*Report, error) {
	var rep Report
	err := withLock(ctx, pool, func(db *sql.DB) error {
		migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: quiet(logger)})
		if err != nil {
			return fmt.Errorf("error creating River migrator: %w", err)
		}
		res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err != nil {
			return fmt.Errorf("error applying River migrations: %w", err)
		}
		for _, v := range res.Versions {
			rep.River = append(rep.River, v.Version)
		}
		p, err := provider(db, logger)
		if err != nil {
			return err
		}
		results, err := p.Up(ctx)
		if err != nil {
			return fmt.Errorf("error applying Folio migrations: %w", err)
		}
		for _, r := range results {
			rep.Folio = append(rep.Folio, r.Source.Version)
		}
		return nil
	})
	return &rep, err
}

// DownTo undoes Folio's migrations above version (0 undoes them all). River's
// tables are left alone: they belong to River and hold the job queue.
func DownTo(ctx context.Context, pool *pgxpool.Pool, version int64, logger *slog.Logger) (*Report, error) {
	var rep Report
	err := withLock(ctx, pool, func(db *sql.DB) error {
		p, err := provider(db, logger)
		if err != nil {
			return err
		}
		results, err := p.DownTo(ctx, version)
		if err != nil {
			return fmt.Errorf("error undoing Folio migrations down to %d: %w", version, err)
		}
		for _, r := range results {
			rep.Folio = append(rep.Folio, r.Source.Version)
		}
		return nil
	})
	return &rep, err
}

// StatusOf lists Folio's migrations and whether each is applied, and reports
// whether River's migrations are all applied.
func StatusOf(ctx context.Context, pool *pgxpool.Pool) (folio []Status, riverPending []int, err error) {
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: quiet(nil)})
	if err != nil {
		return nil, nil, fmt.Errorf("error creating River migrator: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{DryRun: true})
	if err != nil {
		return nil, nil, fmt.Errorf("error reading River migration status: %w", err)
	}
	for _, v := range res.Versions {
		riverPending = append(riverPending, v.Version)
	}

	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := provider(db, nil)
	if err != nil {
		return nil, nil, err
	}
	sts, err := p.Status(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("error reading Folio migration status: %w", err)
	}
	for _, s := range sts {
		folio = append(folio, Status{
			Version:   s.Source.Version,
			Name:      path.Base(s.Source.Path),
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return folio, riverPending, nil
}

// withLock runs fn while holding the migration advisory lock on a dedicated
// connection. fn gets a database/sql handle on the same pool for goose.
func withLock(ctx context.Context, pool *pgxpool.Pool, fn func(*sql.DB) error) (err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("error connecting to Postgres: %w", err)
	}
	defer conn.Release()
	// Poll for the lock rather than wait in pg_advisory_lock: a session
	// waiting there holds a snapshot, and CREATE INDEX CONCURRENTLY in the
	// holder's migration (00010) waits for every older snapshot to go: the
	// two would wait for each other forever.
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockKey).Scan(&got); err != nil {
			return fmt.Errorf("error taking the migration lock: %w", err)
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("error taking the migration lock: %w", context.Cause(ctx))
		case <-time.After(wait):
		}
	}
	defer func() {
		// A fresh context: the lock must be released even when ctx is done.
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(unlockCtx, "SELECT pg_advisory_unlock($1)", lockKey); uerr != nil {
			// Closing the connection ends the session and so the lock.
			_ = conn.Conn().Close(unlockCtx)
			err = errors.Join(err, fmt.Errorf("error releasing the migration lock: %w", uerr))
		}
	}()

	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return fn(db)
}

func provider(db *sql.DB, logger *slog.Logger) (*goose.Provider, error) {
	opts := []goose.ProviderOption{goose.WithTableName(versionTable), goose.WithDisableGlobalRegistry(true)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sqlFiles, opts...)
	if err != nil {
		return nil, fmt.Errorf("error loading Folio migrations: %w", err)
	}
	return p, nil
}

func quiet(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}

// RiverVersion is the newest River migration this build carries.
func RiverVersion() int {
	migrator, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return 0
	}
	all := migrator.AllVersions()
	return all[len(all)-1].Version
}
