package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
)

// TestCLIUploadWatch: `folio upload --watch` uploads with a byte bar, follows
// each document to its end, and exits 0 only if all are done.
func TestCLIUploadWatch(t *testing.T) {
	t.Parallel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	apiAddr, health := freeAddr(t), freeAddr(t)
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_HTTP_ADDR="+apiAddr, "FOLIO_HEALTH_ADDR="+health)
	api := start(t, env, "api")
	worker := start(t, env, "worker")
	waitStatus(t, api, "http://"+apiAddr+"/readyz", http.StatusOK, 30*time.Second)
	waitStatus(t, worker, "http://"+health+"/readyz", http.StatusOK, 30*time.Second)
	tok, err := auth.Sign([]byte(testSecret), "carol", time.Hour)
	require.NoError(t, err)

	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		return p
	}
	var pages [][]string
	for i := range 12 {
		pages = append(pages, []string{fmt.Sprintf("page %d", i+1)})
	}
	good1 := write("one.pdf", pdftest.TextPages(pages...))
	good2 := write("two.pdf", pdftest.TextPages(pages[:3]...))
	bad := write("cycle.pdf", pdftest.Hostile()["page tree cycle"])
	args := []string{"upload", "--watch", "--api", "http://" + apiAddr, "--token", tok}

	state := []string{"FOLIO_STATE_DIR=" + t.TempDir()} // folio upload keeps its uploads' URLs there
	ok := start(t, state, "folio", append(args, good1, good2)...)
	require.Equal(t, 0, ok.wait(t, 2*time.Minute), ok.stderr.String())
	require.Regexp(t, regexp.MustCompile(`(?m)^done +\S+ +one\.pdf +12 pages$`), ok.stdout.String())
	require.Regexp(t, regexp.MustCompile(`(?m)^done +\S+ +two\.pdf +3 pages$`), ok.stdout.String())

	failed := start(t, state, "folio", append(args, good2, bad)...)
	require.Equal(t, 1, failed.wait(t, 2*time.Minute), "one document failed")
	require.Regexp(t, regexp.MustCompile(`(?m)^failed +\S+ +cycle\.pdf +malformed: `), failed.stdout.String())

	id := regexp.MustCompile(`(?m)^done +(\S+) +one\.pdf`).FindStringSubmatch(ok.stdout.String())[1]
	w := start(t, nil, "folio", "watch", "--api", "http://"+apiAddr, "--token", tok, id)
	require.Equal(t, 0, w.wait(t, time.Minute), w.stderr.String())
	require.Contains(t, w.stdout.String(), "12 pages")
}

// TestCLIUploadResume: `folio upload` killed mid-upload; `folio upload
// --resume` with the same file goes on with the same upload (its id is
// the document's) from what the server holds, and there is one document.
func TestCLIUploadResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	apiAddr := freeAddr(t)
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_HTTP_ADDR="+apiAddr,
		"FOLIO_HEALTH_ADDR="+freeAddr(t), "FOLIO_MAX_UPLOAD_BYTES=1GiB")
	api := start(t, env, "api", "--migrate")
	waitStatus(t, api, "http://"+apiAddr+"/readyz", http.StatusOK, 30*time.Second)
	tok, err := auth.Sign([]byte(testSecret), "dave", time.Hour)
	require.NoError(t, err)

	file := blockFile{size: *bigUploadMiB << 20}
	path := filepath.Join(t.TempDir(), "big.pdf")
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = io.Copy(f, io.NewSectionReader(file, 0, file.size))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	state := []string{"FOLIO_STATE_DIR=" + t.TempDir()}
	args := []string{"upload", "--api", "http://" + apiAddr, "--token", tok}

	first := start(t, state, "folio", append(args, path)...)
	var id string
	var offset int64
	require.Eventually(t, func() bool {
		return db.Pool.QueryRow(ctx, `SELECT id::text, "offset" FROM uploads`).Scan(&id, &offset) == nil && offset > 0
	}, time.Minute, 2*time.Millisecond, "the upload under way")
	first.signal(t, syscall.SIGKILL)
	first.wait(t, time.Minute)
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT "offset" FROM uploads WHERE id = $1`, id).Scan(&offset))
	require.Less(t, offset, file.size, "interrupted before the end")

	again := start(t, state, "folio", append(args, "--resume", path)...)
	require.Equal(t, 0, again.wait(t, 2*time.Minute), again.stderr.String())
	require.Regexp(t, regexp.MustCompile(`(?m)^\S+ +`+id+` +big\.pdf`), again.stdout.String(), "the same upload went on")
	var docs int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM documents`).Scan(&docs))
	require.Equal(t, 1, docs)
	var sum string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT sha256 FROM documents WHERE id = $1`, id).Scan(&sum))
	require.Equal(t, file.sha256(t), sum)
	t.Logf("killed at %d MiB recorded; --resume finished it", offset>>20)
}
