package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/internal/clamd"
	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/storage"
)

// imagePDF is a PDF of about size bytes: pages of a noisy greyscale JPEG
// (what scanned documents are made of; it does not compress).
func imagePDF(size int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	img := image.NewGray(image.Rect(0, 0, 1200, 1600))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	img.Set(0, 0, color.Gray{})
	var jb bytes.Buffer
	_ = jpeg.Encode(&jb, img, &jpeg.Options{Quality: 75})
	n := max(1, size/jb.Len())
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", ""}
	kids := make([]string, n)
	for i := range n {
		page, content, im := 3+3*i, 4+3*i, 5+3*i
		kids[i] = fmt.Sprintf("%d 0 R", page)
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 288 384] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>", im, content),
			pdftest.Stream("", []byte("q 288 0 0 384 0 0 cm /Im0 Do Q")),
			pdftest.Stream("/Type /XObject /Subtype /Image /Width 1200 /Height 1600 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode", jb.Bytes()))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n)
	return pdftest.Build(objs, "")
}

// BenchmarkScanThroughput: Folio's scan of an original (streamed from S3
// to clamd's INSTREAM in 64 KiB chunks, what the scan job does) beside
// `clamdscan --stream` on the same bytes from a local file, against the
// same clamd, in the same run. MB/s is the figure (b.SetBytes). The clamd
// loads Folio's test signatures: without internet there is no official
// database, whose millions of signatures cost more per byte. Its cache of
// clean files is off: each scan reads the file in full, as a new upload's.
func BenchmarkScanThroughput(b *testing.B) {
	scanner := testenv.ClamdWith(b, devstack.ClamdOptions{DisableCache: true})
	bucket := testenv.S3(b)
	c, err := clamd.Parse(scanner.Address)
	if err != nil {
		b.Fatal(err)
	}
	// clamdscan sends at most the StreamMaxLength of the configuration it
	// reads (25 MiB by default), then ends the stream: the same as clamd's
	// (512 MiB), or it would scan less of the large files than Folio.
	conf := filepath.Join(b.TempDir(), "clamd.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("TCPSocket %d\nTCPAddr 127.0.0.1\nStreamMaxLength 512M\n", scanner.Port)), 0o644); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"text-1MiB", pdftest.LongDocument("Bench", 420, 40)},
		{"images-16MiB", imagePDF(16 << 20)},
		{"images-128MiB", imagePDF(128 << 20)},
	} {
		key := "originals/bench/" + f.name
		if _, err := bucket.Store.Put(ctx, key, bytes.NewReader(f.data), storage.PutOptions{}); err != nil {
			b.Fatal(err)
		}
		local := filepath.Join(b.TempDir(), f.name+".pdf")
		if err := os.WriteFile(local, f.data, 0o644); err != nil {
			b.Fatal(err)
		}
		b.Run("file="+f.name+"/by=folio", func(b *testing.B) {
			b.SetBytes(int64(len(f.data)))
			for range b.N {
				obj, err := bucket.Store.Get(ctx, key)
				if err != nil {
					b.Fatal(err)
				}
				res, err := c.Scan(ctx, obj)
				obj.Close()
				if err != nil || res.Found() {
					b.Fatal(err, res.Signature)
				}
			}
		})
		// The client alone, from the local file: what S3 costs apart.
		b.Run("file="+f.name+"/by=folio-from-disk", func(b *testing.B) {
			b.SetBytes(int64(len(f.data)))
			for range b.N {
				fh, err := os.Open(local)
				if err != nil {
					b.Fatal(err)
				}
				res, err := c.Scan(ctx, fh)
				fh.Close()
				if err != nil || res.Found() {
					b.Fatal(err, res.Signature)
				}
			}
		})
		b.Run("file="+f.name+"/by=clamdscan", func(b *testing.B) {
			b.SetBytes(int64(len(f.data)))
			for range b.N {
				out, err := exec.Command("clamdscan", "--config-file="+conf, "--stream", "--no-summary", local).CombinedOutput()
				if err != nil || !bytes.Contains(out, []byte(": OK")) {
					b.Fatalf("clamdscan: %v: %s", err, out)
				}
			}
		})
	}
}

// BenchmarkOnePageToDone: a 1-page PDF from the start of its upload to
// document.done on its event stream, through real api and worker
// processes, with the malware scan (a real clamd) and without: the
// latency the scan stage adds.
func BenchmarkOnePageToDone(b *testing.B) {
	scanner := testenv.Clamd(b)
	for _, scan := range []string{"off", "clamd"} {
		b.Run("scan="+scan, func(b *testing.B) {
			db, bucket := testenv.Postgres(b), testenv.S3(b)
			apiAddr, healthAddr := freeAddr(b), freeAddr(b)
			env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_HTTP_ADDR="+apiAddr, "FOLIO_HEALTH_ADDR="+healthAddr,
				"FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_LOG_LEVEL=warn", "FOLIO_UPLOAD_RATE_LIMIT=100000",
				"FOLIO_SCAN="+scan, "FOLIO_CLAMD_ADDRESS="+scanner.Address)
			api := start(b, env, "api")
			worker := start(b, env, "worker")
			waitStatus(b, api, "http://"+apiAddr+"/readyz", http.StatusOK, 30*time.Second)
			waitStatus(b, worker, "http://"+healthAddr+"/readyz", http.StatusOK, 30*time.Second)
			tok, err := auth.Sign([]byte(testSecret), "bench", time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			c := client.New(tok, "http://"+apiAddr)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				// A new file each time, as uploads are (clamd caches the
				// hashes of clean files it has read).
				data := pdftest.TextPages([]string{fmt.Sprintf("One page, to be done quickly: %s %d", scan, i)})
				doc, err := c.Upload(ctx, "one.pdf", bytes.NewReader(data), int64(len(data)), nil)
				if err != nil {
					b.Fatal(err)
				}
				last := ""
				err = c.WatchDocument(ctx, doc.ID, func(m client.Message) error {
					last = m.Type
					if m.Terminal() {
						return client.ErrStop
					}
					return nil
				})
				if err != nil || (last != "document.done" && last != "snapshot") {
					b.Fatal(err, last)
				}
			}
			b.StopTimer()
			// Where the time goes, from the documents' own events: the
			// scan stage (committed → scan.done) and the whole (committed
			// → document.done), means over the run.
			var scanMS, doneMS float64
			err = db.Pool.QueryRow(ctx, `SELECT
					coalesce(avg(extract(epoch FROM s.created_at - q.created_at)) * 1000, 0),
					avg(extract(epoch FROM d.created_at - q.created_at)) * 1000
				FROM document_events q
				JOIN document_events d ON d.document_id = q.document_id AND d.type = 'document.done'
				LEFT JOIN document_events s ON s.document_id = q.document_id AND s.type = 'scan.done'
				WHERE q.type = 'document.queued'`).Scan(&scanMS, &doneMS)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(scanMS, "scan-stage-ms")
			b.ReportMetric(doneMS, "committed-to-done-ms")
		})
	}
}
