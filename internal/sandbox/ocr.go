package sandbox

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/foliohq/folio/internal/tesseract"
)

// toolChildArg is the hidden first argument that makes a binary set the
// sandbox's limits on itself and then become another program (Tesseract).
const toolChildArg = "__folio_tool_child"

// OCRTools are what OCR runs: Folio's renderer (PDFium in a render child,
// as for page images) and Tesseract, with the languages it reads.
type OCRTools struct {
	Tesseract string // path
	Languages string // Tesseract's -l: "eng", "eng+deu"
	// Installed are the languages Tesseract has data for (osd apart).
	Installed []string
	// OSD says Tesseract has its orientation data (osd.traineddata):
	// without it pages are read as they come, straightened but not turned.
	OSD bool
	// RotateConfidence is the orientation confidence (Tesseract's OSD) from
	// which a page is turned; 0 turns none.
	RotateConfidence float64
	// NoDeskew reads pages as they come, tilted or not (for comparisons:
	// the worker always straightens).
	NoDeskew bool
	DPI      int // rendering resolution; 300 when 0
	// PageTimeout bounds the rendering and the reading of one page.
	PageTimeout time.Duration
	// CacheDir keeps the renderer's compiled WebAssembly (RenderOptions).
	CacheDir string
	// Nice is the children's nice value (DefaultNice when 0).
	Nice int
}

// DefaultRotateConfidence is the orientation confidence from which a page
// is turned by default: Paperless-ngx's (ocrmypdf's own default is 14).
const DefaultRotateConfidence = 12

// FindOCRTools looks for tesseract on PATH and checks that it has every
// language asked for (the default languages). The error says what is
// missing.
func FindOCRTools(languages string) (OCRTools, error) {
	t := OCRTools{Languages: languages, DPI: 300, PageTimeout: 2 * time.Minute, RotateConfidence: DefaultRotateConfidence}
	var err error
	if t.Tesseract, err = exec.LookPath("tesseract"); err != nil {
		return t, errors.New("tesseract (Debian: tesseract-ocr) is not installed")
	}
	if t.Installed, t.OSD, err = tesseract.Languages(t.Tesseract); err != nil {
		return t, err
	}
	if l, ok := tesseract.Missing(languages, t.Installed); !ok {
		return t, fmt.Errorf("tesseract has no %q language data (Debian: %s)", l, tesseract.Package(l))
	}
	return t, nil
}

