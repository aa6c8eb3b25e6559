package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/internal/testenv"
)

func TestMigrateFromThreeProcesses(t *testing.T) {
	t.Parallel()
	db := testenv.EmptyPostgres(t)
	env := []string{"DATABASE_URL=" + db.URL}

	var procs []*proc
	for range 3 {
		procs = append(procs, start(t, env, "folio", "migrate"))
	}
	applied := 0
	for _, p := range procs {
		require.Equal(t, 0, p.wait(t, time.Minute), p.stderr.String())
		if strings.Contains(p.stdout.String(), "19 Folio migrations applied") {
			applied++
		}
	}
	require.Equal(t, 1, applied, "exactly one process applies the migration; the others find nothing to do")

	st := start(t, env, "folio", "migrate", "status")
	require.Equal(t, 0, st.wait(t, time.Minute))
	require.Regexp(t, `1\s+00001_documents.sql\s+applied`, st.stdout.String())
	require.Regexp(t, `2\s+00002_upload.sql\s+applied`, st.stdout.String())
	require.Regexp(t, `3\s+00003_parse.sql\s+applied`, st.stdout.String())
	require.Regexp(t, `4\s+00004_events.sql\s+applied`, st.stdout.String())
	require.Regexp(t, `5\s+00005_heartbeats.sql\s+applied`, st.stdout.String())
	require.Regexp(t, `9\s+00009_ocr.sql\s+applied`, st.stdout.String())
	require.Regexp(t, `11\s+00011_page_images.sql\s+applied`, st.stdout.String())
	require.Regexp(t, `12\s+00012_resumable_uploads.sql\s+applied`, st.stdout.String())
	require.Regexp(t, `13\s+00013_admin_sessions.sql\s+applied`, st.stdout.String())
	require.Regexp(t, `14\s+00014_fair_share.sql\s+applied`, st.stdout.String())
	require.Regexp(t, `16\s+00016_malware_scan.sql\s+applied`, st.stdout.String())
	require.Contains(t, st.stdout.String(), "river: all migrations applied")

	down := start(t, env, "folio", "migrate", "down", "--to", "0")
	require.Equal(t, 0, down.wait(t, time.Minute), down.stderr.String())
	st = start(t, env, "folio", "migrate", "status")
	require.Equal(t, 0, st.wait(t, time.Minute))
	require.Regexp(t, `1\s+00001_documents.sql\s+pending`, st.stdout.String())

	noTo := start(t, env, "folio", "migrate", "down")
	require.Equal(t, 2, noTo.wait(t, time.Minute))
	require.Contains(t, noTo.stderr.String(), "--to N is required")
}

func TestBadConfigurationFailsFastWithOneLine(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"folio", []string{"dev"}, []string{"DATABASE_URL=nonsense"}, "DATABASE_URL"},
		{"api", nil, []string{"DATABASE_URL=nonsense"}, "DATABASE_URL"},
		{"worker", nil, []string{"DATABASE_URL=nonsense"}, "DATABASE_URL"},
		{"api", nil, nil, "DATABASE_URL"},
		{"api", nil, []string{"DATABASE_URL=postgres://x/y"}, "FOLIO_AUTH_JWT_SECRET"},
		{"api", nil, []string{"DATABASE_URL=postgres://x/y", "FOLIO_AUTH_JWT_SECRET=short"}, "FOLIO_AUTH_JWT_SECRET"},
		{"api", nil, []string{"DATABASE_URL=postgres://x/y", "FOLIO_MAX_UPLOAD_BYTES=lots"}, "FOLIO_MAX_UPLOAD_BYTES"},
		{"api", nil, []string{"DATABASE_URL=postgres://x/y", "FOLIO_HTTP_ADDR=nope", "FOLIO_AUTH_JWT_SECRET=" + testSecret}, "FOLIO_HTTP_ADDR"},
		{"folio", []string{"migrate"}, []string{"DATABASE_URL=postgres://x/y", "FOLIO_S3_BUCKET=Bad_Name"}, "FOLIO_S3_BUCKET"},
	} {
		t.Run(tt.name+" "+tt.want, func(t *testing.T) {
			t.Parallel()
			p := start(t, tt.env, tt.name, tt.args...)
			require.Equal(t, 2, p.wait(t, 5*time.Second))
			out := strings.TrimSpace(p.stderr.String())
			require.NotContains(t, out, "\n", "one line")
			require.Contains(t, out, tt.want)
		})
	}
}

