package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/internal/clamd"
	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
)

// directUpload sends data the way Uppy's AwsS3 plugin does with Folio's
// signatures (create, one part, complete), then finalizes it, and returns
// the document's id.
func (c *apiClient) directUpload(name string, data []byte) string {
	c.t.Helper()
	post := func(path string, v any) []byte {
		body, err := json.Marshal(v)
		require.NoError(c.t, err)
		req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(body))
		require.NoError(c.t, err)
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(c.t, err)
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		require.Less(c.t, resp.StatusCode, 300, "%s: %s", path, out)
		return out
	}
	s3 := func(method, url string, body []byte) *http.Response {
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		require.NoError(c.t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(c.t, err)
		c.t.Cleanup(func() { resp.Body.Close() })
		require.Equal(c.t, http.StatusOK, resp.StatusCode, "%s %s", method, url)
		return resp
	}
	var up struct{ ID, Key, URL string }
	require.NoError(c.t, json.Unmarshal(post("/v1/direct-uploads", map[string]any{"filename": name, "size": len(data)}), &up))
	var created struct {
		UploadID string `xml:"UploadId"`
	}
	require.NoError(c.t, xml.NewDecoder(s3(http.MethodPost, up.URL, nil).Body).Decode(&created))
	sign := func(method string, part int) string {
		var signed map[string]string
		require.NoError(c.t, json.Unmarshal(post("/v1/direct-uploads/sign",
			map[string]any{"method": method, "key": up.Key, "uploadId": created.UploadID, "partNumber": part}), &signed))
		return signed["url"]
	}
	etag := s3(http.MethodPut, sign("PUT", 1), data).Header.Get("ETag")
	s3(http.MethodPost, sign("POST", 0), []byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>`+etag+`</ETag></Part></CompleteMultipartUpload>`))
	post("/v1/direct-uploads/"+up.ID+"/finalize", nil)
	return up.ID
}

// waitStatus polls the document until it has status want.
func (c *apiClient) waitFor(id, want string, timeout time.Duration) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body := c.do(http.MethodGet, "/v1/documents/"+id, nil)
		require.Equal(c.t, http.StatusOK, code, string(body))
		var d map[string]any
		require.NoError(c.t, json.Unmarshal(body, &d))
		if d["status"] == want {
			return d
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("document %s still %s (want %s) after %s: %s", id, d["status"], want, timeout, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMalwareScanThroughRealBinaries: real API, worker and clamd. The
// EICAR test file inside a valid PDF, uploaded by each path (one request,
// tus, direct to S3), ends quarantined, never parsed, and nothing of it is
// served; a clean PDF goes on to done. New signatures quarantine a
// document that was done. With clamd stopped, uploads wait in scanning
// and go on by themselves when it is back. Operators list and release.
func TestMalwareScanThroughRealBinaries(t *testing.T) {
	t.Parallel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	scanner := testenv.Clamd(t)
	apiAddr, healthAddr := freeAddr(t), freeAddr(t)
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_HTTP_ADDR="+apiAddr, "FOLIO_HEALTH_ADDR="+healthAddr,
		"FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_RENDER=on", "FOLIO_SCAN=clamd", "FOLIO_CLAMD_ADDRESS="+scanner.Address,
		"FOLIO_SCAN_RETRY=1s", "FOLIO_SCAN_SIGNATURES_INTERVAL=1s")
	api := start(t, env, "api")
	worker := start(t, env, "worker")
	waitStatus(t, api, "http://"+apiAddr+"/readyz", http.StatusOK, 30*time.Second)
	waitStatus(t, worker, "http://"+healthAddr+"/readyz", http.StatusOK, 30*time.Second)
	tok, err := auth.Sign([]byte(testSecret), "alice", time.Hour)
	require.NoError(t, err)
	c := &apiClient{t: t, base: "http://" + apiAddr, token: tok}
	ctx := context.Background()

	eicar := pdftest.Carrying("An ordinary page", "eicar.com", clamd.EICAR())
	cleanData := pdftest.TextPages([]string{"A clean page, for now"})
	upload := func(data []byte) string {
		code, body := c.do(http.MethodPost, "/v1/documents?filename=a.pdf", data)
		require.Equal(t, http.StatusCreated, code, string(body))
		var d docJSON
		require.NoError(t, json.Unmarshal(body, &d))
		require.Equal(t, "scanning", d.Status)
		return d.ID
	}
	clean := upload(cleanData)
	bad := map[string]string{"one request": upload(eicar)}
	doc, err := client.New(tok, c.base).UploadResumable(ctx, "tus.pdf", bytes.NewReader(eicar), int64(len(eicar)), client.UploadOptions{})
	require.NoError(t, err)
	bad["tus"] = doc.ID.String()
	bad["direct"] = c.directUpload("direct.pdf", eicar)

	require.Equal(t, "done", c.waitTerminal(clean, time.Minute).Status)
	for path, id := range bad {
		d := c.waitFor(id, "quarantined", time.Minute)
		scan := d["scan"].(map[string]any)
		require.Equal(t, "found", scan["result"], path)
		require.Equal(t, "Folio.Test.EICAR.UNOFFICIAL", scan["found"], path)
		for _, p := range []string{"/content", "/text", "/pages", "/outline", "/pages/1/image"} {
			code, body := c.do(http.MethodGet, "/v1/documents/"+id+p, nil)
			require.Equal(t, http.StatusForbidden, code, "%s %s: %s", path, p, body)
			require.Contains(t, string(body), `"code":"quarantined"`)
		}
		code, body := c.do(http.MethodPost, "/v1/documents/"+id+"/reparse", nil)
		require.Equal(t, http.StatusForbidden, code, string(body))
		var parses, pages int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'parse' AND args->>'document_id' = $1`, id).Scan(&parses))
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM pages WHERE document_id = $1`, id).Scan(&pages))
		require.Zero(t, parses, "%s: never parsed: no parse job", path)
		require.Zero(t, pages, path)
	}
	code, body := c.do(http.MethodGet, "/v1/documents?status=quarantined", nil)
	require.Equal(t, http.StatusOK, code)
	for _, id := range bad {
		require.Contains(t, string(body), id)
	}
	require.NotContains(t, string(body), clean)
	code, body = c.do(http.MethodGet, "/v1/search?q=clean", nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(body), clean)

	// Operators: the CLI lists them across owners; a release is audited
	// and the document is parsed after all (it is a valid PDF).
	cli := func(args ...string) string {
		p := start(t, []string{"DATABASE_URL=" + db.URL}, "folio", args...)
		require.Equal(t, 0, p.wait(t, time.Minute), p.stderr.String())
		return p.stdout.String()
	}
	listed := cli("documents", "quarantine", "list", "--json")
	for _, id := range bad {
		require.Contains(t, listed, id)
	}
	require.Contains(t, listed, `"owner": "alice"`)
	cli("documents", "quarantine", "release", "--by", "ops@example", "--note", "the EICAR test file", bad["tus"])
	require.Equal(t, "done", c.waitTerminal(bad["tus"], time.Minute).Status)
	var audit string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT string_agg(action || ':' || actor, ' ' ORDER BY id) FROM scan_audit WHERE document_id = $1`,
		bad["tus"]).Scan(&audit))
	require.Equal(t, "quarantined:scanner released:ops@example", audit)

	// New signatures that know the clean document: the background rescan
	// quarantines it.
	require.NoError(t, scanner.SetSignatures(ctx, 2, map[string]string{"daily.hdb": clamd.HashSignature("Folio.Test.Today", cleanData)}))
	d := c.waitFor(clean, "quarantined", time.Minute)
	require.Equal(t, "Folio.Test.Today.UNOFFICIAL", d["scan"].(map[string]any)["found"])
	code, _ = c.do(http.MethodGet, "/v1/documents/"+clean+"/text", nil)
	require.Equal(t, http.StatusForbidden, code)

	// clamd gone: uploads wait in scanning, never parsed; the worker's
	// metrics say why; they go on by themselves when it is back.
	require.NoError(t, scanner.Stop())
	waiting := upload(pdftest.TextPages([]string{"Waiting for the scanner"}))
	metrics := "http://" + healthAddr + "/metrics"
	waitMetric(t, metrics, "folio_scanner_up 0", time.Minute)
	waitMetric(t, metrics, `folio_scan_failures_total{reason="unreachable"}`, time.Minute)
	require.Equal(t, "scanning", c.waitFor(waiting, "scanning", time.Second)["status"])
	code, _ = c.do(http.MethodGet, "/v1/documents/"+waiting+"/content", nil)
	require.Equal(t, http.StatusConflict, code, "not served before its scan")
	var parses int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'parse' AND args->>'document_id' = $1`, waiting).Scan(&parses))
	require.Zero(t, parses)
	bin, err := devstack.ClamdBin()
	require.NoError(t, err)
	back, err := devstack.StartClamd(ctx, devstack.ClamdOptions{Bin: bin, Dir: scanner.Dir(), Port: scanner.Port})
	require.NoError(t, err)
	t.Cleanup(func() { _ = back.Stop() })
	require.Equal(t, "done", c.waitTerminal(waiting, time.Minute).Status)
	waitMetric(t, metrics, "folio_scanner_up 1", time.Minute)
}

// waitMetric waits until the metrics page has a line starting with line.
func waitMetric(t *testing.T, url, line string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, line) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q on %s after %s", line, url, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
