package pdf_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/pdf"
)

var renderReport = flag.String("render-report", "", "write TestRenderCorpus's report to this file too")

// renderRun is one renderer over the corpus.
type renderRun struct {
	pages   int
	elapsed time.Duration
	peaks   []int64 // per document, bytes
}

func (r *renderRun) rate() float64 { return float64(r.pages) / r.elapsed.Seconds() }

func (r *renderRun) peak(q float64) int64 {
	if len(r.peaks) == 0 {
		return 0
	}
	s := slices.Clone(r.peaks)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// TestRenderCorpus draws every page of every corpus PDF that Folio parses
// as the parse does (256 pixels wide, JPEG quality 80, in a warm sandboxed
// render child, a fresh PDFium instance per document, one thread) and, in
// the same run, with
// poppler's pdftoppm at the same width and quality (one process per
// document, as Folio would run it), and reports pages per second and each
// document's peak resident memory for both. It fails unless every page of
// every parsed document got an image or a reason, and at least 99 % got an
// image.
func TestRenderCorpus(t *testing.T) {
	files := corpusFiles(t)
	if _, err := exec.LookPath("pdftoppm"); err != nil && !*corpusQuick {
		t.Skip("no pdftoppm to compare with (make corpus installs poppler-utils)")
	}
	timeBin, err := exec.LookPath("time")
	if err != nil {
		timeBin = "/usr/bin/time"
	}
	box := &sandbox.Runner{MemoryLimit: 1 << 30, Timeout: 10 * time.Minute}
	cache := filepath.Join(t.TempDir(), "wazero")
	if _, err := box.WarmRenderer(context.Background(), cache); err != nil {
		t.Fatal(err)
	}
	opt := sandbox.RenderOptions{Width: 256, Quality: 80, PageTimeout: 30 * time.Second, CacheDir: cache}
	var (
		folio, poppler renderRun
		docs, skipped  int
		reasons        = map[string][]string{}
		popplerFailed  []string
		bytesOut       int64
	)
	tmp := t.TempDir()
	var mu sync.Mutex // the tallies, in quick mode's two at a time
	eachFile(files, func(_ int, file string) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Error(err)
			return
		}
		res, err := pdf.Inspect(data, pdf.Options{MaxPages: 5000})
		mu.Lock()
		defer mu.Unlock()
		if err != nil || res.PageCount == 0 {
			skipped++ // Folio does not parse it: no thumbnails either
			return
		}
		docs++
		rel, _ := filepath.Rel(*corpusDir, file)
		nums := make([]int, res.PageCount)
		for i := range nums {
			nums[i] = i + 1
		}

		got := map[int]bool{}
		start := time.Now()
		mu.Unlock() // the other file's rendering goes on meanwhile
		stats, err := box.Render(context.Background(), func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}, nums, opt, func(p sandbox.RenderedPage) error {
			mu.Lock()
			defer mu.Unlock()
			got[p.Number] = true
			if p.Code != "" {
				reasons[p.Code] = append(reasons[p.Code], fmt.Sprintf("%s p%d: %s", rel, p.Number, p.Message))
			} else {
				bytesOut += int64(len(p.Image))
			}
			return nil
		})
		mu.Lock()
		folio.elapsed += time.Since(start)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return
		}
		if len(got) != res.PageCount {
			t.Errorf("%s: %d of %d pages got an image or a reason", rel, len(got), res.PageCount)
		}
		folio.pages += res.PageCount
		folio.peaks = append(folio.peaks, stats.PeakRSS)
		if *corpusQuick {
			return // no peer: CI's form
		}

		// pdftoppm, as a process per document, under GNU time for its own peak.
		out := filepath.Join(tmp, "p")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cmd := exec.CommandContext(ctx, timeBin, "-f", "%M", "pdftoppm", "-q", "-jpeg", "-jpegopt", "quality=80",
			"-scale-to-x", "256", "-scale-to-y", "-1", file, out)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start = time.Now()
		err = cmd.Run()
		poppler.elapsed += time.Since(start)
		cancel()
		if err != nil {
			popplerFailed = append(popplerFailed, rel)
		}
		poppler.pages += res.PageCount
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if kb, err := strconv.ParseInt(lines[len(lines)-1], 10, 64); err == nil {
			poppler.peaks = append(poppler.peaks, kb<<10)
		}
		entries, _ := os.ReadDir(tmp)
		for _, e := range entries {
			_ = os.Remove(filepath.Join(tmp, e.Name()))
		}
	})

	failed := 0
	codes := make([]string, 0, len(reasons))
	for c, l := range reasons {
		failed += len(l)
		codes = append(codes, c)
	}
	sort.Strings(codes)
	var b strings.Builder
	fmt.Fprintf(&b, "Page images: %d corpus PDFs that Folio parses (%d it does not, skipped), %d pages, 256 px wide, JPEG quality 80, one document at a time, one thread each.\n", docs, skipped, folio.pages)
	fmt.Fprintf(&b, "Folio (%s: PDFium in WebAssembly, a warm sandboxed child, a fresh instance per document): %.1f pages/s (%.1f s); peak child RSS per document: median %d MiB, p95 %d MiB, max %d MiB; mean image %d bytes\n",
		sandbox.Renderer, folio.rate(), folio.elapsed.Seconds(), folio.peak(0.5)>>20, folio.peak(0.95)>>20, folio.peak(1)>>20, bytesOut/int64(max(1, folio.pages-failed)))
	fmt.Fprintf(&b, "pdftoppm (poppler, a process per document): %.1f pages/s (%.1f s); peak RSS per document: median %d MiB, p95 %d MiB, max %d MiB; %d documents it failed on\n",
		poppler.rate(), poppler.elapsed.Seconds(), poppler.peak(0.5)>>20, poppler.peak(0.95)>>20, poppler.peak(1)>>20, len(popplerFailed))
	fmt.Fprintf(&b, "Folio ÷ pdftoppm, pages per second: %.2f×\n", folio.rate()/poppler.rate())
	fmt.Fprintf(&b, "Pages with an image: %d; with a reason: %d\n", folio.pages-failed, failed)
	for _, c := range codes {
		fmt.Fprintf(&b, "  %s: %d\n", c, len(reasons[c]))
		for i, l := range reasons[c] {
			if i == 10 {
				fmt.Fprintf(&b, "    … and %d more\n", len(reasons[c])-10)
				break
			}
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	if len(popplerFailed) > 0 {
		fmt.Fprintf(&b, "pdftoppm failed on: %s\n", strings.Join(popplerFailed, ", "))
	}
	t.Log("\n" + b.String())
	if *renderReport != "" {
		if err := os.WriteFile(*renderReport, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	least := 900
	if *corpusQuick && *corpusSample > 1 {
		least /= *corpusSample
	}
	if docs < least {
		t.Errorf("only %d documents rendered: is the corpus complete?", docs)
	}
	if 100*failed > folio.pages {
		t.Errorf("%d of %d pages have no image (more than 1 %%)", failed, folio.pages)
	}
}
