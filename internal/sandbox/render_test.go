package sandbox_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/internal/testbin"
)

// opener serves data afresh at every call, counting the calls.
func opener(data []byte, calls *atomic.Int32) func(context.Context) (io.ReadCloser, error) {
	return func(context.Context) (io.ReadCloser, error) {
		calls.Add(1)
		return io.NopCloser(bytes.NewReader(data)), nil
	}
}

func render(t *testing.T, r *sandbox.Runner, data []byte, pages []int, opt sandbox.RenderOptions) (map[int]sandbox.RenderedPage, int) {
	t.Helper()
	if opt.CacheDir == "" {
		opt.CacheDir = renderCache
	}
	var calls atomic.Int32
	got := map[int]sandbox.RenderedPage{}
	_, err := r.Render(context.Background(), opener(data, &calls), pages, opt, func(p sandbox.RenderedPage) error {
		_, dup := got[p.Number]
		require.False(t, dup, "page %d reported twice", p.Number)
		got[p.Number] = p
		return nil
	})
	require.NoError(t, err)
	return got, int(calls.Load())
}

var renderCache = testbin.RenderCache()

func TestRenderDrawsPages(t *testing.T) {
	t.Parallel()
	data := pdftest.TextPages([]string{"Hello renderer"}, []string{"Page two"})
	got, _ := render(t, runner(), data, []int{2, 1, 3}, sandbox.RenderOptions{Width: 256})
	require.Len(t, got, 3)
	for _, n := range []int{1, 2} {
		p := got[n]
		require.Empty(t, p.Code, p.Message)
		img, err := jpeg.Decode(bytes.NewReader(p.Image))
		require.NoError(t, err)
		// US Letter, 612 × 792 pt, at 256 px wide: 331 px high.
		require.Equal(t, 256, img.Bounds().Dx())
		require.InDelta(t, 331, img.Bounds().Dy(), 1)
		require.Equal(t, img.Bounds().Dx(), p.Width)
		require.Equal(t, img.Bounds().Dy(), p.Height)
	}
	require.Equal(t, "no_such_page", got[3].Code)
}

func hostile(t *testing.T, r *sandbox.Runner, opt sandbox.RenderOptions, pathOpsMillions int) (map[string]sandbox.RenderedPage, int) {
	t.Helper()
	data, pages := pdftest.HostilePages(pathOpsMillions, 3)
	nums := make([]int, len(pages))
	for i := range pages {
		nums[i] = i + 1
	}
	got, opens := render(t, r, data, nums, opt)
	byName := map[string]sandbox.RenderedPage{}
	for i, p := range pages {
		byName[p.Name] = got[i+1]
		t.Logf("%-15s %dx%d %d bytes %s %s", p.Name, got[i+1].Width, got[i+1].Height, len(got[i+1].Image), got[i+1].Code, got[i+1].Message)
	}
	for _, name := range []string{"ordinary first", "ordinary last"} {
		require.Empty(t, byName[name].Code, byName[name].Message)
		require.NotEmpty(t, byName[name].Image)
	}
	return byName, opens
}

// TestRenderSurvivesHostilePages: each hostile page ends with an image
// or its own reason, and the pages after it are rendered by a fresh child.
func TestRenderSurvivesHostilePages(t *testing.T) {
	t.Parallel()
	r := runner()
	r.MemoryLimit = 512 << 20
	// What is tested is each page's outcome, not the clock: the limits are
	// generous enough for a busy machine (make test-busy: the niced child
	// gets a fraction of a CPU, and the image bomb's page takes seconds of
	// it on an idle one).
	r.Timeout = 5 * time.Minute
	got, opens := hostile(t, r, sandbox.RenderOptions{Width: 256, PageTimeout: 3 * time.Minute}, 8)
	// Rendered to a width, not a resolution: a huge page is a small image.
	require.Empty(t, got["huge"].Code, got["huge"].Message)
	require.Equal(t, 256, got["huge"].Width)
	require.Equal(t, 256, got["huge"].Height)
	require.Equal(t, "page_too_large", got["strip"].Code)
	require.Contains(t, got["strip"].Message, "36864 px high")
	require.Equal(t, "memory_limit", got["path operators"].Code, got["path operators"].Message)
	// PDFium decodes an image at the size it is drawn: 3 GiB of pixels
	// inside 512 MiB.
	require.Empty(t, got["image bomb"].Code, got["image bomb"].Message)
	require.Equal(t, 2, opens, "one child until the path operators, a second after")
	require.EqualValues(t, 2, r.RenderChildrenStarted(), "the child that died is not reused")
}

