package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/internal/testenv"
)

const ocrPages = 8

// scannedBook is a scan (300 dpi grey JPEGs, no text) of ocrPages pages of
// text: page n says "Page n of the scanned book" and a pangram.
func scannedBook(t *testing.T) []byte {
	t.Helper()
	pages := make([][]string, ocrPages)
	for i := range pages {
		pages[i] = []string{fmt.Sprintf("Page %d of the scanned book", i+1),
			"The quick brown fox jumps over the lazy dog.", "Sphinx of black quartz, judge my vow.",
			"Pack my box with five dozen liquor jugs."}
	}
	data, err := pdftest.ScanWithPoppler(context.Background(), pdftest.TextPages(pages...), 300)
	require.NoError(t, err)
	return data
}

// TestWorkerDrainDuringOCR: SIGTERM to a worker while it reads a scanned
// document. The OCR job is handed back with the pages read so far kept;
// the next worker reads only the rest; every page ends read once, from
// OCR, and search finds them.
func TestWorkerDrainDuringOCR(t *testing.T) {
	t.Parallel()
	if _, err := sandbox.FindOCRTools("eng"); err != nil {
		t.Skipf("no OCR here: %v (.ci/run installs tesseract-ocr)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	apiAddr, h1, h2 := freeAddr(t), freeAddr(t), freeAddr(t)
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_HTTP_ADDR="+apiAddr,
		"FOLIO_PROGRESS_INTERVAL=1ms", "FOLIO_DRAIN_TIMEOUT=200ms")
	api := start(t, env, "api")
	w1 := start(t, append(env, "FOLIO_HEALTH_ADDR="+h1), "worker")
	waitStatus(t, api, "http://"+apiAddr+"/readyz", http.StatusOK, 30*time.Second)
	waitStatus(t, w1, "http://"+h1+"/readyz", http.StatusOK, 30*time.Second)
	tok, err := auth.Sign([]byte(testSecret), "alice", time.Hour)
	require.NoError(t, err)
	c := client.New(tok, "http://"+apiAddr)
	data := scannedBook(t)
	doc, err := c.Upload(ctx, "scan.pdf", bytes.NewReader(data), int64(len(data)), nil)
	require.NoError(t, err)

	var msgs []client.Message
	stoppedAt := -1
	err = c.WatchDocument(ctx, doc.ID, func(m client.Message) error {
		msgs = append(msgs, m)
		switch m.Type {
		case "ocr.progress":
			var p struct {
				Done int `json:"pages_done"`
			}
			_ = json.Unmarshal(m.Data, &p)
			if stoppedAt < 0 && p.Done > 0 && p.Done < ocrPages {
				stoppedAt = p.Done
				w1.signal(t, syscall.SIGTERM)
				require.Equal(t, 0, w1.wait(t, 30*time.Second), w1.stderr.String())
				start(t, append(env, "FOLIO_HEALTH_ADDR="+h2), "worker")
			}
		case "ocr.done":
			return client.ErrStop
		}
		return nil
	})
	require.NoError(t, err)
	require.Positive(t, stoppedAt, "the OCR was still running when the worker was stopped")

	schemas := loadEventSchemas(t)
	var resumedAt []int
	for _, m := range msgs {
		if m.Type != "snapshot" {
			schemas.requireDescribed(t, m.Type, m.Data)
		}
		if m.Type == "document.done" {
			var d struct {
				OCR      string `json:"ocr"`
				OCRPages int    `json:"ocr_pages"`
			}
			_ = json.Unmarshal(m.Data, &d)
			require.Equal(t, "pending", d.OCR)
			require.Equal(t, ocrPages, d.OCRPages)
		}
		if m.Type == "ocr.progress" {
			var p struct {
				Done int `json:"pages_done"`
			}
			_ = json.Unmarshal(m.Data, &p)
			resumedAt = append(resumedAt, p.Done)
		}
	}
	var done struct {
		Read   int     `json:"pages_read"`
		Failed int     `json:"pages_failed"`
		Conf   float64 `json:"confidence"`
	}
	require.NoError(t, json.Unmarshal(msgs[len(msgs)-1].Data, &done))
	require.Equal(t, ocrPages, done.Read)
	require.Zero(t, done.Failed)
	require.Greater(t, done.Conf, 80.0)

	// Each page read once, from OCR; the drained attempt did not count.
	var ocrDone, sources, attempt int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT ocr_pages_done FROM documents WHERE id = $1`, doc.ID).Scan(&ocrDone))
	require.Equal(t, ocrPages, ocrDone, "no page counted twice")
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM pages WHERE document_id = $1 AND source = 'ocr'`, doc.ID).Scan(&sources))
	require.Equal(t, ocrPages, sources)
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT attempt FROM river_job WHERE kind = 'ocr'`).Scan(&attempt))
	require.Equal(t, 1, attempt, "a drained attempt does not count against the job")

	pages, err := documents.Pages(ctx, db.Pool, doc.ID, 5, 1)
	require.NoError(t, err)
	require.Contains(t, pages[0].Text, "Page 5 of the scanned book")
	hits, err := documents.Search(ctx, db.Pool, "alice", "liquor", 20)
	require.NoError(t, err)
	require.Len(t, hits, ocrPages, "search finds the words OCR read")
	t.Logf("drained after %d of %d pages; ocr.progress seen: %v", stoppedAt, ocrPages, resumedAt)
}
