package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
)

// BenchmarkUploadMemory streams generated PDFs through a real api process
// into a real S3 server and reports the process's peak RSS (VmHWM) for the
// scenario: one 2 GiB upload, and eight concurrent 256 MiB uploads. A fresh
// api process serves each scenario, so the peak is that scenario's own.
//
//	go test -run '^$' -bench UploadMemory -benchtime 1x ./internal/e2e
func BenchmarkUploadMemory(b *testing.B) {
	for _, sc := range []struct {
		name    string
		uploads int
		size    int64
	}{
		{"1x2GiB", 1, 2 << 30},
		{"8x256MiB", 8, 256 << 20},
	} {
		b.Run(sc.name, func(b *testing.B) {
			db, bucket := testenv.Postgres(b), testenv.S3(b)
			addr := freeAddr(b)
			api := start(b, append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_HTTP_ADDR="+addr,
				"FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_MAX_UPLOAD_BYTES=4GiB", "FOLIO_OWNER_QUOTA_BYTES=1TiB",
				"FOLIO_UPLOAD_RATE_LIMIT=100000", "FOLIO_LOG_LEVEL=warn"), "api")
			waitStatus(b, api, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second)
			tok, err := auth.Sign([]byte(testSecret), "bench", time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			rssBefore := vmHWM(b, api.cmd.Process.Pid)

			b.SetBytes(int64(sc.uploads) * sc.size)
			b.ResetTimer()
			for range b.N {
				var wg sync.WaitGroup
				errs := make(chan error, sc.uploads)
				for range sc.uploads {
					wg.Go(func() { errs <- uploadGenerated(addr, tok, sc.size) })
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				emptyBucket(b, db, bucket) // keep the disk from filling over iterations
				b.StartTimer()
			}
			b.StopTimer()
			peak := vmHWM(b, api.cmd.Process.Pid)
			b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(float64(rssBefore)/(1<<20), "idle-RSS-MiB")
		})
	}
}

// uploadGenerated streams a size-byte body that starts with a PDF header,
// chunked (no Content-Length), and checks for 201.
func uploadGenerated(addr, token string, size int64) error {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/documents?filename=bench.pdf", io.NopCloser(newGenerated(size)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/pdf")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("upload: %s: %s", resp.Status, body)
	}
	return nil
}

// generated is a PDF header followed by a repeated random block: cheap to
// make at any size, not compressible into nothing.
type generated struct {
	block  []byte
	header []byte
	left   int64
	off    int
}

var benchBlock = func() []byte {
	b := make([]byte, 1<<20)
	_, _ = rand.Read(b)
	return b
}()

func newGenerated(size int64) *generated {
	return &generated{block: benchBlock, header: []byte("%PDF-1.7\n"), left: size}
}

func (g *generated) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	var n int
	if len(g.header) > 0 {
		n = copy(p, g.header)
		g.header = g.header[n:]
	} else {
		n = copy(p, g.block[g.off:])
		g.off = (g.off + n) % len(g.block)
	}
	g.left -= int64(n)
	return n, nil
}

// vmHWM is a process's peak resident set size in bytes.
func vmHWM(b *testing.B, pid int) int64 {
	b.Helper()
	return procStatus(b, pid, "VmHWM:")
}

// procStatus reads a kB field of /proc/<pid>/status, in bytes.
func procStatus(b *testing.B, pid int, field string) int64 {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc status", field)
	return 0
}

func emptyBucket(b *testing.B, db *testenv.DB, bucket *testenv.Bucket) {
	b.Helper()
	ctx := context.Background()
	rows, err := db.Pool.Query(ctx, "DELETE FROM documents RETURNING s3_key")
	if err != nil {
		b.Fatal(err)
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			b.Fatal(err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	for _, k := range keys {
		if err := bucket.Store.Delete(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUploadSmall: 16 clients upload one-page PDFs (a few KB) to one
// api process as fast as it takes them: each is an S3 put and one
// transaction (the document, its parse job, its document.queued event).
// uploads/s is the figure; design=clock|sequenced as in
// BenchmarkEventFanout, in the same run.
//
//	go test -run '^$' -bench UploadSmall -benchtime 2000x ./internal/e2e
func BenchmarkUploadSmall(b *testing.B) {
	for _, design := range []string{"clock", "sequenced"} {
		b.Run("design="+design, func(b *testing.B) {
			const clients = 16
			addr, _, _ := benchAPI(b, design, "FOLIO_UPLOAD_RATE_LIMIT=1000000")
			data := pdftest.TextPages([]string{"A page of text."})
			var left atomic.Int64
			left.Store(int64(b.N))
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			b.ResetTimer()
			start := time.Now()
			for i := range clients {
				wg.Go(func() {
					tok, err := auth.Sign([]byte(testSecret), fmt.Sprintf("owner-%d", i), time.Hour)
					if err != nil {
						errs <- err
						return
					}
					c := client.New(tok, "http://"+addr)
					for left.Add(-1) >= 0 {
						if _, err := c.Upload(context.Background(), "a.pdf", bytes.NewReader(data), int64(len(data)), nil); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "uploads/s")
		})
	}
}
