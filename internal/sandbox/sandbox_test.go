package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/internal/testbin"
	"github.com/foliohq/folio/pdf"
)

// workerBin is the real worker binary, built for these tests: it is the
// child the sandbox runs in production, and (unlike a -race test binary)
// it takes the address-space limit and inflates at full speed.
var workerBin string

func TestMain(m *testing.M) {
	dir, err := testbin.Build("worker")
	if err == nil {
		err = testbin.WarmRenderer() // compiled once, before any test times a page
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workerBin = filepath.Join(dir, "worker")
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

func runner() *sandbox.Runner {
	return &sandbox.Runner{Exe: workerBin, MemoryLimit: 1 << 30, Timeout: 60 * time.Second, MaxPages: 5000}
}

func run(t *testing.T, r *sandbox.Runner, data []byte) (*pdf.Result, []pdf.Page, error) {
	t.Helper()
	var pages []pdf.Page
	res, err := r.Run(context.Background(), bytes.NewReader(data), 1, sandbox.Handler{
		Page: func(p pdf.Page) error { pages = append(pages, p); return nil },
	})
	return res, pages, err
}

func requireFailure(t *testing.T, err error, code string) {
	t.Helper()
	var f *sandbox.Failure
	require.True(t, errors.As(err, &f), "want a Failure %s, got %v", code, err)
	require.Equal(t, code, f.Code, f.Message)
	require.NotEmpty(t, f.Message)
}

func TestRunExtractsText(t *testing.T) {
	t.Parallel()
	data := pdftest.TextPages([]string{"Hello sandbox", "second line"}, []string{"Page two"})
	res, pages, err := run(t, runner(), data)
	require.NoError(t, err)
	require.Equal(t, 2, res.PageCount)
	require.Len(t, pages, 2)
	require.Equal(t, "Hello sandbox\nsecond line", pages[0].Text)
	require.Equal(t, "Page two", pages[1].Text)
	require.InDelta(t, 612, pages[0].Width, 0.01)
}

func TestRunResumesAtFirstPage(t *testing.T) {
	t.Parallel()
	data := pdftest.TextPages([]string{"one"}, []string{"two"}, []string{"three"})
	var pages []pdf.Page
	_, err := runner().Run(context.Background(), bytes.NewReader(data), 3, sandbox.Handler{
		Page: func(p pdf.Page) error { pages = append(pages, p); return nil },
	})
	require.NoError(t, err)
	require.Len(t, pages, 3, "every page is reported, with its size")
	require.Empty(t, pages[0].Text, "pages before the first are not extracted again")
	require.Equal(t, "three", pages[2].Text)
}

// TestHostileInputs: every hostile file ends in a reasoned failure or a
// flagged success, never a crash.
func TestHostileInputs(t *testing.T) {
	t.Parallel()
	for name, data := range pdftest.Hostile() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, _, err := run(t, runner(), data)
			outcome := "done"
			var f *sandbox.Failure
			if errors.As(err, &f) {
				outcome = f.Code
				require.NotEmpty(t, f.Message)
			} else {
				require.NoError(t, err, "a crash is never an acceptable end")
			}
			require.Contains(t, pdftest.HostileOutcomes[name], outcome, "%v", err)
			if name == "Count 2^31" {
				require.Equal(t, 1, res.PageCount)
			}
			if name == "JavaScript and Launch" {
				require.True(t, res.Security.JavaScript)
				require.True(t, res.Security.OpenAction)
				require.True(t, res.Security.Launch)
				require.True(t, res.Security.AdditionalActions)
				require.Equal(t, 1, res.Security.URIs)
			}
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	// A content stream that decodes to 600 MiB, with a 256 MiB cap.
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents [4 0 R 5 0 R] >>",
		pdftest.Stream("/Filter /FlateDecode", pdftest.Flate(300<<20)),
		pdftest.Stream("/Filter /FlateDecode", pdftest.Flate(300<<20)),
	}
	r := runner()
	r.MemoryLimit = 256 << 20
	_, _, err := run(t, r, pdftest.Build(objs, ""))
	var f *sandbox.Failure
	if errors.As(err, &f) {
		require.Contains(t, []string{"memory_limit", "malformed"}, f.Code)
		return
	}
	require.NoError(t, err, "either bounded by the decode limit, or stopped at the memory limit")
}

func TestTimeLimit(t *testing.T) {
	t.Parallel()
	// Many pages of many operators: more than a tenth of a second's work.
	var pages [][]string
	line := strings.Repeat("word ", 200)
	for range 300 {
		lines := make([]string, 60)
		for j := range lines {
			lines[j] = line
		}
		pages = append(pages, lines)
	}
	r := runner()
	r.Timeout = 100 * time.Millisecond
	_, _, err := run(t, r, pdftest.TextPages(pages...))
	requireFailure(t, err, "time_limit")
}

func TestTooManyPages(t *testing.T) {
	t.Parallel()
	r := runner()
	r.MaxPages = 2
	_, _, err := run(t, r, pdftest.TextPages([]string{"a"}, []string{"b"}, []string{"c"}))
	requireFailure(t, err, "too_many_pages")
}

func TestContextCancelKillsChild(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var pages [][]string
	for range 2000 {
		pages = append(pages, []string{strings.Repeat("x ", 500)})
	}
	data := pdftest.TextPages(pages...)
	_, err := runner().Run(ctx, bytes.NewReader(data), 1, sandbox.Handler{
		Page: func(p pdf.Page) error {
			if p.Number == 2 {
				cancel()
			}
			return nil
		},
	})
	require.ErrorIs(t, err, context.Canceled)
}

func withCache(tools sandbox.OCRTools) sandbox.OCRTools {
	tools.CacheDir = renderCache
	return tools
}

// ocrPages reads pages of the PDF scan with tools and returns what OCR
// gave for each, in order.
func ocrPages(t *testing.T, scan []byte, pages []int, tools sandbox.OCRTools) []sandbox.OCRPage {
	t.Helper()
	var got []sandbox.OCRPage
	var calls atomic.Int32
	_, err := runner().OCR(context.Background(), opener(scan, &calls), pages, tools, func(p sandbox.OCRPage) error {
		got = append(got, p)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, len(pages))
	return got
}

func ocrTools(t *testing.T) sandbox.OCRTools {
	t.Helper()
	tools, err := sandbox.FindOCRTools("eng")
	if err != nil {
		t.Skipf("no OCR here: %v (.ci/run installs tesseract-ocr)", err)
	}
	return tools
}

// TestOCRReadsAScan renders a text page to a 300-dpi grey JPEG, wraps it
// as an image-only PDF, and reads it back through OCR (the render child,
// then Tesseract in a child of its own).
func TestOCRReadsAScan(t *testing.T) {
	t.Parallel()
	tools := ocrTools(t)
	text := []string{"The quick brown fox jumps over the lazy dog.", "Scanned pages become searchable text."}
	scan, err := pdftest.ScanWithPoppler(context.Background(), pdftest.TextPages(text, []string{"Second page"}), 300)
	require.NoError(t, err)

	_, pages, err := run(t, runner(), scan)
	require.NoError(t, err)
	require.Empty(t, pages[0].Text, "a scan has no text of its own")
	require.True(t, pages[0].NeedsOCR(), "image coverage %.2f", pages[0].ImageCoverage)

	got := ocrPages(t, scan, []int{1, 2}, withCache(tools))
	require.Empty(t, got[0].Code, got[0].Message)
	require.Equal(t, "The quick brown fox jumps over the lazy dog.\nScanned pages become searchable text.", got[0].Text)
	require.Greater(t, got[0].Confidence, 80.0)
	require.Equal(t, "Second page", got[1].Text)
	require.Equal(t, 2, got[1].Number)
}

// TestOCRPageFailureIsThePagesOwn: a page the renderer cannot draw fails
// with its reason; the other pages are read.
func TestOCRPageFailureIsThePagesOwn(t *testing.T) {
	t.Parallel()
	tools := ocrTools(t)
	scan, err := pdftest.ScanWithPoppler(context.Background(), pdftest.TextPages([]string{"Readable"}), 200)
	require.NoError(t, err)
	got := ocrPages(t, scan, []int{1, 7}, withCache(tools))
	require.Equal(t, "Readable", got[0].Text)
	require.Equal(t, "render_failed", got[1].Code, "page 7 of 1")
	require.NotEmpty(t, got[1].Message)
}

// TestOCRTurnsAndStraightensAScan: a page scanned upside down and tilted
// by 3° is read as if it had been fed straight, and says how it was
// turned and straightened; the same page upright is not turned and its
// orientation is not asked (it read well as it came). Not parallel: its
// six full-page readings would take the CPU the hostile-page tests' time
// budgets count on, on a busy machine.
func TestOCRTurnsAndStraightensAScan(t *testing.T) {
	tools := ocrTools(t)
	if !tools.OSD {
		t.Skip("tesseract has no orientation data (scripts/install-ocr.sh installs tesseract-ocr-osd)")
	}
	lines := []string{
		"People feed pages upside down, and scanners tilt them a little.",
		"Orientation detection turns such a page before it is read,",
		"and a small skew is straightened so that the lines run level.",
		"Without either, the reader sees nothing but noise on the page.",
		"With both, the words come back as they were printed on paper.",
		"This paragraph gives the detector enough letters to be sure.",
	}
	jpegs, err := pdftest.PageJPEGs(context.Background(), pdftest.TextPages(lines), 300, 1)
	require.NoError(t, err)
	askew, err := pdftest.Askew(jpegs[0], 180, 3)
	require.NoError(t, err)
	read := func(jpeg []byte) sandbox.OCRPage {
		scan, err := pdftest.Scanned(300, jpeg)
		require.NoError(t, err)
		got := ocrPages(t, scan, []int{1}, withCache(tools))[0]
		require.Empty(t, got.Code, got.Message)
		return got
	}
	upright := read(jpegs[0])
	require.Equal(t, strings.Join(lines, "\n"), upright.Text)
	require.Zero(t, upright.Rotation)
	require.Nil(t, upright.RotationConfidence)
	require.Zero(t, upright.Skew)

	got := read(askew)
	require.Equal(t, 180, got.Rotation)
	require.NotNil(t, got.RotationConfidence)
	require.GreaterOrEqual(t, *got.RotationConfidence, float64(sandbox.DefaultRotateConfidence))
	require.InDelta(t, 3, got.Skew, 0.2)
	require.Equal(t, strings.Join(lines, "\n"), got.Text)

	// Orientation detection off: the page is straightened, read as it came.
	off := withCache(tools)
	off.RotateConfidence = 0
	scan, err := pdftest.Scanned(300, askew)
	require.NoError(t, err)
	p := ocrPages(t, scan, []int{1}, off)[0]
	require.Zero(t, p.Rotation)
	require.NotContains(t, p.Text, "upside down")
}

// TestOCRReadsHugePagesAsTheyCome: a page over the pixels the worker
// turns and straightens itself is read as it came: no skew, no turn, and
// its text still. (Not parallel: it changes the bound for the package.)
func TestOCRReadsHugePagesAsTheyCome(t *testing.T) {
	tools := ocrTools(t)
	jpegs, err := pdftest.PageJPEGs(context.Background(), pdftest.TextPages([]string{"A poster-sized page is read as it came."}), 300, 1)
	require.NoError(t, err)
	tilted, err := pdftest.Askew(jpegs[0], 0, 2)
	require.NoError(t, err)
	scan, err := pdftest.Scanned(300, tilted)
	require.NoError(t, err)
	defer sandbox.SetMaxImageWork(1000)()
	got := ocrPages(t, scan, []int{1}, withCache(tools))[0]
	require.Empty(t, got.Code, got.Message)
	require.Zero(t, got.Skew, "not straightened")
	require.Contains(t, got.Text, "poster-sized page")
}
