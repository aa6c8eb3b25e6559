package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
)

type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c *apiClient) do(method, path string, body []byte) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/pdf")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, out
}

type docJSON struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	PageCount *int   `json:"page_count"`
	Failure   *struct {
		Code string `json:"code"`
	} `json:"failure"`
	Scan *struct {
		Found string `json:"found"`
	} `json:"scan"`
}

// waitTerminal waits until the document is done, failed or quarantined.
func (c *apiClient) waitTerminal(id string, timeout time.Duration) docJSON {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body := c.do(http.MethodGet, "/v1/documents/"+id, nil)
		require.Equal(c.t, http.StatusOK, code, string(body))
		var d docJSON
		require.NoError(c.t, json.Unmarshal(body, &d))
		if d.Status == "done" || d.Status == "failed" || d.Status == "quarantined" {
			return d
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("document %s still %s after %s", id, d.Status, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestParseThroughRealBinaries uploads a good file and hostile ones through
// the api binary; the worker binary parses them in its sandbox. The worker
// process survives them all and keeps working.
func TestParseThroughRealBinaries(t *testing.T) {
	t.Parallel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	apiAddr, healthAddr := freeAddr(t), freeAddr(t)
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_HTTP_ADDR="+apiAddr, "FOLIO_HEALTH_ADDR="+healthAddr,
		"FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_PARSE_MEMORY_LIMIT=512MiB", "FOLIO_PARSE_TIMEOUT=60s", "FOLIO_RENDER=on",
		"FOLIO_WORKER_CONCURRENCY=2")
	api := start(t, env, "api")
	worker := start(t, env, "worker")
	waitStatus(t, api, "http://"+apiAddr+"/readyz", http.StatusOK, 30*time.Second)
	waitStatus(t, worker, "http://"+healthAddr+"/readyz", http.StatusOK, 30*time.Second)
	workerPID := worker.cmd.Process.Pid

	tok, err := auth.Sign([]byte(testSecret), "alice", time.Hour)
	require.NoError(t, err)
	c := &apiClient{t: t, base: "http://" + apiAddr, token: tok}
	upload := func(name string, data []byte) string {
		code, body := c.do(http.MethodPost, "/v1/documents?filename="+name, data)
		require.Equal(t, http.StatusCreated, code, string(body))
		var d docJSON
		require.NoError(t, json.Unmarshal(body, &d))
		return d.ID
	}

	var pages [][]string
	for i := range 30 {
		pages = append(pages, []string{fmt.Sprintf("Page %d of a calm document", i+1)})
	}
	goodID := upload("good.pdf", pdftest.TextPages(pages...))
	hostile := map[string]string{}
	for name, data := range pdftest.Hostile() {
		if !bytes.Contains(data, []byte("%PDF-")) {
			continue // the API refuses these with 415 before storing anything
		}
		hostile[name] = upload("hostile.pdf", data)
	}

	for name, id := range hostile {
		d := c.waitTerminal(id, 2*time.Minute)
		outcome := d.Status
		if d.Failure != nil {
			outcome = d.Failure.Code
		}
		if outcome == "quarantined" {
			// A bomb whose decompression exceeds one of ClamAV's limits
			// is quarantined by default (FOLIO_SCAN_TOO_LARGE=quarantine):
			// never parsed.
			require.True(t, strings.HasPrefix(d.Scan.Found, "Heuristics.Limits.Exceeded"), "%s: %s", name, d.Scan.Found)
			continue
		}
		require.Contains(t, pdftest.HostileOutcomes[name], outcome, name)
	}
	d := c.waitTerminal(goodID, time.Minute)
	require.Equal(t, "done", d.Status)
	require.Equal(t, 30, *d.PageCount)

	code, text := c.do(http.MethodGet, "/v1/documents/"+goodID+"/text", nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(text), "Page 30 of a calm document")
	code, hits := c.do(http.MethodGet, "/v1/search?q=calm", nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(hits), goodID)

	select {
	case <-worker.done:
		t.Fatalf("the worker exited: %s", worker.stderr)
	default:
	}
	require.Equal(t, workerPID, worker.cmd.Process.Pid)
	require.NoError(t, syscall.Kill(workerPID, 0), "the worker process is alive")
}
