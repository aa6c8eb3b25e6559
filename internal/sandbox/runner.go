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
}

// Handler receives what the child reports, as it reports it. An error from
// a handler stops the child and is returned by Run.
type Handler struct {
	Started func(pageCount int) error
	Page    func(pdf.Page) error
	// Finished receives the child's resource use once it has exited.
	Finished func(Stats)
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
	exe := r.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("error finding the sandbox binary: %w", err)
		}
	}
	cpu := uint64(r.Timeout/time.Second) + 1
	args := []string{childArg,
		"-memory-limit", strconv.FormatInt(r.MemoryLimit, 10),
		"-cpu-seconds", strconv.FormatUint(cpu, 10),
		"-max-pages", strconv.Itoa(r.MaxPages),
		"-first-page", strconv.Itoa(max(firstPage, 1)),
	}
	cmd, stdin, stdout, stderr, err := r.start(exe, args)
	if err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	var killed atomic.Bool
	kill := func() {
		killed.Store(true)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
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
		result   *pdf.Result
		failure  *Failure
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
		switch m.Type {
		case "started":
			if h.Started != nil {
				handlerE = h.Started(m.PageCount)
			}
		case "page":
			if h.Page != nil && m.Page != nil {
				handlerE = h.Page(*m.Page)
			}
		case "result":
			result = m.Result
		case "error":
			failure = &Failure{Code: m.Code, Message: m.Message}
		}
		if handlerE != nil {
			kill()
			break
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()
	<-inputDone
	if h.Finished != nil && cmd.ProcessState != nil {
		h.Finished(Stats{PeakRSS: peakRSS, CPUTime: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()})
	}

	switch {
	case handlerE != nil:
		return nil, handlerE
	case inputErr != nil:
		return nil, fmt.Errorf("error reading the document for the sandbox: %w", inputErr)
	case result != nil && waitErr == nil:
		return result, nil
	case failure != nil && failure.Code != "internal":
		return nil, failure
	case ctx.Err() != nil:
		return nil, context.Cause(ctx)
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		return nil, &Failure{Code: "time_limit", Message: fmt.Sprintf("Parsing took longer than the limit of %s.", r.Timeout)}
	}
	tail := stderr.String()
	var exitErr *exec.ExitError
	if errors.As(waitErr, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGXCPU {
			return nil, &Failure{Code: "time_limit", Message: fmt.Sprintf("Parsing used more CPU time than the limit of %s.", r.Timeout)}
		}
	}
	if strings.Contains(tail, "out of memory") || strings.Contains(tail, "cannot allocate memory") {
		return nil, &Failure{Code: "memory_limit", Message: fmt.Sprintf("Parsing needed more memory than the limit of %d MiB.", r.MemoryLimit>>20)}
	}
	if failure != nil {
		return nil, fmt.Errorf("%w: %s", ErrCrashed, failure.Message)
	}
	return nil, fmt.Errorf("%w (%w): %s", ErrCrashed, waitErr, lastLines(tail, 5))
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
