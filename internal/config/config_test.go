package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(kv map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()

	cfg, err := LoadFrom(env(nil))
	require.NoError(t, err)
	require.Equal(t, "folio", cfg.S3Bucket)
	require.Equal(t, ":8080", cfg.HTTPAddr)
	require.Equal(t, ":8081", cfg.HealthAddr)
	require.Equal(t, 30*time.Second, cfg.ShutdownTimeout)
	require.Equal(t, 25*time.Second, cfg.DrainTimeout)
	require.Equal(t, 5*time.Second, cfg.ShutdownDelay)
	require.Equal(t, int64(1<<30), cfg.ParseMemoryLimit)
	require.Equal(t, 5000, cfg.MaxPages)
	require.Equal(t, int64(512<<20), cfg.MaxUploadBytes)
	require.Equal(t, 24*time.Hour, cfg.UploadMaxAge)
	require.GreaterOrEqual(t, cfg.WorkerConcurrency, 1)
	require.Empty(t, cfg.DatabaseURL)
	require.Error(t, cfg.RequireDatabase())
}

func TestLoadValues(t *testing.T) {
	t.Parallel()

	cfg, err := LoadFrom(env(map[string]string{
		"DATABASE_URL":             "postgres://u:p@db:5432/folio",
		"FOLIO_S3_BUCKET":          "my-docs",
		"FOLIO_S3_PATH_STYLE":      "true",
		"FOLIO_HTTP_ADDR":          "127.0.0.1:9000",
		"FOLIO_WORKER_CONCURRENCY": "3",
		"FOLIO_UPLOAD_MAX_AGE":     "2h",
		"FOLIO_LOG_LEVEL":          "DEBUG",
	}))
	require.NoError(t, err)
	require.Equal(t, "postgres://u:p@db:5432/folio", cfg.DatabaseURL)
	require.Equal(t, "my-docs", cfg.S3Bucket)
	require.True(t, cfg.S3PathStyle)
	require.Equal(t, "127.0.0.1:9000", cfg.HTTPAddr)
	require.Equal(t, 3, cfg.WorkerConcurrency)
	require.Equal(t, 2*time.Hour, cfg.UploadMaxAge)
	require.Equal(t, "debug", cfg.LogLevel)
	require.NoError(t, cfg.RequireDatabase())
}

func TestLoadSecretFile(t *testing.T) {
	t.Parallel()

	path := filepath.Join(t.TempDir(), "db")
	require.NoError(t, os.WriteFile(path, []byte("postgres://from-file/db\n"), 0o600))

	cfg, err := LoadFrom(env(map[string]string{"DATABASE_URL_FILE": path}))
	require.NoError(t, err)
	require.Equal(t, "postgres://from-file/db", cfg.DatabaseURL)

	_, err = LoadFrom(env(map[string]string{"DATABASE_URL_FILE": path, "DATABASE_URL": "postgres://x/y"}))
	requireVar(t, err, "DATABASE_URL")

	_, err = LoadFrom(env(map[string]string{"DATABASE_URL_FILE": filepath.Join(t.TempDir(), "missing")}))
	requireVar(t, err, "DATABASE_URL_FILE")
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct{ key, value string }{
		{"DATABASE_URL", "nonsense"},
		{"DATABASE_URL", "postgres://host:notaport/db"},
		{"FOLIO_S3_BUCKET", "Has_Upper"},
		{"FOLIO_S3_BUCKET", "ab"},
		{"FOLIO_S3_BUCKET", "-leading"},
		{"FOLIO_S3_PATH_STYLE", "maybe"},
		{"FOLIO_HTTP_ADDR", "8080"},
		{"FOLIO_HTTP_ADDR", ":99999"},
		{"FOLIO_HEALTH_ADDR", "localhost"},
		{"FOLIO_LOG_LEVEL", "verbose"},
		{"FOLIO_LOG_FORMAT", "xml"},
		{"FOLIO_SHUTDOWN_TIMEOUT", "30"},
		{"FOLIO_SHUTDOWN_TIMEOUT", "-1s"},
		{"FOLIO_WORKER_CONCURRENCY", "zero"},
		{"FOLIO_WORKER_CONCURRENCY", "0"},
		{"FOLIO_UPLOAD_MAX_AGE", "forever"},
		{"FOLIO_SHUTDOWN_DELAY", "-1s"},
		{"FOLIO_DRAIN_TIMEOUT", "0s"},
		{"FOLIO_PARSE_MEMORY_LIMIT", "1MiB"},
		{"FOLIO_MAX_UPLOAD_BYTES", "ten"},
		{"FOLIO_AUTH_JWT_SECRET", "too-short"},
		{"FOLIO_AUTH_JWKS_URL", "not a url"},
	} {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			_, err := LoadFrom(env(map[string]string{tt.key: tt.value}))
			requireVar(t, err, tt.key)
		})
	}
}

func requireVar(t *testing.T, err error, key string) {
	t.Helper()
	var cerr *Error
	require.True(t, errors.As(err, &cerr), "want *config.Error, got %v", err)
	require.Equal(t, key, cerr.Var)
	require.Contains(t, err.Error(), key)
	require.NotContains(t, err.Error(), "\n", "the message must be one line")
}
