package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/foliohq/folio/internal/tailbuf"
)

// renderChildArg is the hidden first argument that makes a binary the
// render child.
const renderChildArg = "__folio_render_child"

// Renderer names what draws page images: PDFium compiled to WebAssembly
// (github.com/klippa-app/go-pdfium, run by wazero), and the version of
// Folio's use of it (size rules, JPEG quality). It is part of every image's
// key, so a new renderer never serves an old one's pictures. Bump the
// suffix when the output changes; TestRendererNamesItsModule keeps the
// module version true.
const Renderer = "pdfium-wasm-1.21.4.r1"

// RenderOptions tune a Render.
type RenderOptions struct {
	Width int // pixels
	// DPI, when set, draws pages at this resolution instead of Width, in
	// grey, as PNG (lossless: for OCR); no side may exceed MaxSide.
	DPI int
	// MaxHeight refuses pages that would be taller than this at Width
	// (page_too_large); 8 × Width when 0.
	MaxHeight int
	// Quality is the JPEG quality, 1 to 100; 80 when 0.
	Quality int
	// PageTimeout bounds one page's rendering; 30 s when 0.
	PageTimeout time.Duration
	// CacheDir keeps PDFium's compiled WebAssembly between children (a
	// compile takes seconds; loading it, tens of milliseconds). Empty: a
	// directory under the user's cache or temp directory.
	CacheDir string
	// Nice is the child's nice value (DefaultNice when 0): warm children
	// are kept apart by it.
	Nice int
}

// MaxSide bounds either side of a page drawn at a DPI, in pixels (a
// US Letter page at 300 dpi is 2550 × 3300).
const MaxSide = 10_000

func (o RenderOptions) withDefaults() RenderOptions {
	if o.MaxHeight == 0 {
		o.MaxHeight = 8 * o.Width
	}
	if o.Quality == 0 {
		o.Quality = 80
	}
	if o.PageTimeout == 0 {
		o.PageTimeout = 30 * time.Second
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultRenderCacheDir()
	}
	if o.Nice <= 0 || o.Nice > 19 {
		o.Nice = DefaultNice
	}
	return o
}

// DefaultRenderCacheDir is where children keep the compiled renderer when
// RenderOptions.CacheDir is empty.
func DefaultRenderCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "folio", "wazero")
	}
	return filepath.Join(os.TempDir(), "folio-wazero")
}

