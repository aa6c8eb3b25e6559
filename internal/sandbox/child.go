package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/foliohq/folio/pdf"
)

// childArg is the hidden first argument that makes a binary the child.
const childArg = "__folio_parse_child"

// Main turns this process into a sandbox child when it was started as one,
// and never returns then. Call it first thing in main (and in TestMain of
// packages whose tests run the sandbox).
func Main() {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(childMain(os.Args[2:], os.Stdin, os.Stdout))
	}
	if len(os.Args) > 1 && os.Args[1] == toolChildArg {
		os.Exit(toolChildMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == renderChildArg {
		os.Exit(renderChildMain(os.Args[2:], os.Stdin, os.Stdout))
	}
}

// message is one line of the child's report.
type message struct {
	Type      string        `json:"type"` // started, page, ocr_page, opened, rendered, result, error
	PageCount int           `json:"page_count,omitempty"`
	Page      *pdf.Page     `json:"page,omitempty"`
	Result    *pdf.Result   `json:"result,omitempty"`
	OCR       *OCRPage      `json:"ocr,omitempty"`
	Rendered  *RenderedPage `json:"rendered,omitempty"`
	Code      string        `json:"code,omitempty"`
	Message   string        `json:"message,omitempty"`
	// PeakRSS is the child's own high-water mark (VmHWM), sent with the
	// last message. (The rusage a parent gets counts the parent's memory
	// from before exec too, on Linux.)
	PeakRSS int64 `json:"peak_rss,omitempty"`
}

func childMain(args []string, stdin io.Reader, stdout io.Writer) int {
	fs := flag.NewFlagSet("child", flag.ContinueOnError)
	memLimit := fs.Int64("memory-limit", 1<<30, "")
	cpuSeconds := fs.Uint64("cpu-seconds", 300, "")
	maxPages := fs.Int("max-pages", 5000, "")
	firstPage := fs.Int("first-page", 1, "")
	nice := fs.Int("nice", DefaultNice, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	limitSelf(*memLimit, *cpuSeconds, *nice)

	send := reporter(stdout)

	data, err := io.ReadAll(stdin)
	if err != nil {
		_ = send(message{Type: "error", Code: "internal", Message: "reading the input: " + err.Error()})
		return 1
	}
	res, err := pdf.Inspect(data, pdf.Options{
		MaxPages:       *maxPages,
		MaxDecodeBytes: *memLimit / 8,
		FirstPage:      *firstPage,
		Started:        func(n int) error { return send(message{Type: "started", PageCount: n}) },
		Page:           func(p pdf.Page) error { return send(message{Type: "page", Page: &p}) },
	})
	if err != nil {
		var perr *pdf.Error
		if errors.As(err, &perr) {
			_ = send(message{Type: "error", Code: perr.Code, Message: perr.Message, PeakRSS: statusBytes("VmHWM:")})
			return 0
		}
		_ = send(message{Type: "error", Code: "internal", Message: err.Error()})
		return 1
	}
	if err := send(message{Type: "result", Result: res, PeakRSS: statusBytes("VmHWM:")}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// reporter returns the child's way to report: one JSON line per message,
// flushed at once.
func reporter(stdout io.Writer) func(message) error {
	out := bufio.NewWriterSize(stdout, 64<<10)
	enc := json.NewEncoder(out)
	return func(m message) error {
		if err := enc.Encode(m); err != nil {
			return err
		}
		return out.Flush()
	}
}

// limitSelf caps this process: address space (hard, so a runaway
// allocation fails instead of swallowing the machine), a Go soft limit
// below it (the collector works harder first), and CPU time.
func limitSelf(memLimit int64, cpuSeconds uint64, nice int) {
	// The Go runtime reserves address space it never touches (a fresh
	// process is already about 1.2 GB of it): allow what is reserved now,
	// the limit, and a margin for stacks and the collector.
	as := uint64(statusBytes("VmSize:")) + uint64(memLimit) + 256<<20
	if !raceEnabled { // tests under -race: the soft limit and the decode limit only
		_ = syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: as, Max: as})
	}
	_ = syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: cpuSeconds, Max: cpuSeconds + 5})
	debug.SetMemoryLimit(memLimit * 3 / 4)
	// Users' files are worked on at a lower CPU priority than the
	// processes that serve: on a shared machine the API, Postgres and S3
	// keep answering (readiness, other owners' requests) while children
	// parse, draw and read (what they exec, Tesseract, inherits it).
	if nice <= 0 || nice > 19 {
		nice = DefaultNice
	}
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, 0, nice)
}

// DefaultNice is the nice value of sandboxed children unless their caller
// says (jobs give their children one by the owner's backlog: fair share).
const DefaultNice = 10

// statusBytes reads a kB field of /proc/self/status (VmSize:, VmHWM:) in
// bytes; 0 if unknown.
func statusBytes(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
