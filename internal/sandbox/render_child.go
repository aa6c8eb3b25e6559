package sandbox

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/enums"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// The render child: it loads PDFium (WebAssembly, compiled once into the
// cache) and draws the pages it is asked for, one document at a time.

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
	r := pageRenderer{inst: inst, doc: doc.Document, pageCount: count.PageCount, width: req.Width, dpi: req.DPI, maxHeight: req.MaxHeight, quality: req.Quality, turns: req.Turns}
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
	turns                          map[int]int
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
	if turn := r.turns[n]; turn%360 != 0 {
		// On top of the page's own /Rotate, in this copy of the document
		// only: the size below and the drawing follow it.
		rot, err := r.inst.FPDFPage_GetRotation(&requests.FPDFPage_GetRotation{Page: ref})
		if err != nil {
			p.Code, p.Message = "render_failed", "The renderer could not read the page's rotation: "+err.Error()
			return p, false
		}
		quarter := (int(rot.PageRotation) + turn/90) % 4
		if _, err := r.inst.FPDFPage_SetRotation(&requests.FPDFPage_SetRotation{Page: ref, Rotate: enums.FPDF_PAGE_ROTATION(quarter)}); err != nil {
			p.Code, p.Message = "render_failed", "The renderer could not turn the page: "+err.Error()
			return p, false
		}
	}
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
