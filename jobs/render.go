package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/internal/tracing"
	"github.com/foliohq/folio/jobs/jobargs"
	"github.com/foliohq/folio/storage"
)

// PageRenderer draws page images in sandboxed children and keeps them: the
// JPEG in S3 under the document's derived prefix, the row (or the page's
// reason) in Postgres.
type PageRenderer struct {
	Pool    *pgxpool.Pool
	Store   *storage.Store
	Sandbox *sandbox.Runner // Timeout bounds one document's pages
	// Options are the render settings; Width is set per call.
	Options sandbox.RenderOptions
	Metrics *RenderMetrics
}

// render draws pages of doc at width and stores each, calling saved after
// each one (image or reason). Pages the renderer cannot reach because it
// cannot open the document at all get that reason each.
func (r *PageRenderer) render(ctx context.Context, doc *documents.Document, pages []int, width, nice int, saved func(documents.PageImage) error) (sandbox.Stats, error) {
	ctx, span := tracing.Start(ctx, "render", attribute.String("folio.document.id", doc.ID.String()),
		attribute.Int("folio.pages", len(pages)), attribute.Int("folio.render.width", width))
	var err error
	defer tracing.End(span, &err)
	opt := r.Options
	opt.Width, opt.Nice = width, nice
	// Pages OCR read turned (scans fed sideways) are drawn upright.
	if opt.Turns, err = documents.PageTurns(ctx, r.Pool, doc.ID); err != nil {
		return sandbox.Stats{}, err
	}
	open := func(ctx context.Context) (io.ReadCloser, error) { return r.Store.Get(ctx, doc.S3Key) }
	done := make(map[int]bool, len(pages))
	keep := func(p sandbox.RenderedPage) error {
		img := documents.PageImage{DocumentID: doc.ID, Page: p.Number, Width: width, Renderer: sandbox.Renderer, Turn: opt.Turns[p.Number]}
		if p.Code != "" {
			img.Failure = &documents.Failure{Code: p.Code, Message: p.Message}
		} else {
			img.S3Key = documents.ImageKey(doc.Owner, doc.ID, sandbox.Renderer, p.Number, width, img.Turn)
			img.Height, img.SizeBytes = p.Height, len(p.Image)
			if _, err := r.Store.Put(ctx, img.S3Key, bytes.NewReader(p.Image), storage.PutOptions{ContentType: "image/jpeg"}); err != nil {
				return err
			}
		}
		replaced, err := documents.SaveImage(ctx, r.Pool, img)
		if err != nil {
			return err
		}
		if replaced != "" { // another renderer's image of the page
			if err := r.Store.Delete(ctx, replaced); err != nil {
				return err
			}
		}
		done[p.Number] = true
		r.Metrics.observe(img)
		return saved(img)
	}
	started := time.Now()
	stats, err := r.Sandbox.Render(ctx, open, pages, opt, keep)
	r.Metrics.child(stats, time.Since(started))
	var f *sandbox.Failure
	if errors.As(err, &f) {
		err = nil
		for _, n := range pages {
			if !done[n] {
				if err = keep(sandbox.RenderedPage{Number: n, Code: f.Code, Message: f.Message}); err != nil {
					break
				}
			}
		}
	}
	return stats, err
}

// thumbnails is the parse's rendering stage: every page of generation gen
// that has no thumbnail by this renderer yet gets one (or its reason),
// with progress as they come. sl, when its slice is over, cuts the
// rendering where it is (ErrYield): the next run draws only what is
// missing; a page that alone held the whole slice (fullSlice) while
// others waited gets time_limit instead of holding every slice after.
func (r *PageRenderer) thumbnails(ctx context.Context, doc *documents.Document, gen int64, pageCount int, interval time.Duration,
	sl *slice, fullSlice time.Duration, nice int) (int, error) {
	have, err := documents.RenderedPages(ctx, r.Pool, doc.ID, jobargs.ThumbnailWidth, sandbox.Renderer)
	if err != nil {
		return 0, err
	}
	var todo []int
	for n := 1; n <= pageCount; n++ {
		if !have[n] {
			todo = append(todo, n)
		}
	}
	rendered := pageCount - len(todo)
	if err := documents.SetPagesRendered(ctx, r.Pool, doc.ID, gen, rendered, pageCount, true); err != nil {
		return 0, err
	}
	last, lastPage := time.Now(), time.Now()
	drawn := 0
	_, err = r.render(sl.ctx, doc, todo, jobargs.ThumbnailWidth, nice, func(documents.PageImage) error {
		rendered++
		drawn++
		lastPage = time.Now()
		if time.Since(last) < interval && rendered < pageCount {
			return nil // the count and its event go out at most every interval
		}
		last = time.Now()
		return documents.SetPagesRendered(ctx, r.Pool, doc.ID, gen, rendered, pageCount, true)
	})
	if drawn == len(todo) && (err == nil || errors.Is(err, ErrYield)) {
		return drawn, nil // every page drawn, whatever the slice says
	}
	if sl.Over() && ctx.Err() == nil {
		if drawn < len(todo) && time.Since(lastPage) >= fullSlice {
			msg := fmt.Sprintf("Drawing the page took longer than a slice (%s) while other owners' work waited.", fullSlice)
			if err := r.fail(ctx, doc, todo[drawn], jobargs.ThumbnailWidth, "time_limit", msg); err != nil {
				return drawn, err
			}
			rendered++
			drawn++
		}
		if err := documents.SetPagesRendered(ctx, r.Pool, doc.ID, gen, rendered, pageCount, true); err != nil {
			return drawn, err
		}
		return drawn, ErrYield
	}
	return drawn, err
}

