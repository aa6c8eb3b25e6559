package pdf_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/sandbox"
)

var (
	ocrPages  = flag.Int("ocr-pages", 60, "TestOCRCorpus: how many scanned pages to read")
	ocrReport = flag.String("ocr-report", "", "write TestOCRCorpus's report to this file too")
)

// ocrSample is one page of a real document, scanned: the scan, and the
// original's text as the reference.
type ocrSample struct {
	name      string
	scan      []byte
	reference string
}

// ocrSamples picks pages of the corpus's texlive documents (real
// documents in English nobody here wrote): from each file in order, its
// middle page when it is prose (pdftotext reads at least 150 words on it,
// four in five of them with letters: not a table of contents' dot
// leaders), until n pages; each is rendered at 300 dpi to a grey JPEG and
// wrapped as an image-only PDF, as a scanner would.
func ocrSamples(t *testing.T, n int) []ocrSample {
	t.Helper()
	var out []ocrSample
	for _, file := range corpusFiles(t) {
		if len(out) >= n {
			break
		}
		rel, _ := filepath.Rel(*corpusDir, file)
		if !strings.HasPrefix(rel, "texlive"+string(filepath.Separator)) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, pages, _, err := poppler(ctx, file)
		page := (pages + 1) / 2
		var ref []byte
		if err == nil && page > 0 {
			ref, err = exec.CommandContext(ctx, "pdftotext", "-q", "-enc", "UTF-8", "-f", fmt.Sprint(page), "-l", fmt.Sprint(page), file, "-").Output()
		}
		if err != nil || !prose(string(ref)) {
			cancel()
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		scan, err := pdftest.ScanWithPoppler(ctx, data, 300, page)
		cancel()
		if err != nil {
			t.Fatalf("scanning %s: %v", file, err)
		}
		out = append(out, ocrSample{name: fmt.Sprintf("%s p%d", rel, page), scan: scan, reference: string(ref)})
	}
	return out
}

// prose says whether a page's text is at least 150 words, four in five of
// them with two letters or more.
func prose(text string) bool {
	all, lettered := 0, 0
	for _, w := range strings.Fields(text) {
		all++
		n := 0
		for _, r := range w {
			if unicode.IsLetter(r) {
				n++
			}
		}
		if n >= 2 {
			lettered++
		}
	}
	return lettered >= 150 && 5*lettered >= 4*all
}

// TestOCRCorpus reads scanned pages of real documents through Folio's OCR
// (PDFium at 300 dpi in a render child, Tesseract in a sandboxed child) and through
// ocrmypdf --sidecar (Debian's, with its own rendering) in the same run,
// one page at a time, each tool on one thread, and compares both with the
// original's text: mean word F1 and seconds per page. It fails if Folio's
// mean F1 is below 0.9 or fewer than 50 pages were read.
func TestOCRCorpus(t *testing.T) {
	if *corpusDir == "" {
		t.Skip("no corpus: run `make corpus` (or go test -corpus DIR)")
	}
	tools, err := sandbox.FindOCRTools("eng")
	if err != nil {
		t.Skipf("no OCR here: %v", err)
	}
	ocrmypdf, err := exec.LookPath("ocrmypdf")
	if err != nil && !*corpusQuick {
		t.Skip("no ocrmypdf to compare with (apt-get install ocrmypdf; make corpus does)")
	}
	samples := ocrSamples(t, *ocrPages)
	box := &sandbox.Runner{MemoryLimit: 1 << 30, Timeout: 10 * time.Minute}
	tmp := t.TempDir()
	var (
		sumOurs, sumTheirs float64
		timeOurs, timeThem time.Duration
		confs              float64
		low                []string
	)
	for i, s := range samples {
		var text string
		var conf float64
		start := time.Now()
		_, err := box.OCR(context.Background(), func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(s.scan)), nil
		}, []int{1}, tools, func(p sandbox.OCRPage) error {
			if p.Code != "" {
				return fmt.Errorf("%s: %s", p.Code, p.Message)
			}
			text, conf = p.Text, p.Confidence
			return nil
		})
		timeOurs += time.Since(start)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		theirs := []byte(s.reference) // quick: no ocrmypdf (its F1 shows as 1)
		if !*corpusQuick {
			in, out, side := filepath.Join(tmp, fmt.Sprintf("%d.pdf", i)), filepath.Join(tmp, fmt.Sprintf("%d-ocr.pdf", i)), filepath.Join(tmp, fmt.Sprintf("%d.txt", i))
			if err := os.WriteFile(in, s.scan, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(context.Background(), ocrmypdf, "-q", "-l", "eng", "-j", "1", "--optimize", "0",
				"--output-type", "pdf", "--sidecar", side, in, out)
			cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
			start = time.Now()
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ocrmypdf %s: %v: %s", s.name, err, b)
			}
			timeThem += time.Since(start)
			if theirs, err = os.ReadFile(side); err != nil {
				t.Fatal(err)
			}
		}
		ours, them := f1(words(text), words(s.reference)), f1(words(string(theirs)), words(s.reference))
		sumOurs += ours
		sumTheirs += them
		confs += conf
		if ours < 0.9 {
			low = append(low, fmt.Sprintf("%s: F1 %.3f (ocrmypdf %.3f), confidence %.1f", s.name, ours, them, conf))
		}
	}
	n := float64(max(len(samples), 1))
	var b strings.Builder
	fmt.Fprintf(&b, "measured %s on %s (%d cores), %s; %s; %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"),
		cpuModel(), runtime.NumCPU(), runtime.Version(), firstLine(toolVersion(tools.Tesseract, "--version")),
		"ocrmypdf "+strings.TrimSpace(toolVersion(ocrmypdf, "--version")))
	fmt.Fprintf(&b, "OCR of %d scanned pages of real documents (texlive docs, 300 dpi grey JPEG scans), against the originals' text (pdftotext):\n", len(samples))
	fmt.Fprintf(&b, "  Folio (PDFium render child + sandboxed Tesseract): mean word F1 %.4f, %.2f s/page, mean confidence %.1f\n",
		sumOurs/n, timeOurs.Seconds()/n, confs/n)
	fmt.Fprintf(&b, "  ocrmypdf --sidecar (same pages, same run): mean word F1 %.4f, %.2f s/page\n", sumTheirs/n, timeThem.Seconds()/n)
	fmt.Fprintf(&b, "  Folio's time is %.2fx ocrmypdf's\n", timeOurs.Seconds()/math.Max(timeThem.Seconds(), 1e-9))
	fmt.Fprintf(&b, "pages below F1 0.9 (%d):\n", len(low))
	for _, l := range low {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	t.Log("\n" + b.String())
	if *ocrReport != "" {
		if err := os.WriteFile(*ocrReport, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if least := *ocrPages * 5 / 6; len(samples) < least {
		t.Errorf("only %d scanned pages; the bar is at least %d", len(samples), least)
	}
	if sumOurs/n < 0.9 {
		t.Errorf("mean OCR word F1 %.4f is below the bar of 0.9", sumOurs/n)
	}
}

func toolVersion(tool, flag string) string {
	out, _ := exec.Command(tool, flag).CombinedOutput() //nolint:noctx // a quick local query
	return string(out)
}
