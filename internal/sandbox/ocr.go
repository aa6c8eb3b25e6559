package sandbox

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// toolChildArg is the hidden first argument that makes a binary set the
// sandbox's limits on itself and then become another program (Tesseract).
const toolChildArg = "__folio_tool_child"

// OCRTools are what OCR runs: Folio's renderer (PDFium in a render child,
// as for page images) and Tesseract, with the languages it reads.
type OCRTools struct {
	Tesseract string // path
	Languages string // Tesseract's -l: "eng", "eng+deu"
	DPI       int    // rendering resolution; 300 when 0
	// PageTimeout bounds the rendering and the reading of one page.
	PageTimeout time.Duration
	// CacheDir keeps the renderer's compiled WebAssembly (RenderOptions).
	CacheDir string
	// Nice is the children's nice value (DefaultNice when 0).
	Nice int
}

// FindOCRTools looks for tesseract on PATH and checks that it has every
// language asked for. The error says what is missing.
func FindOCRTools(languages string) (OCRTools, error) {
	t := OCRTools{Languages: languages, DPI: 300, PageTimeout: 2 * time.Minute}
	var err error
	if t.Tesseract, err = exec.LookPath("tesseract"); err != nil {
		return t, errors.New("tesseract (Debian: tesseract-ocr) is not installed")
	}
	out, err := exec.Command(t.Tesseract, "--list-langs").CombinedOutput() //nolint:noctx // a quick local query
	if err != nil {
		return t, fmt.Errorf("tesseract --list-langs: %w", err)
	}
	have := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		have[l] = true
	}
	for _, l := range strings.Split(languages, "+") {
		if !have[l] {
			return t, fmt.Errorf("tesseract has no %q language data (Debian: tesseract-ocr-%s)", l, l)
		}
	}
	return t, nil
}

// OCRPage is one page read by OCR, or why it could not be.
type OCRPage struct {
	Number int    `json:"number"`
	Text   string `json:"text"`
	// Confidence is Tesseract's mean word confidence, 0 to 100.
	Confidence float64 `json:"confidence"`
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
	img := filepath.Join(work, "page.png")
	return r.Render(ctx, open, pages, opt, func(rp RenderedPage) error {
		p := OCRPage{Number: rp.Number, Code: rp.Code, Message: rp.Message}
		switch {
		case rp.Code == "page_too_large" || rp.Code == "no_such_page":
			p.Code = "render_failed"
		case rp.Code != "":
		default:
			p.Text, p.Confidence, p.Code, p.Message = r.tesseract(ctx, img, rp.Image, tools)
		}
		return page(p)
	})
}

// tesseract reads one page image (written to path first) in a child with
// the runner's limits and network namespace, within tools.PageTimeout.
func (r *Runner) tesseract(ctx context.Context, path string, image []byte, tools OCRTools) (text string, confidence float64, code, message string) {
	if err := os.WriteFile(path, image, 0o600); err != nil {
		return "", 0, "ocr_failed", "Writing the page image failed: " + err.Error()
	}
	defer os.Remove(path)
	tsv, err := r.tool(ctx, tools.PageTimeout, tools.Nice, tools.Tesseract, path, "stdout", "-l", tools.Languages, "--psm", "3", "tsv")
	if err != nil {
		code, message = failureOf(err, "ocr_failed", "Reading the page failed")
		return "", 0, code, message
	}
	text, confidence = parseTSV(tsv)
	return text, confidence, "", ""
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
// found and a blank line between blocks, and the mean confidence of its
// words.
func parseTSV(tsv []byte) (string, float64) {
	var (
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
	if words == 0 {
		return "", 0
	}
	return b.String(), sum / float64(words)
}