// TestRenderReusesWarmChildren: documents one after another are drawn by
// one warm child, each in a fresh PDFium instance: a document draws the
// same whatever came before it.
func TestRenderReusesWarmChildren(t *testing.T) {
	t.Parallel()
	a := pdftest.TextPages([]string{"First document"}, []string{"its second page"})
	b := pdftest.TextPages([]string{"Second document, drawn after the first"})
	r := runner()
	render(t, r, a, []int{1, 2}, sandbox.RenderOptions{Width: 512})
	after, _ := render(t, r, b, []int{1}, sandbox.RenderOptions{Width: 512})
	require.EqualValues(t, 1, r.RenderChildrenStarted())
	fresh, _ := render(t, runner(), b, []int{1}, sandbox.RenderOptions{Width: 512})
	require.Equal(t, fresh[1].Image, after[1].Image)
	r.CloseRenderers()
	render(t, r, b, []int{1}, sandbox.RenderOptions{Width: 512})
	require.EqualValues(t, 2, r.RenderChildrenStarted(), "closed children are not reused")
}

// TestRenderRefusesWhatIsNotAPDF: a document the renderer cannot open is a
// Failure, and its child is not reused.
func TestRenderRefusesWhatIsNotAPDF(t *testing.T) {
	t.Parallel()
	r := runner()
	var calls atomic.Int32
	_, err := r.Render(context.Background(), opener([]byte("%PDF-1.7 but nothing else"), &calls), []int{1},
		sandbox.RenderOptions{Width: 256, CacheDir: renderCache}, func(sandbox.RenderedPage) error { return nil })
	requireFailure(t, err, "render_failed")
	render(t, r, pdftest.TextPages([]string{"fine"}), []int{1}, sandbox.RenderOptions{Width: 256})
	require.EqualValues(t, 2, r.RenderChildrenStarted())
}

func TestRenderPageTimeout(t *testing.T) {
	t.Parallel()
	r := runner()
	r.MemoryLimit = 2 << 30
	// Ordinary pages take a tenth of a second; two million path operators
	// take minutes: a limit in between, far from both, holds on a loaded
	// machine (a hundred milliseconds did not).
	got, opens := hostile(t, r, sandbox.RenderOptions{Width: 256, PageTimeout: 5 * time.Second}, 2)
	require.Equal(t, "time_limit", got["path operators"].Code, got["path operators"].Message)
	// Each page that ran out of time cost its child; the next one goes on.
	stopped := 0
	for _, p := range got {
		if p.Code == "time_limit" {
			stopped++
		}
	}
	require.Equal(t, 1+stopped, opens)
}

// TestRenderTurnsPages: a page turned by Turns is drawn turned clockwise,
// on top of its own /Rotate, at the width asked for; other pages are not.
func TestRenderTurnsPages(t *testing.T) {
	t.Parallel()
	band := pdftest.Stream("", []byte("0 0 0 rg 0 742 612 50 re f")) // a black band along the top
	data := pdftest.Build([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 5 0 R 6 0 R] /Count 3 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
		band,
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Rotate 90 /Contents 4 0 R >>",
	}, "")
	got, _ := render(t, runner(), data, []int{1, 2, 3}, sandbox.RenderOptions{Width: 256, Turns: map[int]int{1: 90, 3: 180}})
	// Where the band is: the mean darkness of each side's outer tenth.
	sides := func(n int) (w, h int, top, right, bottom, left float64) {
		p := got[n]
		require.Empty(t, p.Code, p.Message)
		img, err := jpeg.Decode(bytes.NewReader(p.Image))
		require.NoError(t, err)
		b := img.Bounds()
		dark := func(x0, y0, x1, y1 int) float64 {
			var sum, n float64
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					r, _, _, _ := img.At(x, y).RGBA()
					sum += 1 - float64(r)/0xffff
					n++
				}
			}
			return sum / n
		}
		w, h = b.Dx(), b.Dy()
		return w, h, dark(0, 0, w, h/20), dark(w-w/20, 0, w, h), dark(0, h-h/20, w, h), dark(0, 0, w/20, h)
	}
	w, h, top, right, bottom, left := sides(1) // turned 90°: the top goes right
	require.Equal(t, 256, w)
	require.InDelta(t, 198, h, 1)
	require.Greater(t, right, 0.9, "the band is on the right")
	require.Less(t, top+bottom+left, 0.9)
	w, h, top, _, _, _ = sides(2) // not turned
	require.Equal(t, 256, w)
	require.InDelta(t, 331, h, 1)
	require.Greater(t, top, 0.9)
	w, h, _, _, _, left = sides(3) // /Rotate 90, turned 180°: 270 in all, the top goes left
	require.Equal(t, 256, w)
	require.InDelta(t, 198, h, 1)
	require.Greater(t, left, 0.9, "the band is on the left")
}