// OCRPage is one page read by OCR, or why it could not be.
type OCRPage struct {
	Number int    `json:"number"`
	Text   string `json:"text"`
	// Confidence is Tesseract's mean word confidence, 0 to 100.
	Confidence float64 `json:"confidence"`
	// Rotation is how far the page was turned clockwise to read it (0, 90,
	// 180, 270), and RotationConfidence Tesseract's confidence in its
	// orientation (nil when the page read well as it came and was not
	// asked about). Skew is the angle, in degrees counter-clockwise, its
	// lines were straightened by.
	Rotation           int      `json:"rotation"`
	RotationConfidence *float64 `json:"rotation_confidence,omitempty"`
	Skew               float64  `json:"skew"`
	// Code and Message say why the page has no OCR text: render_failed,
	// ocr_failed, time_limit, memory_limit. Empty when it was read.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// OCR draws the given pages of the PDF that open returns in grey at
// tools.DPI (a render child, as for page images: open is called again
// when a page costs its child) and reads each with Tesseract (a child of
// its own per page, with the runner's memory limit and network
// namespace). page receives each page as it is done; an error from it
// stops the work. A page that fails is reported to page with its reason,
// and the others go on; OCR returns an error only when the work as a
// whole failed. The runner's Timeout bounds it all.
func (r *Runner) OCR(ctx context.Context, open func(context.Context) (io.ReadCloser, error), pages []int, tools OCRTools, page func(OCRPage) error) (Stats, error) {
	work, err := os.MkdirTemp("", "folio-ocr-")
	if err != nil {
		return Stats{}, fmt.Errorf("error making OCR's scratch directory: %w", err)
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o700); err != nil {
		return Stats{}, err
	}
	opt := RenderOptions{DPI: max(tools.DPI, 72), PageTimeout: tools.PageTimeout, CacheDir: tools.CacheDir, Nice: tools.Nice}
	img := filepath.Join(work, "page.pgm")
	return r.Render(ctx, open, pages, opt, func(rp RenderedPage) error {
		p := OCRPage{Number: rp.Number, Code: rp.Code, Message: rp.Message}
		switch {
		case rp.Code == "page_too_large" || rp.Code == "no_such_page":
			p.Code = "render_failed"
		case rp.Code != "":
		default:
			r.readPage(ctx, img, rp.Image, tools, &p)
		}
		return page(p)
	})
}

// doubtful is the mean word confidence under which a page is asked about
// its orientation: upright pages read at 85 to 95, upside-down ones at 20
// to 40.
const doubtful = 70

// readPage reads one page drawn in grey (PNG): straightened when its lines
// are skewed, read by Tesseract; when the reading is doubtful (a low
// confidence, or words standing on end: a page on its side), Tesseract's
// orientation detection is asked, and a page it is sure enough of is
// turned upright and read again. The scratch file path holds the pixels
// Tesseract reads.
func (r *Runner) readPage(ctx context.Context, path string, png []byte, tools OCRTools, p *OCRPage) {
	fail := func(code, what string, err error) { p.Code, p.Message = failureOf(err, code, what) }
	if w, h, err := pngSize(png); err != nil || w*h > maxImageWork {
		// A page too large to turn in the worker's memory (or not a PNG,
		// which Tesseract will say): read as it came.
		reading, err := r.recognizeFile(ctx, path, png, tools)
		if err != nil {
			fail("ocr_failed", "Reading the page failed", err)
			return
		}
		p.Text, p.Confidence = reading.text, reading.confidence
		return
	}
	g, err := decodeGray(png)
	if err != nil {
		fail("ocr_failed", "Reading the drawn page failed", err)
		return
	}
	if tools.NoDeskew {
		p.Skew = 0
	} else if p.Skew = skewOf(g); math.Abs(p.Skew) >= minSkew {
		g = straighten(g, p.Skew)
	} else {
		p.Skew = 0
	}
	reading, err := r.recognize(ctx, path, g, tools)
	if err != nil {
		fail("ocr_failed", "Reading the page failed", err)
		return
	}
	p.Text, p.Confidence = reading.text, reading.confidence
	if !tools.OSD || tools.RotateConfidence <= 0 || (reading.confidence >= doubtful && !reading.onEnd()) {
		return
	}
	// The pixels Tesseract just read are still at path.
	out, err := r.tool(ctx, tools.PageTimeout, tools.Nice, tools.Tesseract, path, "stdout", "--dpi", strconv.Itoa(tools.dpi()), "--psm", "0")
	if err != nil {
		return // no orientation: the page keeps its first reading
	}
	turn, conf, ok := parseOSD(out)
	if !ok {
		return
	}
	p.RotationConfidence = &conf
	if turn == 0 || conf < tools.RotateConfidence {
		return
	}
	p.Rotation = turn
	if reading.confidence >= doubtful {
		return // read well on its side: only the page's images need turning
	}
	if reading, err = r.recognize(ctx, path, quarterTurn(g, turn), tools); err != nil {
		fail("ocr_failed", "Reading the turned page failed", err)
		return
	}
	p.Text, p.Confidence = reading.text, reading.confidence
}

// minSkew is the smallest skew straightened, in degrees: below it the
// lines are level for Tesseract, and turning the pixels only blurs them.
const minSkew = 0.3

func (t OCRTools) dpi() int { return max(t.DPI, 72) }

// reading is what Tesseract read on a page.
type reading struct {
	text       string
	confidence float64
	// words of three letters or more, and how many of them stand on end
	// (taller than wide: the page lies on its side).
	words, onEndWords int
}

func (r reading) onEnd() bool { return r.words > 0 && 2*r.onEndWords > r.words }

// maxImageWork bounds the pixels of a page the worker straightens and
// turns itself (each copy is a byte a pixel): 36 megapixels, a 20 × 20
// inch page at 300 dpi. Larger pages are read as they come.
var maxImageWork = 36_000_000

// recognize writes g to path and reads it with Tesseract in a child with
// the runner's limits and network namespace, within tools.PageTimeout.
func (r *Runner) recognize(ctx context.Context, path string, g *image.Gray, tools OCRTools) (reading, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return reading{}, err
	}
	err = writePGM(f, g)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return reading{}, err
	}
	return r.tesseractTSV(ctx, path, tools)
}

// recognizeFile writes an image file's bytes to path and reads it.
func (r *Runner) recognizeFile(ctx context.Context, path string, image []byte, tools OCRTools) (reading, error) {
	if err := os.WriteFile(path, image, 0o600); err != nil {
		return reading{}, err
	}
	return r.tesseractTSV(ctx, path, tools)
}

// tesseractTSV reads the image at path with the document's languages.
func (r *Runner) tesseractTSV(ctx context.Context, path string, tools OCRTools) (reading, error) {
	tsv, err := r.tool(ctx, tools.PageTimeout, tools.Nice, tools.Tesseract, path, "stdout", "--dpi", strconv.Itoa(tools.dpi()),
		"-l", tools.Languages, "--psm", "3", "tsv")
	if err != nil {
		return reading{}, err
	}
	return parseTSV(tsv), nil
}

// parseOSD reads Tesseract's orientation report (--psm 0): how far to turn
// the page clockwise, and the confidence.
func parseOSD(out []byte) (turn int, confidence float64, ok bool) {
	var haveTurn, haveConf bool
	for _, line := range strings.Split(string(out), "\n") {
		k, v, found := strings.Cut(line, ":")
		if !found {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "Rotate":
			n, err := strconv.Atoi(v)
			haveTurn = err == nil && n%90 == 0 && n >= 0 && n < 360
			turn = n
		case "Orientation confidence":
			c, err := strconv.ParseFloat(v, 64)
			haveConf = err == nil && c >= 0 && !math.IsInf(c, 0)
			confidence = c
		}
	}
	return turn, confidence, haveTurn && haveConf
}

