package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/foliohq/folio/internal/tailbuf"
	"github.com/foliohq/folio/pdf"
)

// Failure is a permanent outcome for this input: parsing it again would end
// the same way. Code is one of pdf.Error's codes, or memory_limit or
// time_limit.
type Failure struct {
	Code    string
	Message string
}

func (f *Failure) Error() string { return f.Code + ": " + f.Message }

// ErrCrashed means the child died without saying why: a signal, or a fatal
// runtime error that is not running out of memory. Whether that is the
// input's fault is for the caller to judge (a second crash on the same
// input is).
var ErrCrashed = errors.New("sandbox crashed")

// Runner starts sandboxed children.
type Runner struct {
	// Exe is the binary to re-execute (it must call Main); the running
	// binary when empty.
	Exe string
	// MemoryLimit caps the child's memory.
	MemoryLimit int64
	// Timeout caps the child's wall-clock (and CPU) time.
	Timeout time.Duration
	// MaxPages: documents with more fail with too_many_pages.
	MaxPages int
	// Logger hears about degraded isolation (no network namespace).
	Logger *slog.Logger

	noNetns atomic.Bool // the kernel refused a network namespace once
	warned  sync.Once
	renders renderPool // warm render children
	// renderStarts counts render children started.
	renderStarts atomic.Int64
}

// Handler receives what the child reports, as it reports it. An error from
// a handler stops the child and is returned by Run.
type Handler struct {
	Started func(pageCount int) error
	Page    func(pdf.Page) error
	// Finished receives the child's resource use once it has exited.
	Finished func(Stats)
	// Remaining, when positive and below the Runner's Timeout, is what is
	// left of it for this run: a parse cut into slices spends one budget
	// across its runs (time_limit still names the whole Timeout).
	Remaining time.Duration
	// Nice is the child's nice value (DefaultNice when 0).
	Nice int
}

// Stats is what one child used.
type Stats struct {
	PeakRSS int64         // peak resident set, bytes (0 when the child could not say)
	CPUTime time.Duration // user + system
}

// maxLine bounds one report line (one page's text).
const maxLine = 64 << 20

// Run parses the PDF read from input in a child, starting at firstPage.
func (r *Runner) Run(ctx context.Context, input io.Reader, firstPage int, h Handler) (*pdf.Result, error) {
	limit := r.Timeout
	if h.Remaining > 0 && h.Remaining < limit {
		limit = h.Remaining
	}
	cpu := uint64(limit/time.Second) + 1
	args := []string{childArg,
		"-memory-limit", strconv.FormatInt(r.MemoryLimit, 10),
		"-cpu-seconds", strconv.FormatUint(cpu, 10),
		"-max-pages", strconv.Itoa(r.MaxPages),
		"-first-page", strconv.Itoa(max(firstPage, 1)),
		"-nice", strconv.Itoa(h.Nice),
	}
	var (
		result  *pdf.Result
		failure *Failure
	)
	out, err := r.exchange(ctx, args, input, limit, func(m message) error {
		switch m.Type {
		case "started":
			if h.Started != nil {
				return h.Started(m.PageCount)
			}
		case "page":
			if h.Page != nil && m.Page != nil {
				return h.Page(*m.Page)
			}
		case "result":
			result = m.Result
		case "error":
			failure = &Failure{Code: m.Code, Message: m.Message}
		}
		return nil
	})
	if h.Finished != nil && out.state != nil {
		h.Finished(out.stats)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case result != nil && out.waitErr == nil:
		return result, nil
	case failure != nil && failure.Code != "internal":
		return nil, failure
	}
	if err := r.limitFailure(ctx, out, "Parsing"); err != nil {
		return nil, err
	}
	if failure != nil {
		return nil, fmt.Errorf("%w: %s", ErrCrashed, failure.Message)
	}
	return nil, fmt.Errorf("%w (%w): %s", ErrCrashed, out.waitErr, lastLines(out.stderr, 5))
}

// outcome is how a child ended.
type outcome struct {
	waitErr  error
	state    *os.ProcessState
	stats    Stats
	stderr   string // its last 16 KiB
	timedOut bool   // Timeout ran out
}

