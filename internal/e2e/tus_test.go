package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/storage"
	"github.com/foliohq/folio/uploads/expire"
)

func tusHead(t *testing.T, url, tok string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodHead, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Tus-Resumable", "1.0.0")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

// tusStep is what web/e2e/tus-conformance.mjs prints for a step.
type tusStep struct {
	Statuses   []int    `json:"statuses"`
	Patches    []int64  `json:"patches"`
	DocumentID string   `json:"documentId"`
	URL        string   `json:"url"`
	FirstURL   string   `json:"firstUrl"`
	Error      string   `json:"error"`
	Status     int      `json:"status"`
	SHA256     string   `json:"sha256"`
	Size       int64    `json:"size"`
	StoppedAt  int64    `json:"stoppedAt"`
	Offset     int64    `json:"offset"`
	Methods    []string `json:"methods"`
}

// webDir is the repository's web/ folder, with the npm module named
// installed.
func webDir(t *testing.T, module string) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	root, err := devstack.Root(wd)
	require.NoError(t, err)
	web := filepath.Join(root, "web")
	_, err = os.Stat(filepath.Join(web, "node_modules", module))
	require.NoError(t, err, "%s is not installed: run `make test` (it runs npm ci in web/)", module)
	return web
}

// runTusStep runs one step of the conformance script with stock
// tus-js-client against apiURL.
func runTusStep(t *testing.T, apiURL, tok string, args ...string) tusStep {
	t.Helper()
	web := webDir(t, "tus-js-client")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"e2e/tus-conformance.mjs"}, args...)...)
	cmd.Dir = web
	cmd.Env = append(os.Environ(), "FOLIO_URL="+apiURL, "FOLIO_TOKEN="+tok)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "step %v: %s", args, stderr.String())
	var step tusStep
	require.NoError(t, json.Unmarshal(out, &step), "%s", out)
	return step
}

