package sandbox

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
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
}

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
// in children under the runner's memory limit and network namespace, and
// hands each page to page as it is done (an error from page stops the
// work and is returned). A page that runs out of time or memory, or
// crashes the renderer, is reported with its reason, and a fresh child
// goes on with the next page (open is called again for it). The runner's
// Timeout bounds the whole; pages it leaves are reported time_limit.
// Render returns a *Failure when the document cannot be opened at all.
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
		done, out, err := r.renderChild(bctx, in, pages, opt, page)
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

// renderOutcome is how one render child ended.
type renderOutcome struct {
	outcome
	opened bool // the document opened: a death is the page's
}

// renderChild runs one child over pages and returns how many of them it
// reported. Its error is errPageTimeout, errBudget, a *Failure for a child
// a limit stopped or that crashed, or the handler's or input's error.
func (r *Runner) renderChild(ctx context.Context, input io.Reader, pages []int, opt RenderOptions, page func(RenderedPage) error) (int, renderOutcome, error) {
	nums := make([]string, len(pages))
	for i, p := range pages {
		nums[i] = strconv.Itoa(p)
	}
	args := []string{renderChildArg,
		"-memory-limit", strconv.FormatInt(r.MemoryLimit, 10),
		"-cpu-seconds", strconv.FormatUint(uint64(r.Timeout/time.Second)+1, 10),
		"-width", strconv.Itoa(opt.Width), "-max-height", strconv.Itoa(opt.MaxHeight),
		"-quality", strconv.Itoa(opt.Quality), "-cache-dir", opt.CacheDir,
		"-pages", strings.Join(nums, ","),
	}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(time.Hour, func() { cancel(errPageTimeout) })
	watchdog.Stop()
	defer watchdog.Stop()

	var (
		res      renderOutcome
		done     int
		finished bool
		failure  *Failure
	)
	out, err := r.exchange(pctx, args, input, func(m message) error {
		switch m.Type {
		case "opened":
			res.opened = true
			watchdog.Reset(opt.PageTimeout)
		case "rendered":
			if m.Rendered == nil {
				return nil
			}
			watchdog.Reset(opt.PageTimeout)
			done++
			return page(*m.Rendered)
		case "result":
			finished = true
			watchdog.Stop()
		case "error":
			failure = &Failure{Code: m.Code, Message: m.Message}
		}
		return nil
	})
	watchdog.Stop()
	res.outcome = out
	switch {
	case err != nil:
		return done, res, err
	case finished && out.waitErr == nil:
		return done, res, nil
	case failure != nil && !res.opened:
		return done, res, failure
	case failure == nil && out.waitErr == nil && done > 0:
		return done, res, nil // stopped after reporting a page's failure
	}
	if err := r.limitFailure(ctx, out, "Rendering"); err != nil {
		if errors.Is(err, context.Cause(ctx)) {
			return done, res, context.Cause(ctx)
		}
		return done, res, err
	}
	msg := lastLines(out.stderr, 3)
	if failure != nil {
		msg = failure.Message
	}
	return done, res, &Failure{Code: "render_failed", Message: "The renderer crashed on this page: " + msg}
}

// WarmRenderer compiles the renderer into the cache directory (a child does
// it, under the limits), so that the first document's children only load
// it. It returns how long that took.
func (r *Runner) WarmRenderer(ctx context.Context, cacheDir string) (time.Duration, error) {
	opt := RenderOptions{Width: 256, CacheDir: cacheDir}.withDefaults()
	if err := os.MkdirAll(opt.CacheDir, 0o700); err != nil {
		return 0, fmt.Errorf("error making the renderer's cache directory: %w", err)
	}
	start := time.Now()
	_, out, err := r.renderChild(ctx, strings.NewReader(""), nil, opt, func(RenderedPage) error { return nil })
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
	width := fs.Int("width", 256, "")
	maxHeight := fs.Int("max-height", 2048, "")
	quality := fs.Int("quality", 80, "")
	cacheDir := fs.String("cache-dir", "", "")
	pageList := fs.String("pages", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	limitSelf(*memLimit, *cpuSeconds)
	send := reporter(stdout)
	fail := func(code, msg string) int {
		_ = send(message{Type: "error", Code: code, Message: msg, PeakRSS: statusBytes("VmHWM:")})
		return 0
	}

	data, err := io.ReadAll(stdin)
	if err != nil {
		return fail("internal", "reading the input: "+err.Error())
	}
	pool, inst, err := startPDFium(*cacheDir, *memLimit)
	if err != nil {
		return fail("internal", "starting the renderer: "+err.Error())
	}
	defer pool.Close()
	if *pageList == "" { // warming the cache
		_ = send(message{Type: "opened"})
		_ = send(message{Type: "result", PeakRSS: statusBytes("VmHWM:")})
		return 0
	}
	doc, err := inst.OpenDocument(&requests.OpenDocument{File: &data})
	if err != nil {
		return fail("render_failed", "The renderer could not open the document: "+err.Error())
	}
	count, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil {
		return fail("render_failed", "The renderer could not count the document's pages: "+err.Error())
	}
	if err := send(message{Type: "opened", PageCount: count.PageCount}); err != nil {
		return 1
	}
	r := pageRenderer{inst: inst, doc: doc.Document, pageCount: count.PageCount, width: *width, maxHeight: *maxHeight, quality: *quality}
	for _, s := range strings.Split(*pageList, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			continue
		}
		p, healthy := r.render(n)
		if err := send(message{Type: "rendered", Rendered: &p}); err != nil {
			return 1
		}
		if !healthy {
			return 0 // the parent goes on in a fresh child
		}
	}
	if err := send(message{Type: "result", PeakRSS: statusBytes("VmHWM:")}); err != nil {
		return 1
	}
	return 0
}

// startPDFium loads PDFium, compiled through cacheDir, with no file system
// and its memory capped.
func startPDFium(cacheDir string, memLimit int64) (pdfium.Pool, pdfium.Pdfium, error) {
	rc := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
		WithMemoryLimitPages(uint32(min(memLimit/2/65536, 65536)))
	if cacheDir != "" {
		if cache, err := wazero.NewCompilationCacheWithDir(cacheDir); err == nil {
			rc = rc.WithCompilationCache(cache)
		}
	}
	pool, err := webassembly.Init(webassembly.Config{
		MinIdle: 1, MaxIdle: 1, MaxTotal: 1,
		RuntimeConfig: rc,
		FSConfig:      wazero.NewFSConfig(), // the module sees no files
		Stdout:        io.Discard,
		Stderr:        os.Stderr,
	})
	if err != nil {
		return nil, nil, err
	}
	inst, err := pool.GetInstance(time.Minute)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return pool, inst, nil
}

type pageRenderer struct {
	inst                      pdfium.Pdfium
	doc                       references.FPDF_DOCUMENT
	pageCount                 int
	width, maxHeight, quality int
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
	if h := math.Ceil(float64(r.width) * size.Height / size.Width); h > float64(r.maxHeight) {
		p.Code = "page_too_large"
		p.Message = fmt.Sprintf("The page is %.0f × %.0f pt: %d px wide it would be %.0f px high, over the limit of %d.",
			size.Width, size.Height, r.width, h, r.maxHeight)
		return p, true
	}
	out, err := r.inst.RenderToFile(&requests.RenderToFile{
		RenderPageInPixels: &requests.RenderPageInPixels{Page: ref, Width: r.width, RenderForm: true, Document: &r.doc},
		OutputFormat:       requests.RenderToFileOutputFormatJPG,
		OutputTarget:       requests.RenderToFileOutputTargetBytes,
		OutputQuality:      r.quality,
	})
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
