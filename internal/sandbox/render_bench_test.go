package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/sandbox"
)

// BenchmarkRenderPages draws every page of a document 256 pixels wide as
// JPEG (quality 80): Folio's renderer (a warm sandboxed child, a fresh
// PDFium instance per document) beside poppler's pdftoppm (a process per
// document) on the same file, one document per op. The documents: a
// generated one (20 pages of Helvetica text, nothing else) and a real one
// (the first chapter of The Go Programming Language from pdfcpu's test
// files: 59 pages, embedded fonts, a cover image). pages/s and the peak
// resident memory of the rendering process are reported; make bench runs
// it.
func BenchmarkRenderPages(b *testing.B) {
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/pdfcpu/pdfcpu@v0.15.0").Output()
	if err != nil {
		b.Fatalf("go mod download: %v", err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil {
		b.Fatal(err)
	}
	book, err := os.ReadFile(filepath.Join(mod.Dir, "pkg/testdata/TheGoProgrammingLanguageCh1.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("doc=generated", func(b *testing.B) { benchRender(b, pdftest.LongDocument("Benchmark", 20, 40), 20) })
	b.Run("doc=gobook", func(b *testing.B) { benchRender(b, book, 59) })
}

func benchRender(b *testing.B, data []byte, pages int) {
	nums := make([]int, pages)
	for i := range nums {
		nums[i] = i + 1
	}
	b.Run("folio", func(b *testing.B) {
		r := runner()
		opt := sandbox.RenderOptions{Width: 256, Quality: 80, CacheDir: renderCache}
		if _, err := r.WarmRenderer(context.Background(), renderCache); err != nil {
			b.Fatal(err)
		}
		var peak int64
		b.ResetTimer()
		for range b.N {
			stats, err := r.Render(context.Background(), func(context.Context) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(data)), nil
			}, nums, opt, func(p sandbox.RenderedPage) error {
				if p.Code != "" {
					return fmt.Errorf("page %d: %s", p.Number, p.Message)
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			peak = max(peak, stats.PeakRSS)
		}
		b.ReportMetric(float64(pages*b.N)/b.Elapsed().Seconds(), "pages/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		r.CloseRenderers()
	})
	b.Run("pdftoppm", func(b *testing.B) {
		if _, err := exec.LookPath("pdftoppm"); err != nil {
			b.Skip("no pdftoppm (poppler-utils)")
		}
		dir := b.TempDir()
		in := filepath.Join(dir, "in.pdf")
		if err := os.WriteFile(in, data, 0o600); err != nil {
			b.Fatal(err)
		}
		var peak int64
		b.ResetTimer()
		for range b.N {
			cmd := exec.Command("/usr/bin/time", "-f", "%M", "pdftoppm", "-q", "-jpeg", "-jpegopt", "quality=80",
				"-scale-to-x", "256", "-scale-to-y", "-1", in, filepath.Join(dir, "p"))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				b.Fatalf("pdftoppm: %v: %s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if kb, err := strconv.ParseInt(lines[len(lines)-1], 10, 64); err == nil {
				peak = max(peak, kb<<10)
			}
		}
		b.ReportMetric(float64(pages*b.N)/b.Elapsed().Seconds(), "pages/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
	})
}