// TestTusJsClientConformance: stock tus-js-client (from npm, unmodified)
// against the real api binary, Postgres and S3. Every step leaves nothing
// behind but its documents: no upload row unfinished, no multipart upload,
// no stray object.
func TestTusJsClientConformance(t *testing.T) {
	t.Parallel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	addr := freeAddr(t)
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret,
		"FOLIO_HTTP_ADDR="+addr, "FOLIO_HEALTH_ADDR="+freeAddr(t), "FOLIO_MAX_UPLOAD_BYTES=64MiB")
	api := start(t, env, "api", "--migrate")
	waitStatus(t, api, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second)
	apiURL := "http://" + addr
	tok, err := auth.Sign([]byte(testSecret), "tus-client", time.Hour)
	require.NoError(t, err)
	ctx := context.Background()
	count := func(q string, args ...any) int {
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, q, args...).Scan(&n))
		return n
	}
	documentSHA := func(id string) string {
		var sum string
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT sha256 FROM documents WHERE id = $1 AND owner = 'tus-client'`, id).Scan(&sum))
		return sum
	}
	requireClean := func(what string) {
		t.Helper()
		require.Zero(t, count(`SELECT count(*) FROM uploads WHERE document_id IS NULL`), "%s: no unfinished upload left", what)
		list, err := bucket.Store.ListUploads(ctx, "")
		require.NoError(t, err)
		require.Empty(t, list, "%s: no multipart upload left", what)
		var objects int
		require.NoError(t, bucket.Store.EachObject(ctx, "", func(o []storage.ObjectInfo) error { objects += len(o); return nil }))
		require.Equal(t, count(`SELECT count(*) FROM documents`), objects, "%s: one object per document, nothing else", what)
	}

	for _, protocol := range []string{"tus-v1", "ietf-draft-03", "ietf-draft-05"} {
		s := runTusStep(t, apiURL, tok, "resume", protocol)
		require.Empty(t, s.Error, protocol)
		require.NotEmpty(t, s.DocumentID, "%s: the last answer names the document", protocol)
		require.Equal(t, s.SHA256, documentSHA(s.DocumentID), "%s: byte-identical", protocol)
		require.Equal(t, s.FirstURL, s.URL, "%s: the same upload went on", protocol)
		require.Positive(t, s.StoppedAt, protocol)
		require.NotContains(t, s.Patches, int64(0), "%s: the resumed client did not start over: %v", protocol, s.Patches)
		requireClean("resume " + protocol)
	}

	// overridePatchMethod: PATCHes sent as POSTs with X-HTTP-Method-Override.
	ov := runTusStep(t, apiURL, tok, "resume", "tus-v1", "override")
	require.Empty(t, ov.Error, "overridePatchMethod")
	require.NotContains(t, ov.Methods, "PATCH", "every PATCH went as a POST")
	require.Equal(t, ov.SHA256, documentSHA(ov.DocumentID), "overridePatchMethod: byte-identical")
	require.Equal(t, ov.FirstURL, ov.URL, "overridePatchMethod: the same upload went on")
	requireClean("resume with overridePatchMethod")

	par := runTusStep(t, apiURL, tok, "parallel")
	require.Empty(t, par.Error)
	require.Equal(t, par.SHA256, documentSHA(par.DocumentID), "parallel uploads concatenated in order")
	requireClean("parallel")

	bad := runTusStep(t, apiURL, tok, "checksum")
	require.Equal(t, 460, bad.Status, "checksum mismatch: %s", bad.Error)
	require.Empty(t, bad.DocumentID)
	require.Equal(t, "0", tusHead(t, bad.URL, tok).Header.Get("Upload-Offset"), "the chunk was dropped")
	del, err := http.NewRequest(http.MethodDelete, bad.URL, nil)
	require.NoError(t, err)
	del.Header.Set("Authorization", "Bearer "+tok)
	del.Header.Set("Tus-Resumable", "1.0.0")
	resp, err := http.DefaultClient.Do(del)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	good := runTusStep(t, apiURL, tok, "checksum-ok")
	require.Empty(t, good.Error)
	require.Equal(t, good.SHA256, documentSHA(good.DocumentID))

	off := runTusStep(t, apiURL, tok, "offset")
	require.Empty(t, off.Error)
	require.Contains(t, off.Statuses, http.StatusConflict, "the wrong offset got 409")
	require.Equal(t, off.SHA256, documentSHA(off.DocumentID), "and the client went on from the right one")

	// Expired: the client that comes back starts a new upload (tus-js-client
	// does so on 404/410), and the sweep leaves nothing of the old one.
	started := runTusStep(t, apiURL, tok, "start", "9000000")
	require.Positive(t, started.Offset)
	oldID := started.URL[strings.LastIndex(started.URL, "/")+1:]
	_, err = db.Pool.Exec(ctx, `UPDATE uploads SET expires_at = now() - interval '1 second' WHERE id = $1`, oldID)
	require.NoError(t, err)
	again := runTusStep(t, apiURL, tok, "continue", started.URL, "9000000")
	require.Empty(t, again.Error)
	require.Contains(t, again.Statuses, http.StatusGone)
	require.NotEqual(t, started.URL, again.URL, "a new upload")
	require.Equal(t, again.SHA256, documentSHA(again.DocumentID))
	res, err := expire.Resumable(ctx, db.Pool, bucket.Store, time.Now())
	require.NoError(t, err)
	require.Equal(t, 1, res.Expired)
	requireClean("expired")

	// Terminated: nothing left.
	term := runTusStep(t, apiURL, tok, "terminate")
	require.Positive(t, term.Offset)
	requireClean("terminate")

	// Not a PDF: 415 on the first chunk, nothing kept; through the IETF
	// drafts too (refused after the 104, never a 2xx).
	for _, protocol := range []string{"tus-v1", "ietf-draft-03", "ietf-draft-05"} {
		np := runTusStep(t, apiURL, tok, "not-pdf", protocol)
		require.Equal(t, http.StatusUnsupportedMediaType, np.Status, "%s: %s", protocol, np.Error)
		for _, st := range np.Statuses {
			require.False(t, st >= 200 && st < 300 && st != http.StatusCreated, "%s: refused, never a success: %v", protocol, np.Statuses)
		}
		require.Empty(t, np.DocumentID, protocol)
		requireClean("not a pdf, " + protocol)
	}
}
