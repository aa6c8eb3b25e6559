package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
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
	// Turns turns pages clockwise by 90, 180 or 270 degrees on top of
	// their own /Rotate (a scan fed sideways, which OCR found): page
	// number to degrees.
	Turns map[int]int
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
	// Turns: page number to a clockwise quarter turn (RenderOptions.Turns).
	Turns map[int]int `json:"turns,omitempty"`
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

	req := renderRequest{Pages: pages, Width: opt.Width, DPI: opt.DPI, MaxHeight: opt.MaxHeight, Quality: opt.Quality, Turns: opt.Turns}
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