func TestAPIAndWorkerServeAndStopOnSIGTERM(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	bucket := testenv.S3(t)
	apiAddr, healthAddr := freeAddr(t), freeAddr(t)
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_HTTP_ADDR="+apiAddr, "FOLIO_HEALTH_ADDR="+healthAddr,
		"FOLIO_AUTH_JWT_SECRET="+testSecret)

	api := start(t, env, "api")
	worker := start(t, env, "worker")
	waitStatus(t, api, "http://"+apiAddr+"/readyz", 200, 30*time.Second)
	waitStatus(t, worker, "http://"+healthAddr+"/readyz", 200, 30*time.Second)
	require.Equal(t, 200, status("http://"+apiAddr+"/healthz"))
	require.Equal(t, 200, status("http://"+apiAddr+"/metrics"))
	require.Equal(t, 200, status("http://"+healthAddr+"/metrics"))

	api.signal(t, syscall.SIGTERM)
	worker.signal(t, syscall.SIGTERM)
	require.Equal(t, 0, api.wait(t, 30*time.Second), api.stderr.String())
	require.Equal(t, 0, worker.wait(t, 30*time.Second), worker.stderr.String())
}

// TestReadyzWhenPostgresGoesDown stops a real Postgres under a running API:
// /readyz turns 503 (load balancers stop sending) while /healthz stays 200
// (the process is fine; do not restart it).
func TestReadyzWhenPostgresGoesDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := sharedTempDir(t)
	pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: filepath.Join(dir, "pg"), Ephemeral: true})
	if err != nil {
		requireOrSkip(t, err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	bucket := testenv.S3(t)
	addr := freeAddr(t)
	api := start(t, append(s3Env(bucket), "DATABASE_URL="+pg.URL, "FOLIO_HTTP_ADDR="+addr, "FOLIO_AUTH_JWT_SECRET="+testSecret), "api")
	waitStatus(t, api, "http://"+addr+"/readyz", 200, 30*time.Second)

	require.NoError(t, pg.Stop())
	waitStatus(t, api, "http://"+addr+"/readyz", 503, 30*time.Second)
	require.Equal(t, 200, status("http://"+addr+"/healthz"))
}

// TestDevStack runs `folio dev` as `make run` does, twice on the same state
// folder, and checks that Ctrl-C leaves no process behind.
func TestDevStack(t *testing.T) {
	t.Parallel()
	if _, err := devstack.PostgresBinDir(); err != nil {
		requireOrSkip(t, err)
	}
	dir := sharedTempDir(t)
	apiAddr, healthAddr, adminAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	env := []string{"FOLIO_HTTP_ADDR=" + apiAddr}
	args := []string{"dev", "--dir", dir, "--pg-port", freePort(t), "--s3-port", freePort(t),
		"--health-addr", healthAddr, "--admin-addr", adminAddr}

	for run := 1; run <= 2; run++ {
		began := time.Now()
		p := start(t, env, "folio", args...)
		waitStatus(t, p, "http://"+apiAddr+"/readyz", 200, 2*time.Minute)
		t.Logf("run %d: ready in %s", run, time.Since(began).Round(time.Millisecond))
		require.Contains(t, p.stdout.String(), "Folio is running")
		require.Contains(t, p.stdout.String(), "http://127.0.0.1:")
		require.Contains(t, p.stdout.String(), "export T=")
		// Every listener where it was told to be.
		waitStatus(t, p, "http://"+healthAddr+"/healthz", 200, time.Minute)
		require.Equal(t, http.StatusUnauthorized, status("http://"+adminAddr+"/admin/river/api/queues"))

		// A token from `folio token` (the dev secret folio dev made) is
		// accepted, and an upload goes through to a queued document.
		tok := start(t, nil, "folio", "token", "--dir", dir, "--sub", "alice")
		require.Equal(t, 0, tok.wait(t, 10*time.Second), tok.stderr.String())
		req, err := http.NewRequest(http.MethodPost, "http://"+apiAddr+"/v1/documents?filename=a.pdf", strings.NewReader("%PDF-1.4\n%%EOF\n"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/pdf")
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok.stdout.String()))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode)

		p.signal(t, syscall.SIGINT)
		require.Equal(t, 0, p.wait(t, time.Minute), p.stderr.String())
		require.Empty(t, processesMentioning(t, dir), "Ctrl-C must leave no postgres or versitygw behind")
	}
	require.FileExists(t, filepath.Join(dir, "pg", "PG_VERSION"), "the cluster is kept for the next run")
}

func requireOrSkip(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(err)
	}
	t.Skip(err)
}

// processesMentioning lists running processes whose command line contains s.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	var found []string
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmdline, s) {
			found = append(found, e.Name()+": "+cmdline)
		}
	}
	return found
}

// sharedTempDir is a t.TempDir that the postgres user can reach: as root,
// the cluster runs as that user.
func sharedTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}
