package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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

	ok := start(t, nil, "folio", append(args, good1, good2)...)
	require.Equal(t, 0, ok.wait(t, 2*time.Minute), ok.stderr.String())
	require.Regexp(t, regexp.MustCompile(`(?m)^done +\S+ +one\.pdf +12 pages$`), ok.stdout.String())
	require.Regexp(t, regexp.MustCompile(`(?m)^done +\S+ +two\.pdf +3 pages$`), ok.stdout.String())

	failed := start(t, nil, "folio", append(args, good2, bad)...)
	require.Equal(t, 1, failed.wait(t, 2*time.Minute), "one document failed")
	require.Regexp(t, regexp.MustCompile(`(?m)^failed +\S+ +cycle\.pdf +malformed: `), failed.stdout.String())

	id := regexp.MustCompile(`(?m)^done +(\S+) +one\.pdf`).FindStringSubmatch(ok.stdout.String())[1]
	w := start(t, nil, "folio", "watch", "--api", "http://"+apiAddr, "--token", tok, id)
	require.Equal(t, 0, w.wait(t, time.Minute), w.stderr.String())
	require.Contains(t, w.stdout.String(), "12 pages")
}