// fail records that a page has no image at width, and why.
func (r *PageRenderer) fail(ctx context.Context, doc *documents.Document, page, width int, code, message string) error {
	img := documents.PageImage{DocumentID: doc.ID, Page: page, Width: width, Renderer: sandbox.Renderer,
		Failure: &documents.Failure{Code: code, Message: message}}
	if _, err := documents.SaveImage(ctx, r.Pool, img); err != nil {
		return err
	}
	r.Metrics.observe(img)
	return nil
}

// RenderWorker draws one page image on demand (a width the parse does not
// make, or a thumbnail asked for before the parse got to it).
type RenderWorker struct {
	river.WorkerDefaults[jobargs.RenderArgs]
	Renderer *PageRenderer
	Logger   *slog.Logger
}

// Timeout gives a render the sandbox's time plus room for S3 and Postgres.
func (w *RenderWorker) Timeout(*river.Job[jobargs.RenderArgs]) time.Duration {
	return w.Renderer.Sandbox.Timeout + time.Minute
}

// Work renders the page unless the image (or its reason) exists already.
func (w *RenderWorker) Work(ctx context.Context, job *river.Job[jobargs.RenderArgs]) error {
	a := job.Args
	log := w.Logger.With("document_id", a.DocumentID, "page", a.Page, "width", a.Width, "job_id", job.ID)
	if !validWidth(a.Width) || a.Page < 1 {
		return river.JobCancel(fmt.Errorf("no such image: page %d, width %d", a.Page, a.Width))
	}
	doc, err := documents.Original(ctx, w.Renderer.Pool, a.DocumentID)
	if errors.Is(err, documents.ErrNotFound) {
		log.Info("render: document is gone; nothing to do")
		return nil
	}
	if err != nil {
		return err
	}
	have, err := documents.RenderedPages(ctx, w.Renderer.Pool, a.DocumentID, a.Width, sandbox.Renderer)
	if err != nil {
		return err
	}
	if have[a.Page] {
		return nil // an earlier job or the parse drew it
	}
	started := time.Now()
	var img documents.PageImage
	stats, err := w.Renderer.render(ctx, doc, []int{a.Page}, a.Width, ownerNice(ctx, w.Renderer.Pool, a.Owner), func(i documents.PageImage) error { img = i; return nil })
	if err != nil {
		return err
	}
	log.Info("render: page rendered on demand", "duration", time.Since(started).String(), "bytes", img.SizeBytes,
		"failure", img.Failure, "child_peak_rss_mib", stats.PeakRSS>>20)
	return nil
}

func validWidth(w int) bool {
	for _, v := range jobargs.RenderWidths {
		if v == w {
			return true
		}
	}
	return false
}

// RenderMetrics count page images by outcome and time the children.
type RenderMetrics struct {
	pages   *prometheus.CounterVec
	seconds prometheus.Histogram
	peakRSS prometheus.Histogram
}

// NewRenderMetrics registers the render metrics on reg.
func NewRenderMetrics(reg prometheus.Registerer) *RenderMetrics {
	m := &RenderMetrics{
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "folio_render_pages_total",
			Help: "Page images rendered, by width and outcome (rendered, or the page's reason: page_too_large, render_failed, time_limit, memory_limit, no_such_page).",
		}, []string{"width", "outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "folio_render_seconds",
			Help:    "Wall time of one render call (all its children): a parse's thumbnails, or one on-demand image.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
		}),
		peakRSS: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "folio_render_child_peak_rss_bytes",
			Help:    "Peak resident set of the render children of one render call.",
			Buckets: prometheus.ExponentialBuckets(16<<20, 2, 8),
		}),
	}
	reg.MustRegister(m.pages, m.seconds, m.peakRSS)
	m.pages.WithLabelValues(fmt.Sprint(jobargs.ThumbnailWidth), "rendered") // exported before the first page
	return m
}

func (m *RenderMetrics) observe(img documents.PageImage) {
	if m == nil {
		return
	}
	outcome := "rendered"
	if img.Failure != nil {
		outcome = img.Failure.Code
	}
	m.pages.WithLabelValues(fmt.Sprint(img.Width), outcome).Inc()
}

func (m *RenderMetrics) child(s sandbox.Stats, d time.Duration) {
	if m == nil {
		return
	}
	m.seconds.Observe(d.Seconds())
	if s.PeakRSS > 0 {
		m.peakRSS.Observe(float64(s.PeakRSS))
	}
}