// exchange runs a child with args for at most limit, feeds it input, and
// hands each report line to handle. An error from handle stops the child and is returned;
// so are a failure to read input and the caller's cancellation. Anything
// else is in the outcome for the caller to judge.
func (r *Runner) exchange(ctx context.Context, args []string, input io.Reader, limit time.Duration, handle func(message) error) (outcome, error) {
	exe := r.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return outcome{}, fmt.Errorf("error finding the sandbox binary: %w", err)
		}
	}
	cmd, stdin, stdout, stderr, err := r.start(exe, args)
	if err != nil {
		return outcome{}, err
	}

	runCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	kill := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stop := context.AfterFunc(runCtx, kill)
	defer stop()

	// Feed the input. If reading it fails, the child must not parse a
	// truncated file and call it malformed: kill it, and say so.
	var inputErr error
	inputDone := make(chan struct{})
	go func() {
		defer close(inputDone)
		_, err := io.Copy(stdin, input)
		if err != nil && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, os.ErrClosed) {
			inputErr = err
			kill()
		}
		stdin.Close()
	}()

	var (
		handlerE error
		peakRSS  int64
	)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue
		}
		peakRSS = max(peakRSS, m.PeakRSS)
		if handlerE = handle(m); handlerE != nil {
			kill()
			break
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()
	<-inputDone
	out := outcome{waitErr: waitErr, state: cmd.ProcessState, stderr: stderr.String(),
		timedOut: errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil}
	if cmd.ProcessState != nil {
		out.stats = Stats{PeakRSS: peakRSS, CPUTime: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	}
	switch {
	case handlerE != nil:
		return out, handlerE
	case inputErr != nil:
		return out, fmt.Errorf("error reading the document for the sandbox: %w", inputErr)
	case ctx.Err() != nil && waitErr != nil:
		return out, context.Cause(ctx)
	}
	return out, nil
}

// limitFailure is the Failure of a child that a limit stopped (what names
// the work in the message), or nil.
func (r *Runner) limitFailure(ctx context.Context, out outcome, what string) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if out.timedOut {
		return &Failure{Code: "time_limit", Message: fmt.Sprintf("%s took longer than the limit of %s.", what, r.Timeout)}
	}
	var exitErr *exec.ExitError
	if errors.As(out.waitErr, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGXCPU {
			return &Failure{Code: "time_limit", Message: fmt.Sprintf("%s used more CPU time than the limit of %s.", what, r.Timeout)}
		}
	}
	if strings.Contains(out.stderr, "out of memory") || strings.Contains(out.stderr, "cannot allocate memory") {
		return &Failure{Code: "memory_limit", Message: fmt.Sprintf("%s needed more memory than the limit of %d MiB.", what, r.MemoryLimit>>20)}
	}
	return nil
}

// start starts the child, in a network namespace of its own when the
// kernel allows.
func (r *Runner) start(exe string, args []string) (*exec.Cmd, io.WriteCloser, io.ReadCloser, *tailbuf.Buffer, error) {
	for attempt := 0; ; attempt++ {
		netns := !r.noNetns.Load() && attempt == 0
		cmd := exec.Command(exe, args...) //nolint:noctx // the process group is killed by Run, not by a context
		cmd.Env = []string{"GOMAXPROCS=1", "GOTRACEBACK=single"}
		cmd.Dir = os.TempDir()
		attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if netns {
			attr.Cloneflags = syscall.CLONE_NEWNET
			if os.Geteuid() != 0 {
				attr.Cloneflags |= syscall.CLONE_NEWUSER
				attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}}
				attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}}
			}
		}
		cmd.SysProcAttr = attr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, nil, nil, nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, nil, nil, err
		}
		stderr := &tailbuf.Buffer{Max: 16 << 10}
		cmd.Stderr = stderr
		err = cmd.Start()
		if err == nil {
			return cmd, stdin, stdout, stderr, nil
		}
		if netns && (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EACCES)) {
			r.noNetns.Store(true)
			r.warned.Do(func() {
				if r.Logger != nil {
					r.Logger.Warn("sandbox: the kernel refused a network namespace; parse children keep the host network", "err", err)
				}
			})
			continue
		}
		return nil, nil, nil, nil, fmt.Errorf("error starting the sandbox: %w", err)
	}
}

// NetworkIsolated reports whether children get a network namespace (known
// after the first Run).
func (r *Runner) NetworkIsolated() bool { return !r.noNetns.Load() }

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
