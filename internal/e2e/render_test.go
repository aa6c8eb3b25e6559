package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
)

// imageGet fetches a page image with the token of sub and extra headers.
func imageGet(t *testing.T, base, sub, path string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	tok, err := auth.Sign([]byte(testSecret), sub, time.Hour)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

func problemOf(t *testing.T, body []byte) (code, reason string) {
	t.Helper()
	var p struct{ Code, Reason string }
	require.NoError(t, json.Unmarshal(body, &p), string(body))
	return p.Code, p.Reason
}

// TestPageImagesThroughRealBinaries: a document of hostile pages between
// two ordinary ones, through the api and worker binaries. The parse
// renders every page's thumbnail as a stage of its own (progress events
// say so); the hostile pages end with their reasons, the document is done
// with every page's text, and the worker lives on. Larger widths render
// on demand, once for concurrent requests, then come from the cache.
func TestPageImagesThroughRealBinaries(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	apiAddr, health := freeAddr(t), freeAddr(t)
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_HTTP_ADDR="+apiAddr,
		"FOLIO_PROGRESS_INTERVAL=1ms", "FOLIO_PARSE_MEMORY_LIMIT=512MiB", "FOLIO_RENDER_PAGE_TIMEOUT=60s",
		"FOLIO_RENDER=on")
	api := start(t, env, "api")
	worker := start(t, append(env, "FOLIO_HEALTH_ADDR="+health), "worker")
	waitStatus(t, api, "http://"+apiAddr+"/readyz", http.StatusOK, 30*time.Second)
	waitStatus(t, worker, "http://"+health+"/readyz", http.StatusOK, 60*time.Second)
	base := "http://" + apiAddr
	tok, err := auth.Sign([]byte(testSecret), "alice", time.Hour)
	require.NoError(t, err)
	c := client.New(tok, base)

	data, pages := pdftest.HostilePages(8, 3)
	doc, err := c.Upload(ctx, "hostile.pdf", bytes.NewReader(data), int64(len(data)), nil)
	require.NoError(t, err)
	var stages []string
	err = c.WatchDocument(ctx, doc.ID, func(m client.Message) error {
		switch m.Type {
		case "parse.progress":
			var p struct {
				Stage string `json:"stage"`
				Done  int    `json:"pages_done"`
			}
			require.NoError(t, json.Unmarshal(m.Data, &p))
			stages = append(stages, fmt.Sprintf("%s:%d", p.Stage, p.Done))
		case "document.done", "document.failed":
			require.Equal(t, "document.done", m.Type, string(m.Data))
			return client.ErrStop
		}
		return nil
	})
	require.NoError(t, err)
	t.Logf("progress: %v", stages)
	require.Contains(t, stages, "rendering:0", "the rendering stage announces itself")
	require.Contains(t, stages, fmt.Sprintf("rendering:%d", len(pages)))
	require.Less(t, indexOfPrefix(stages, "extracting"), indexOfPrefix(stages, "rendering"), "text first, then images")

	// Every page has its text, and its thumbnail or its reason.
	rows, err := documents.Pages(ctx, db.Pool, doc.ID, 1, 100)
	require.NoError(t, err)
	require.Len(t, rows, len(pages))
	want := map[string]string{"ordinary first": "", "huge": "", "strip": "page_too_large",
		"path operators": "memory_limit", "image bomb": "", "ordinary last": ""}
	for i, p := range pages {
		row := rows[i]
		require.Contains(t, row.Text, p.Text)
		require.NotNil(t, row.Thumbnail, p.Name)
		if want[p.Name] == "" {
			require.Nil(t, row.Thumbnail.Failure, p.Name)
			require.Equal(t, 256, row.Thumbnail.Width)
		} else {
			require.NotNil(t, row.Thumbnail.Failure, p.Name)
			require.Equal(t, want[p.Name], row.Thumbnail.Failure.Code, row.Thumbnail.Failure.Message)
		}
	}
	require.Equal(t, http.StatusOK, status("http://"+health+"/healthz"), "the worker lives on")
	select {
	case <-worker.done:
		t.Fatal("the worker exited")
	default:
	}

	// The thumbnail, then the same again from the client's cache.
	path := fmt.Sprintf("/v1/documents/%s/pages/1/image", doc.ID)
	resp, body := imageGet(t, base, "alice", path, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, "image/jpeg", resp.Header.Get("Content-Type"))
	require.Contains(t, resp.Header.Get("Cache-Control"), "immutable")
	img, err := jpeg.Decode(bytes.NewReader(body))
	require.NoError(t, err)
	require.Equal(t, 256, img.Bounds().Dx())
	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)
	resp, _ = imageGet(t, base, "alice", path, map[string]string{"If-None-Match": etag})
	require.Equal(t, http.StatusNotModified, resp.StatusCode)

	// A page that could not be drawn says why; bad widths and pages, and
	// other owners, get nothing.
	resp, body = imageGet(t, base, "alice", fmt.Sprintf("/v1/documents/%s/pages/3/image", doc.ID), nil)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	code, reason := problemOf(t, body)
	require.Equal(t, "page_not_rendered", code)
	require.Equal(t, "page_too_large", reason)
	resp, body = imageGet(t, base, "alice", path+"?width=300", nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	code, _ = problemOf(t, body)
	require.Equal(t, "bad_width", code)
	resp, body = imageGet(t, base, "alice", fmt.Sprintf("/v1/documents/%s/pages/7/image", doc.ID), nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	code, _ = problemOf(t, body)
	require.Equal(t, "no_such_page", code)
	resp, _ = imageGet(t, base, "bob", path, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "another owner's document does not exist")

	// A larger width: concurrent requests, one render.
	large := path + "?width=1024"
	var wg sync.WaitGroup
	bodies := make([][]byte, 4)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, b := imageGet(t, base, "alice", large, nil)
			if resp.StatusCode == http.StatusOK {
				bodies[i] = b
			}
		}()
	}
	wg.Wait()
	for i := range bodies {
		require.NotEmpty(t, bodies[i], "request %d", i)
		require.Equal(t, bodies[0], bodies[i])
	}
	img, err = jpeg.Decode(bytes.NewReader(bodies[0]))
	require.NoError(t, err)
	require.Equal(t, 1024, img.Bounds().Dx())
	renders := func() int {
		return strings.Count(worker.stderr.String(), `"render: page rendered on demand"`)
	}
	require.Equal(t, 1, renders(), "concurrent requests share one render")
	var jobs int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'render'`).Scan(&jobs))
	require.Equal(t, 1, jobs)
	resp, body = imageGet(t, base, "alice", large, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, bodies[0], body)
	require.Equal(t, 1, renders(), "the second request is served from the stored image")

	// Deleting the document deletes its images.
	prefix := documents.DerivedPrefix("alice", doc.ID)
	require.NotEmpty(t, bucket.Keys(t, prefix))
	require.NoError(t, c.Delete(ctx, doc.ID))
	require.Empty(t, bucket.Keys(t, prefix))
}

func indexOfPrefix(list []string, prefix string) int {
	for i, s := range list {
		if strings.HasPrefix(s, prefix) {
			return i
		}
	}
	return -1
}

// TestWorkerDrainDuringRendering: SIGTERM to a worker while the parse draws
// thumbnails. The job is handed back (the text all stored); the next
// worker draws only the pages without a thumbnail; every page ends with
// exactly one, and the drained attempt did not count.
func TestWorkerDrainDuringRendering(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Drawing a page takes far longer than extracting its text: a few
	// hundred pages are enough to be interrupted while drawing.
	const pages = 300
	lp := startLongParse(ctx, t, pages, "FOLIO_DRAIN_TIMEOUT=200ms", "FOLIO_RENDER=on")
	db, env, c, doc, w1, h1, h2 := lp.db, lp.env, lp.client, lp.doc, lp.worker, lp.workerHealth, freeAddr(t)

	var drainedAt int
	var stages []string
	requeuedAt := -1
	err := c.WatchDocument(ctx, doc.ID, func(m client.Message) error {
		switch m.Type {
		case "parse.progress":
			var p client.Progress
			require.NoError(t, json.Unmarshal(m.Data, &p))
			stages = append(stages, fmt.Sprintf("%s:%d", p.Stage, p.PagesDone))
			if p.Stage == "rendering" && drainedAt == 0 && p.PagesDone > 0 && p.PagesDone < pages {
				drainedAt = p.PagesDone
				w1.signal(t, syscall.SIGTERM)
				waitStatus(t, w1, "http://"+h1+"/readyz", http.StatusServiceUnavailable, 10*time.Second)
			}
		case "parse.requeued":
			requeuedAt = len(stages)
			require.Equal(t, 0, w1.wait(t, 30*time.Second), w1.stderr.String())
			start(t, append(env, "FOLIO_HEALTH_ADDR="+h2), "worker")
		}
		if m.Terminal() {
			require.Equal(t, "document.done", m.Type, string(m.Data))
			return client.ErrStop
		}
		return nil
	})
	require.NoError(t, err)
	require.Positive(t, drainedAt, "the worker was stopped while drawing: %v", stages)

	var images, distinct, failed int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT page_number), count(*) FILTER (WHERE s3_key IS NULL)
		FROM page_images WHERE document_id = $1 AND width = 256`, doc.ID).Scan(&images, &distinct, &failed))
	require.Equal(t, pages, images)
	require.Equal(t, pages, distinct)
	require.Zero(t, failed)
	var attempt, rendered int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT attempt FROM river_job WHERE kind = 'parse'`).Scan(&attempt))
	require.Equal(t, 1, attempt, "a drained attempt does not count against the job")
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT pages_rendered FROM documents WHERE id = $1`, doc.ID).Scan(&rendered))
	require.Equal(t, pages, rendered)
	// The second attempt's rendering starts where the first one stopped.
	require.GreaterOrEqual(t, requeuedAt, 0, "the job was handed back")
	resumed := -1
	for _, st := range stages[requeuedAt:] {
		if n, ok := strings.CutPrefix(st, "rendering:"); ok {
			resumed, _ = strconv.Atoi(n)
			break
		}
	}
	require.GreaterOrEqual(t, resumed, drainedAt, "progress: %v", stages)
	t.Logf("drained at %d thumbnails drawn; the next attempt resumed at %d", drainedAt, resumed)
}
