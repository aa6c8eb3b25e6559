package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/foliohq/folio/internal/tailbuf"
)

// The parent's side of render children: start one, keep it warm in a
// pool keyed by its cache and nice value, send it documents, wait for it.

// maxRenderDocs is how many documents one render child draws before it is
// replaced (its CPU-time limit is for its whole life).
const maxRenderDocs = 100

// renderIdle is how long a warm render child waits for work before it is
// stopped.
const renderIdle = time.Minute

// renderProc is a render child: it loads PDFium once and draws documents
// sent to it one at a time, each in a fresh WebAssembly instance.
type renderProc struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	lines    *bufio.Scanner
	stderr   *tailbuf.Buffer
	cacheDir string
	nice     int
	docs     int
	idleAt   time.Time
	waited   chan struct{}
	waitErr  error
}

func (p *renderProc) kill() { _ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) }

// wait reaps the child (killing it if need be) and says how it ended.
func (p *renderProc) wait() outcome {
	_ = p.stdin.Close()
	select {
	case <-p.waited:
	case <-time.After(5 * time.Second):
		p.kill()
		<-p.waited
	}
	out := outcome{waitErr: p.waitErr, state: p.cmd.ProcessState, stderr: p.stderr.String()}
	if st := p.cmd.ProcessState; st != nil {
		out.stats = Stats{CPUTime: st.UserTime() + st.SystemTime()}
	}
	return out
}

// send writes one document: its header line, then its bytes in chunks.
func (p *renderProc) send(req renderRequest, input io.Reader) error {
	w := bufio.NewWriterSize(p.stdin, 256<<10)
	if err := json.NewEncoder(w).Encode(req); err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	var head [4]byte
	for {
		n, err := input.Read(buf)
		if n > 0 {
			binary.BigEndian.PutUint32(head[:], uint32(n))
			if _, werr := w.Write(head[:]); werr != nil {
				return werr
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	binary.BigEndian.PutUint32(head[:], 0)
	if _, err := w.Write(head[:]); err != nil {
		return err
	}
	return w.Flush()
}

// renderPool keeps idle render children.
type renderPool struct {
	mu   sync.Mutex
	idle []*renderProc
}

// renderProc returns a warm child for cacheDir at nice, or starts one.
func (r *Runner) renderProc(cacheDir string, nice int) (*renderProc, error) {
	r.renders.mu.Lock()
	var stale []*renderProc
	var found *renderProc
	keep := r.renders.idle[:0]
	for _, p := range r.renders.idle {
		switch {
		case time.Since(p.idleAt) > renderIdle:
			stale = append(stale, p)
		case found == nil && p.cacheDir == cacheDir && p.nice == nice:
			found = p
		default:
			keep = append(keep, p)
		}
	}
	r.renders.idle = keep
	r.renders.mu.Unlock()
	for _, p := range stale {
		p.kill()
		p.wait()
	}
	if found != nil {
		return found, nil
	}
	return r.startRenderProc(cacheDir, nice)
}

func (r *Runner) putRenderProc(p *renderProc) {
	if p.docs >= maxRenderDocs {
		p.wait() // stdin closed: it exits
		return
	}
	p.idleAt = time.Now()
	r.renders.mu.Lock()
	r.renders.idle = append(r.renders.idle, p)
	r.renders.mu.Unlock()
}

// RenderChildrenStarted is how many render children this runner started.
func (r *Runner) RenderChildrenStarted() int64 { return r.renderStarts.Load() }

// CloseRenderers stops the idle render children.
func (r *Runner) CloseRenderers() {
	r.renders.mu.Lock()
	idle := r.renders.idle
	r.renders.idle = nil
	r.renders.mu.Unlock()
	for _, p := range idle {
		p.wait()
	}
}

func (r *Runner) startRenderProc(cacheDir string, nice int) (*renderProc, error) {
	exe := r.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("error finding the sandbox binary: %w", err)
		}
	}
	// CPU time is for the child's whole life (maxRenderDocs documents);
	// the per-page watchdog and the runner's Timeout bound each document.
	cpu := uint64(r.Timeout/time.Second+1) * maxRenderDocs
	cmd, stdin, stdout, stderr, err := r.start(exe, []string{renderChildArg,
		"-memory-limit", strconv.FormatInt(r.MemoryLimit, 10),
		"-cpu-seconds", strconv.FormatUint(cpu, 10),
		"-cache-dir", cacheDir,
		"-nice", strconv.Itoa(nice),
	})
	if err != nil {
		return nil, err
	}
	r.renderStarts.Add(1)
	p := &renderProc{cmd: cmd, stdin: stdin, stderr: stderr, cacheDir: cacheDir, nice: nice, waited: make(chan struct{})}
	p.lines = bufio.NewScanner(stdout)
	p.lines.Buffer(make([]byte, 64<<10), maxLine)
	go func() {
		p.waitErr = cmd.Wait()
		close(p.waited)
	}()
	return p, nil
}

// WarmRenderer starts a render child, which compiles PDFium into the cache
// directory (so that later children only load it), and keeps it warm. It
// returns how long that took.
func (r *Runner) WarmRenderer(ctx context.Context, cacheDir string) (time.Duration, error) {
	opt := RenderOptions{Width: 256, CacheDir: cacheDir}.withDefaults()
	if err := os.MkdirAll(opt.CacheDir, 0o700); err != nil {
		return 0, fmt.Errorf("error making the renderer's cache directory: %w", err)
	}
	start := time.Now()
	_, out, err := r.renderOnce(ctx, bytes.NewReader(nil), nil, opt, func(RenderedPage) error { return nil })
	if err != nil {
		return 0, err
	}
	if !out.opened {
		return 0, fmt.Errorf("the renderer did not start: %s", lastLines(out.stderr, 3))
	}
	return time.Since(start), nil
}
