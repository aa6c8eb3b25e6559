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

// ocrChildArg is the hidden first argument that makes a binary the OCR
// child.
const ocrChildArg = "__folio_ocr_child"

// OCRTools are the programs OCR runs: a renderer (poppler's pdftoppm) and
// Tesseract, with the languages it reads.
type OCRTools struct {
	Pdftoppm  string // path
	Tesseract string // path
	Languages string // Tesseract's -l: "eng", "eng+deu"
	DPI       int    // rendering resolution; 300 when 0
	// PageTimeout bounds the rendering and the reading of one page.
	PageTimeout time.Duration
}

// FindOCRTools looks for pdftoppm and tesseract on PATH and checks that
// Tesseract has every language asked for. The error says what is missing.
func FindOCRTools(languages string) (OCRTools, error) {
	t := OCRTools{Languages: languages, DPI: 300, PageTimeout: 2 * time.Minute}
	var err error
	if t.Pdftoppm, err = exec.LookPath("pdftoppm"); err != nil {
		return t, errors.New("pdftoppm (Debian: poppler-utils) is not installed")
	}
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

// OCR renders the given pages of the PDF read from input and reads them
// with Tesseract, in a child under the runner's limits (each page's
// renderer and Tesseract inherit them, and the network namespace). page
// receives each page as it is done; an error from it stops the child. A
// page that fails is reported to page with its reason, and the others go
// on; OCR returns an error only when the child as a whole failed.
func (r *Runner) OCR(ctx context.Context, input io.Reader, pages []int, tools OCRTools, page func(OCRPage) error) (Stats, error) {
	work, err := os.MkdirTemp("", "folio-ocr-")
	if err != nil {
		return Stats{}, fmt.Errorf("error making the OCR child's scratch directory: %w", err)
	}
	defer os.RemoveAll(work) // whatever way the child ended
	if err := os.Chmod(work, 0o700); err != nil {
		return Stats{}, err
	}
	nums := make([]string, len(pages))
	for i, p := range pages {
		nums[i] = strconv.Itoa(p)
	}
	cpu := uint64(tools.PageTimeout/time.Second) + 1
	args := []string{ocrChildArg,
		"-memory-limit", strconv.FormatInt(r.MemoryLimit, 10),
		"-cpu-seconds", strconv.FormatUint(cpu, 10),
		"-page-timeout", tools.PageTimeout.String(),
		"-pdftoppm", tools.Pdftoppm, "-tesseract", tools.Tesseract,
		"-languages", tools.Languages, "-dpi", strconv.Itoa(max(tools.DPI, 72)),
		"-work", work, "-pages", strings.Join(nums, ","),
	}
	finished := false
	var failure *Failure
	out, err := r.exchange(ctx, args, input, func(m message) error {
		switch m.Type {
		case "ocr_page":
			if m.OCR != nil {
				return page(*m.OCR)
			}
		case "result":
			finished = true
		case "error":
			failure = &Failure{Code: m.Code, Message: m.Message}
		}
		return nil
	})
	if err != nil {
		return out.stats, err
	}
	if finished && out.waitErr == nil {
		return out.stats, nil
	}
	if err := r.limitFailure(ctx, out, "OCR"); err != nil {
		return out.stats, err
	}
	if failure != nil {
		return out.stats, fmt.Errorf("%w: %s", ErrCrashed, failure.Message)
	}
	return out.stats, fmt.Errorf("%w (%w): %s", ErrCrashed, out.waitErr, lastLines(out.stderr, 5))
}

func ocrChildMain(args []string, stdin io.Reader, stdout io.Writer) int {
	fs := flag.NewFlagSet("ocr", flag.ContinueOnError)
	memLimit := fs.Int64("memory-limit", 1<<30, "")
	cpuSeconds := fs.Uint64("cpu-seconds", 120, "")
	pageTimeout := fs.Duration("page-timeout", 2*time.Minute, "")
	pdftoppm := fs.String("pdftoppm", "", "")
	tesseract := fs.String("tesseract", "", "")
	languages := fs.String("languages", "eng", "")
	dpi := fs.Int("dpi", 300, "")
	work := fs.String("work", "", "")
	pageList := fs.String("pages", "", "")
	if err := fs.Parse(args); err != nil || *work == "" {
		return 2
	}
	// Every page's renderer and Tesseract inherit these limits, each
	// process on its own: the CPU limit is per page.
	limitSelf(*memLimit, *cpuSeconds)

	send := reporter(stdout)
	in := filepath.Join(*work, "in.pdf")
	f, err := os.OpenFile(in, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = io.Copy(f, stdin)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		_ = send(message{Type: "error", Code: "internal", Message: "writing the input: " + err.Error()})
		return 1
	}
	for _, s := range strings.Split(*pageList, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			continue
		}
		p := ocrPage(n, in, *work, *pdftoppm, *tesseract, *languages, *dpi, *pageTimeout)
		if err := send(message{Type: "ocr_page", OCR: &p}); err != nil {
			return 1
		}
	}
	if err := send(message{Type: "result", PeakRSS: statusBytes("VmHWM:")}); err != nil {
		return 1
	}
	return 0
}

// ocrPage renders page n to a grey PNG and reads it with Tesseract.
func ocrPage(n int, in, work, pdftoppm, tesseract, languages string, dpi int, timeout time.Duration) OCRPage {
	p := OCRPage{Number: n}
	base := filepath.Join(work, "page")
	png := base + ".png"
	defer os.Remove(png)
	page := strconv.Itoa(n)
	if _, err := tool(timeout, pdftoppm, "-r", strconv.Itoa(dpi), "-gray", "-png", "-singlefile",
		"-f", page, "-l", page, in, base); err != nil {
		p.Code, p.Message = failureOf(err, "render_failed", "Rendering the page failed")
		return p
	}
	tsv, err := tool(timeout, tesseract, png, "stdout", "-l", languages, "--psm", "3", "tsv")
	if err != nil {
		p.Code, p.Message = failureOf(err, "ocr_failed", "Reading the page failed")
		return p
	}
	p.Text, p.Confidence = parseTSV(tsv)
	return p
}

// toolError is a tool that failed, with what it said.
type toolError struct {
	err      error
	stderr   string
	timedOut bool
}

func (e *toolError) Error() string { return e.err.Error() }

// tool runs one program of the OCR pipeline with a wall-clock limit, and
// returns its standard output.
func tool(timeout time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	// One thread: the worker runs as many OCR jobs as it has CPUs for.
	cmd.Env = []string{"OMP_THREAD_LIMIT=1"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &limitedWriter{w: &stderr, n: 4 << 10}
	if err := cmd.Run(); err != nil {
		return nil, &toolError{err: err, stderr: stderr.String(), timedOut: ctx.Err() != nil}
	}
	return stdout.Bytes(), nil
}

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
