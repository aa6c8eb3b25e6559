package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foliohq/folio/migrations"
	"github.com/foliohq/folio/storage"
)

// backend is what a test process shares: where Postgres and S3 are, and how
// to stop what this process started.
type backend struct {
	adminURL string // a database that may be connected to for CREATE DATABASE
	s3       storage.ClientOptions
	source   string
	stop     []func()
}

var (
	startOnce sync.Once
	shared    *backend
	startErr  error

	templateMu    sync.Mutex
	templateNames = map[string]string{}
)

// Main runs the package's tests, then stops whatever this process started
// for them and runs after (the package's own clean-up).
func Main(m *testing.M, after ...func()) {
	code := m.Run()
	for _, f := range after {
		f()
	}
	if shared != nil {
		for i := len(shared.stop) - 1; i >= 0; i-- {
			shared.stop[i]()
		}
	}
	os.Exit(code)
}

func get(t testing.TB) *backend {
	t.Helper()
	startOnce.Do(func() { shared, startErr = start(context.Background()) })
	if startErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testenv: no test backend (a failure under CI=true): %v", startErr)
		}
		t.Skipf("testenv: no test backend: %v", startErr)
	}
	return shared
}

func start(ctx context.Context) (*backend, error) {
	pgURL, s3Endpoint := os.Getenv("TEST_DATABASE_URL"), os.Getenv("TEST_S3_ENDPOINT")
	b := &backend{}
	var errs []error

	if pgURL == "" || s3Endpoint == "" {
		if dockerAnswers(ctx) {
			b.source = "testcontainers"
			if err := startContainers(ctx, b, pgURL == "", s3Endpoint == ""); err != nil {
				errs = append(errs, fmt.Errorf("testcontainers: %w", err))
				b.stopAll()
				b = &backend{}
			}
		}
		if b.source == "" {
			b.source = "local binaries"
			if err := startLocal(ctx, b, pgURL == "", s3Endpoint == ""); err != nil {
				b.stopAll()
				return nil, errors.Join(append(errs, fmt.Errorf("local binaries: %w", err))...)
			}
		}
	}
	if pgURL != "" {
		b.adminURL = pgURL
	}
	if s3Endpoint != "" {
		b.s3 = storage.ClientOptions{Endpoint: s3Endpoint, PathStyle: true, Region: envOr("AWS_REGION", "us-east-1"),
			AccessKey: envOr("AWS_ACCESS_KEY_ID", "test"), SecretKey: envOr("AWS_SECRET_ACCESS_KEY", "test")}
	}
	return b, nil
}

func (b *backend) stopAll() {
	for i := len(b.stop) - 1; i >= 0; i-- {
		b.stop[i]()
	}
	b.stop = nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// DB is a test's own database.
type DB struct {
	Pool *pgxpool.Pool
	URL  string
	Name string
}

// Postgres gives the test its own database, cloned from a template that
// holds every migration (River's and Folio's), and drops it afterwards.
func Postgres(t testing.TB) *DB {
	t.Helper()
	b := get(t)
	ctx := context.Background()

	tmpl, err := templateDatabase(ctx, b.adminURL)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	name := "test_" + randomHex(8)
	admin, err := pgx.Connect(ctx, b.adminURL)
	if err != nil {
		t.Fatalf("testenv: connecting to Postgres: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", ident(name), ident(tmpl))); err != nil {
		t.Fatalf("testenv: creating database %s: %v", name, err)
	}
	dbURL := withDatabaseURL(b.adminURL, name)
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cfg.MaxConns = 10
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		dropDatabase(b.adminURL, name)
	})
	return &DB{Pool: pool, URL: dbURL, Name: name}
}

// EmptyPostgres gives the test its own database with no migrations applied,
// for testing the migrations themselves.
func EmptyPostgres(t testing.TB) *DB {
	t.Helper()
	b := get(t)
	ctx := context.Background()
	name := "test_" + randomHex(8)
	admin, err := pgx.Connect(ctx, b.adminURL)
	if err != nil {
		t.Fatalf("testenv: connecting to Postgres: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident(name)); err != nil {
		t.Fatalf("testenv: creating database %s: %v", name, err)
	}
	dbURL := withDatabaseURL(b.adminURL, name)
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		dropDatabase(b.adminURL, name)
	})
	return &DB{Pool: pool, URL: dbURL, Name: name}
}

func dropDatabase(adminURL, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return
	}
	defer admin.Close(ctx)
	_, _ = admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", ident(name)))
}

// templateDatabase returns the name of a template database holding every
// migration, creating it once per migration set. Processes share it: the
// name carries a hash of the migrations, and an advisory lock keeps two
// processes from building it at once.
func templateDatabase(ctx context.Context, adminURL string) (string, error) {
	templateMu.Lock()
	defer templateMu.Unlock()
	if name, ok := templateNames[adminURL]; ok {
		return name, nil
	}
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "folio_template_" + sum[:12]

	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connecting to Postgres: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", name); err != nil {
		return "", err
	}
	defer admin.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext($1))", name) //nolint:errcheck // the session ends right after

	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		// Build under another name and rename when done, so a crash mid-way
		// never leaves a half-migrated template behind.
		build := name + "_build"
		if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", ident(build))); err != nil {
			return "", err
		}
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident(build)); err != nil {
			return "", fmt.Errorf("creating template database: %w", err)
		}
		if err := migrate(ctx, withDatabaseURL(adminURL, build)); err != nil {
			return "", fmt.Errorf("migrating template database: %w", err)
		}
		for _, q := range []string{
			fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", ident(build), ident(name)),
			fmt.Sprintf("ALTER DATABASE %s WITH IS_TEMPLATE true ALLOW_CONNECTIONS false", ident(name)),
		} {
			if _, err := admin.Exec(ctx, q); err != nil {
				return "", fmt.Errorf("finishing template database: %w", err)
			}
		}
	}
	templateNames[adminURL] = name
	return name, nil
}

func migrate(ctx context.Context, url string) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = migrations.Up(ctx, pool, slog.New(slog.DiscardHandler))
	return err
}

// migrationsHash identifies the migration set: Folio's SQL files and the
// River version compiled in.
func migrationsHash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.Sources(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.Sources(), path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "river\x00%d", migrations.RiverVersion())
	return hex.EncodeToString(h.Sum(nil)), nil
}

// withDatabaseURL swaps the database name in a postgres:// URL.
func withDatabaseURL(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + name
	return u.String()
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