// tool runs a program under the sandbox's limits (this binary sets them on
// itself, then execs it) with a wall-clock limit, and returns its standard
// output.
func (r *Runner) tool(ctx context.Context, timeout time.Duration, nice int, name string, args ...string) ([]byte, error) {
	exe := r.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("error finding the sandbox binary: %w", err)
		}
	}
	cpu := uint64(timeout/time.Second) + 1
	cmd, stdin, stdout, stderr, err := r.start(exe, append([]string{toolChildArg,
		"-memory-limit", strconv.FormatInt(r.MemoryLimit, 10), "-cpu-seconds", strconv.FormatUint(cpu, 10),
		"-nice", strconv.Itoa(nice), "--", name}, args...))
	if err != nil {
		return nil, err
	}
	_ = stdin.Close()
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(tctx, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	defer stop()
	var out bytes.Buffer
	_, _ = io.Copy(&limitedWriter{w: &out, n: maxLine}, stdout)
	if err := cmd.Wait(); err != nil {
		return nil, &toolError{err: err, stderr: stderr.String(), timedOut: errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil}
	}
	return out.Bytes(), nil
}

// toolChildMain sets the limits on this process and becomes the program
// after "--": it inherits them, and the network namespace.
func toolChildMain(args []string) int {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	memLimit := fs.Int64("memory-limit", 1<<30, "")
	cpuSeconds := fs.Uint64("cpu-seconds", 120, "")
	nice := fs.Int("nice", DefaultNice, "")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		return 2
	}
	limitSelf(*memLimit, *cpuSeconds, *nice)
	prog := fs.Args()
	// One thread: the worker runs as many OCR jobs as it has CPUs for.
	err := syscall.Exec(prog[0], prog, []string{"OMP_THREAD_LIMIT=1"})
	fmt.Fprintln(os.Stderr, "exec:", err)
	return 127
}

// toolError is a tool that failed, with what it said.
type toolError struct {
	err      error
	stderr   string
	timedOut bool
}

func (e *toolError) Error() string { return e.err.Error() }

// failureOf turns a tool's failure into a page's reason code and words.
func failureOf(err error, code, what string) (string, string) {
	var te *toolError
	if !errors.As(err, &te) {
		return code, what + ": " + err.Error()
	}
	var exitErr *exec.ExitError
	switch {
	case te.timedOut:
		return "time_limit", what + ": it took longer than the limit."
	case errors.As(te.err, &exitErr) && exitErr.Sys().(syscall.WaitStatus).Signal() == syscall.SIGXCPU:
		return "time_limit", what + ": it used more CPU time than the limit."
	case strings.Contains(te.stderr, "alloc") || strings.Contains(te.stderr, "memory"):
		return "memory_limit", what + ": it needed more memory than the limit."
	}
	msg := strings.TrimSpace(lastLines(strings.TrimSpace(te.stderr), 2))
	if msg == "" {
		msg = te.err.Error()
	}
	return code, what + ": " + msg
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// parseTSV turns Tesseract's TSV (level, page, block, paragraph, line,
// word, box, confidence, text) into the page's text, a line per line it
// found and a blank line between blocks, the mean confidence of its
// words, and how many of them stand on end.
func parseTSV(tsv []byte) reading {
	var (
		rd           reading
		b            strings.Builder
		lastBlock    = -1
		lastLine     = [3]int{-1, -1, -1}
		sum          float64
		words        int
		lineHasWords bool
	)
	for i, row := range strings.Split(string(tsv), "\n") {
		cols := strings.Split(row, "\t")
		if i == 0 || len(cols) < 12 || cols[0] != "5" {
			continue
		}
		text := strings.TrimSpace(cols[11])
		conf, err := strconv.ParseFloat(cols[10], 64)
		if text == "" || err != nil || conf < 0 {
			continue
		}
		if utf8.RuneCountInString(text) >= 3 {
			w, _ := strconv.Atoi(cols[8])
			h, _ := strconv.Atoi(cols[9])
			rd.words++
			if h > w {
				rd.onEndWords++
			}
		}
		block, _ := strconv.Atoi(cols[2])
		par, _ := strconv.Atoi(cols[3])
		line, _ := strconv.Atoi(cols[4])
		key := [3]int{block, par, line}
		switch {
		case b.Len() == 0:
		case block != lastBlock:
			b.WriteString("\n\n")
			lineHasWords = false
		case key != lastLine:
			b.WriteByte('\n')
			lineHasWords = false
		}
		if lineHasWords {
			b.WriteByte(' ')
		}
		b.WriteString(text)
		lineHasWords = true
		lastBlock, lastLine = block, key
		sum += conf
		words++
	}
	if words > 0 {
		rd.text, rd.confidence = b.String(), sum/float64(words)
	}
	return rd
}