// RenderedPage is one page's image (JPEG), or why there is none.
type RenderedPage struct {
	Number int    `json:"number"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	Image  []byte `json:"image,omitempty"`
	// Code and Message say why the page has no image: page_too_large,
	// render_failed, time_limit, memory_limit, no_such_page. Empty when it
	// was rendered.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// errPageTimeout stops a child whose page took longer than PageTimeout.
var errPageTimeout = errors.New("page render timed out")

// Render draws the given pages of the PDF that open returns at opt.Width,
// in a render child under the runner's memory limit and network namespace,
// and hands each page to page as it is done (an error from page stops the
// work and is returned). A page that runs out of time or memory, or
// crashes the renderer, is reported with its reason, and a fresh child
// goes on with the next page (open is called again for it). The runner's
// Timeout bounds the whole; pages it leaves are reported time_limit.
// Render returns a *Failure when the document cannot be opened at all.
//
// Render children are kept warm between calls (PDFium loads in about
// 70 ms; a document's pages often take less): each document gets a fresh
// WebAssembly instance in one, so no document sees another's memory, and
// a child that failed in any way is killed, never reused.
func (r *Runner) Render(ctx context.Context, open func(context.Context) (io.ReadCloser, error), pages []int, opt RenderOptions, page func(RenderedPage) error) (Stats, error) {
	opt = opt.withDefaults()
	var total Stats
	bctx, cancel := context.WithTimeoutCause(ctx, r.Timeout, errBudget)
	defer cancel()
	for len(pages) > 0 {
		in, err := open(bctx)
		if err != nil {
			if ctx.Err() == nil && errors.Is(context.Cause(bctx), errBudget) {
				return total, reportAll(pages, page, "time_limit", budgetMessage(r.Timeout))
			}
			return total, err
		}
		done, out, err := r.renderOnce(bctx, in, pages, opt, page)
		in.Close()
		total.PeakRSS = max(total.PeakRSS, out.stats.PeakRSS)
		total.CPUTime += out.stats.CPUTime
		pages = pages[done:]
		var f *Failure
		switch {
		case ctx.Err() != nil:
			return total, context.Cause(ctx)
		case errors.Is(err, errBudget) || errors.Is(context.Cause(bctx), errBudget):
			return total, reportAll(pages, page, "time_limit", budgetMessage(r.Timeout))
		case err == nil:
			continue // done, or the child stopped after a page it failed on
		case errors.Is(err, errPageTimeout):
			f = &Failure{Code: "time_limit", Message: fmt.Sprintf("Rendering the page took longer than the limit of %s.", opt.PageTimeout)}
		case errors.As(err, &f) && out.opened:
			// The child died on pages[0]: that page's reason.
		default:
			return total, err
		}
		if err := page(RenderedPage{Number: pages[0], Code: f.Code, Message: f.Message}); err != nil {
			return total, err
		}
		pages = pages[1:]
	}
	return total, nil
}

var errBudget = errors.New("render budget spent")

func budgetMessage(d time.Duration) string {
	return fmt.Sprintf("Rendering the document's pages took longer than the limit of %s.", d)
}

func reportAll(pages []int, page func(RenderedPage) error, code, message string) error {
	for _, n := range pages {
		if err := page(RenderedPage{Number: n, Code: code, Message: message}); err != nil {
			return err
		}
	}
	return nil
}

// renderOutcome is how one document went in a render child.
type renderOutcome struct {
	outcome
	opened bool // the document opened: a death is the page's
}

// renderRequest is the header of one document sent to a render child; the
// PDF follows in chunks (a 4-byte big-endian length, then the bytes; a
// zero length ends it).
type renderRequest struct {
	Pages     []int `json:"pages"`
	Width     int   `json:"width"`
	DPI       int   `json:"dpi,omitempty"`
	MaxHeight int   `json:"max_height"`
	Quality   int   `json:"quality"`
}

// renderOnce renders pages of one document in a warm child (or a new one)
// and returns how many pages it reported. Its error is errPageTimeout,
// errBudget, a *Failure for a child a limit stopped or that crashed, the
// caller's cancellation, or the handler's or input's error. The child goes
// back to the pool only when the document ended cleanly.
func (r *Runner) renderOnce(ctx context.Context, input io.Reader, pages []int, opt RenderOptions, page func(RenderedPage) error) (int, renderOutcome, error) {
	proc, err := r.renderProc(opt.CacheDir, opt.Nice)
	if err != nil {
		return 0, renderOutcome{}, err
	}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(pctx, proc.kill)
	defer stop()
	watchdog := time.AfterFunc(time.Hour, func() { cancel(errPageTimeout) })
	watchdog.Stop()
	defer watchdog.Stop()

	req := renderRequest{Pages: pages, Width: opt.Width, DPI: opt.DPI, MaxHeight: opt.MaxHeight, Quality: opt.Quality}
	var (
		res      renderOutcome
		done     int
		finished bool
		failure  *Failure
		handlerE error
		inputErr error
	)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if err := proc.send(req, input); err != nil && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, os.ErrClosed) {
			inputErr = err
			proc.kill()
		}
	}()
	for !finished && handlerE == nil && proc.lines.Scan() {
		var m message
		if err := json.Unmarshal(proc.lines.Bytes(), &m); err != nil {
			continue
		}
		switch m.Type {
		case "opened":
			res.opened = true
			watchdog.Reset(opt.PageTimeout)
		case "rendered":
			if m.Rendered != nil {
				// What the caller does with a page (S3, Tesseract) is not
				// the next page's drawing time.
				watchdog.Stop()
				done++
				handlerE = page(*m.Rendered)
				watchdog.Reset(opt.PageTimeout)
			}
		case "result":
			finished = true
			res.stats.PeakRSS = m.PeakRSS
		case "error":
			failure = &Failure{Code: m.Code, Message: m.Message}
		}
	}
	watchdog.Stop()
	<-sent
	switch {
	case finished && handlerE == nil && inputErr == nil && failure == nil && pctx.Err() == nil:
		proc.docs++
		r.putRenderProc(proc)
		return done, res, nil
	case handlerE != nil:
		proc.kill()
		return done, res, handlerE
	case inputErr != nil:
		proc.kill()
		return done, res, fmt.Errorf("error reading the document for the renderer: %w", inputErr)
	}
	// The child is dead or going: it stopped after a page's own failure,
	// or a limit, the watchdog or the caller stopped it.
	peak := res.stats.PeakRSS
	res.outcome = proc.wait()
	res.stats.PeakRSS = max(peak, res.stats.PeakRSS)
	switch {
	case pctx.Err() != nil:
		return done, res, context.Cause(pctx)
	case failure != nil && !res.opened:
		return done, res, failure
	case failure == nil && res.waitErr == nil && done > 0:
		return done, res, nil // it stopped after reporting a page's failure
	}
	if err := r.limitFailure(ctx, res.outcome, "Rendering"); err != nil {
		return done, res, err
	}
	msg := lastLines(res.stderr, 3)
	if failure != nil {
		msg = failure.Message
	}
	return done, res, &Failure{Code: "render_failed", Message: "The renderer crashed on this page: " + msg}
}

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

func renderChildMain(args []string, stdin io.Reader, stdout io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	memLimit := fs.Int64("memory-limit", 1<<30, "")
	cpuSeconds := fs.Uint64("cpu-seconds", 300, "")
	cacheDir := fs.String("cache-dir", "", "")
	nice := fs.Int("nice", DefaultNice, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	limitSelf(*memLimit, *cpuSeconds, *nice)
	send := reporter(stdout)
	in := bufio.NewReaderSize(stdin, 256<<10)
	pool, err := startPDFium(*cacheDir, *memLimit)
	if err != nil {
		_ = send(message{Type: "error", Code: "internal", Message: "starting the renderer: " + err.Error()})
		return 1
	}
	defer pool.Close()
	for {
		line, err := in.ReadBytes('\n')
		if err != nil {
			return 0 // the parent closed stdin: done
		}
		var req renderRequest
		if err := json.Unmarshal(line, &req); err != nil {
			_ = send(message{Type: "error", Code: "internal", Message: "bad request: " + err.Error()})
			return 1
		}
		data, err := readChunks(in, *memLimit)
		if err != nil {
			_ = send(message{Type: "error", Code: "internal", Message: "reading the input: " + err.Error()})
			return 1
		}
		if !renderDocument(pool, req, data, send) {
			return 0 // a page failed in a way that may have broken PDFium: a fresh child goes on
		}
		// The next document starts from a small heap, and a fresh peak.
		data = nil //nolint:ineffassign,wastedassign // let the collector have it
		debug.FreeOSMemory()
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	}
}

// readChunks reads one document sent by renderProc.send.
func readChunks(in io.Reader, limit int64) ([]byte, error) {
	var (
		data []byte
		head [4]byte
	)
	for {
		if _, err := io.ReadFull(in, head[:]); err != nil {
			return nil, err
		}
		n := binary.BigEndian.Uint32(head[:])
		if n == 0 {
			return data, nil
		}
		if int64(len(data))+int64(n) > limit {
			return nil, fmt.Errorf("the document is larger than the memory limit of %d bytes", limit)
		}
		start := len(data)
		data = append(data, make([]byte, n)...)
		if _, err := io.ReadFull(in, data[start:]); err != nil {
			return nil, err
		}
	}
}

// renderDocument draws one document's pages in a fresh instance of PDFium
// and reports them, then "result". It reports false when the child must
// not go on (it has said why for the page).
func renderDocument(pool pdfium.Pool, req renderRequest, data []byte, send func(message) error) bool {
	inst, err := pool.GetInstance(time.Minute)
	if err != nil {
		_ = send(message{Type: "error", Code: "internal", Message: "starting the renderer: " + err.Error()})
		return false
	}
	defer inst.Close()
	if len(req.Pages) == 0 { // warming up
		return send(message{Type: "opened"}) == nil && send(message{Type: "result", PeakRSS: statusBytes("VmHWM:")}) == nil
	}
	doc, err := inst.OpenDocument(&requests.OpenDocument{File: &data})
	if err != nil {
		_ = send(message{Type: "error", Code: "render_failed", Message: "The renderer could not open the document: " + err.Error()})
		return false
	}
	defer func() { _, _ = inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document}) }()
	count, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil {
		_ = send(message{Type: "error", Code: "render_failed", Message: "The renderer could not count the document's pages: " + err.Error()})
		return false
	}
	if send(message{Type: "opened", PageCount: count.PageCount}) != nil {
		return false
	}
	r := pageRenderer{inst: inst, doc: doc.Document, pageCount: count.PageCount, width: req.Width, dpi: req.DPI, maxHeight: req.MaxHeight, quality: req.Quality}
	for _, n := range req.Pages {
		p, healthy := r.render(n)
		if send(message{Type: "rendered", Rendered: &p}) != nil || !healthy {
			return false
		}
	}
	return send(message{Type: "result", PeakRSS: statusBytes("VmHWM:")}) == nil
}

// startPDFium loads PDFium, compiled through cacheDir, with no file system
// and its memory capped.
func startPDFium(cacheDir string, memLimit int64) (pdfium.Pool, error) {
	rc := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
		WithMemoryLimitPages(uint32(min(memLimit/2/65536, 65536)))
	if cacheDir != "" {
		if cache, err := wazero.NewCompilationCacheWithDir(cacheDir); err == nil {
			rc = rc.WithCompilationCache(cache)
		}
	}
	pool, err := webassembly.Init(webassembly.Config{
		// One instance at a time, a fresh one per document.
		MinIdle: 0, MaxIdle: 0, MaxTotal: 1,
		RuntimeConfig: rc,
		FSConfig:      wazero.NewFSConfig(), // the module sees no files
		Stdout:        io.Discard,
		Stderr:        os.Stderr,
	})
	if err != nil {
		return nil, err
	}
	return pool, nil
}

type pageRenderer struct {
	inst                           pdfium.Pdfium
	doc                            references.FPDF_DOCUMENT
	pageCount                      int
	width, dpi, maxHeight, quality int
}

// render draws page n. healthy is false when the renderer failed in a way
// that may have left it broken: the child must not go on.
func (r pageRenderer) render(n int) (p RenderedPage, healthy bool) {
	p.Number = n
	if n < 1 || n > r.pageCount {
		p.Code, p.Message = "no_such_page", fmt.Sprintf("The document has %d pages.", r.pageCount)
		return p, true
	}
	ref := requests.Page{ByIndex: &requests.PageByIndex{Document: r.doc, Index: n - 1}}
	size, err := r.inst.GetPageSize(&requests.GetPageSize{Page: ref})
	if err != nil {
		p.Code, p.Message = "render_failed", "The renderer could not read the page's size: "+err.Error()
		return p, false
	}
	if size.Width <= 0 || size.Height <= 0 {
		p.Code, p.Message = "render_failed", fmt.Sprintf("The page has no area (%g × %g pt).", size.Width, size.Height)
		return p, true
	}
	req := &requests.RenderToFile{OutputTarget: requests.RenderToFileOutputTargetBytes}
	if r.dpi > 0 {
		w, h := math.Ceil(size.Width*float64(r.dpi)/72), math.Ceil(size.Height*float64(r.dpi)/72)
		if w > MaxSide || h > MaxSide {
			p.Code = "page_too_large"
			p.Message = fmt.Sprintf("The page is %.0f × %.0f pt: at %d dpi it would be %.0f × %.0f px, over the limit of %d px a side.",
				size.Width, size.Height, r.dpi, w, h, MaxSide)
			return p, true
		}
		req.RenderPageInDPI = &requests.RenderPageInDPI{Page: ref, DPI: r.dpi, RenderForm: true, Document: &r.doc,
			ImageFormat: requests.RenderImageFormatGrayscale}
		req.OutputFormat, req.PNGCompressionLevel = requests.RenderToFileOutputFormatPNG, png.BestSpeed
	} else {
		if h := math.Ceil(float64(r.width) * size.Height / size.Width); h > float64(r.maxHeight) {
			p.Code = "page_too_large"
			p.Message = fmt.Sprintf("The page is %.0f × %.0f pt: %d px wide it would be %.0f px high, over the limit of %d.",
				size.Width, size.Height, r.width, h, r.maxHeight)
			return p, true
		}
		req.RenderPageInPixels = &requests.RenderPageInPixels{Page: ref, Width: r.width, RenderForm: true, Document: &r.doc}
		req.OutputFormat, req.OutputQuality = requests.RenderToFileOutputFormatJPG, r.quality
	}
	out, err := r.inst.RenderToFile(req)
	if err != nil {
		p.Code, p.Message = "render_failed", "The renderer failed on the page: "+err.Error()
		if strings.Contains(err.Error(), "memory") || strings.Contains(err.Error(), "alloc") {
			p.Code, p.Message = "memory_limit", "Rendering the page needed more memory than the limit."
		}
		return p, false
	}
	p.Width, p.Height, p.Image = out.Width, out.Height, *out.ImageBytes
	return p, true
}
