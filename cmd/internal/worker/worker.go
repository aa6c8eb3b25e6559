// Package worker runs a worker process: Folio's River client working jobs,
// the liveness heartbeat, and the health listener, until its context ends;
// then it drains. Apart from package app so that the API binary does not
// link the parser and the sandbox.
package worker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/foliohq/folio/backup"
	"github.com/foliohq/folio/cmd/internal/app"
	"github.com/foliohq/folio/internal/clamd"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/internal/startstop"
	"github.com/foliohq/folio/internal/tesseract"
	"github.com/foliohq/folio/jobs"
	"github.com/foliohq/folio/webhooks"
)

// Run works River jobs until ctx ends, serving /healthz, /readyz and
// /metrics on healthLn meanwhile. On shutdown River stops fetching, running
// jobs get Config.DrainTimeout to finish, and the rest are cancelled and
// handed back.
func Run(ctx context.Context, a *app.App, healthLn net.Listener) error {
	cfg := a.Config
	claims := jobs.NewClaims()
	ocr := findOCR(a)
	scanner, err := malwareScanner(ctx, a)
	if err != nil {
		return err
	}
	render := renderer(ctx, a)
	if render != nil {
		defer render.Sandbox.CloseRenderers()
	}
	client, err := jobs.NewClient(a.Pool, jobs.Deps{
		Store:  a.Store,
		Logger: a.Logger,
		Sandbox: &sandbox.Runner{
			MemoryLimit: cfg.ParseMemoryLimit,
			Timeout:     cfg.ParseTimeout,
			MaxPages:    cfg.MaxPages,
			Logger:      a.Logger,
		},
		Draining:         a.Health.Draining,
		ParseMetrics:     jobs.NewParseMetrics(a.Metrics.Registry),
		Claims:           claims,
		UploadMaxAge:     cfg.UploadMaxAge,
		VersionRetention: cfg.S3VersionRetention,
		ProgressInterval: cfg.ProgressInterval,
		EventRetention:   cfg.EventRetention,
		OCR:              ocr,
		OCRSandbox: &sandbox.Runner{
			MemoryLimit: cfg.ParseMemoryLimit,
			Timeout:     cfg.OCRTimeout,
			Logger:      a.Logger,
		},
		OCRConcurrency:     cfg.OCRConcurrency,
		OCRMetrics:         jobs.NewOCRMetrics(a.Metrics.Registry),
		Renderer:           render,
		RenderConcurrency:  cfg.RenderConcurrency,
		Slice:              cfg.FairSlice,
		Scanner:            scanner,
		ScanConcurrency:    cfg.ScanConcurrency,
		SignaturesInterval: cfg.SignaturesInterval,
	}, cfg.WorkerConcurrency)
	if err != nil {
		return err
	}
	// Backup freshness: what the database says of its WAL archive and the
	// base backups recorded (folio backup record).
	a.Metrics.Registry.MustRegister(backup.NewFreshnessCollector(a.Pool, a.Logger))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.Health.Healthz)
	mux.HandleFunc("GET /readyz", a.Health.Readyz)
	mux.Handle("GET /metrics", a.Metrics.Handler())
	srv := &http.Server{Handler: a.Metrics.Instrument(mux), ReadHeaderTimeout: 10 * time.Second}
	// Every background service here runs on a context that outlives the
	// signal (the drain below needs them) and is stopped by this function.
	health := startstop.Start(context.WithoutCancel(ctx), "health server", func(ctx context.Context) error {
		return app.Serve(ctx, srv, healthLn, 5*time.Second, nil)
	})
	defer func() { _ = health.Stop() }()

	// River derives the jobs' contexts from Start's: the signal must not
	// cancel running jobs; Stop and StopAndCancel below decide their fate.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("error starting River client: %w", err)
	}
	a.Logger.Info("worker started", "concurrency", a.Config.WorkerConcurrency, "health_addr", healthLn.Addr().String(), "client_id", client.ID())
	// Heartbeats (and rescuing dead workers' jobs) go on while draining.
	liveness := startstop.Start(context.WithoutCancel(ctx), "liveness",
		(&jobs.Liveness{Pool: a.Pool, ClientID: client.ID(), Logger: a.Logger, Claims: claims}).Run)
	defer func() { _ = liveness.Stop() }()
	// One worker of the deployment exports the queues' depth at a time.
	queueMetrics := startstop.Start(context.WithoutCancel(ctx), "queue metrics",
		jobs.NewQueueMetrics(a.Pool, a.Logger, a.Metrics.Registry, cfg.QueueMetricsInterval).Run)
	defer func() { _ = queueMetrics.Stop() }()
	// Webhooks: the log's events to the endpoints, and their deliveries.
	// Stopped first on a drain: attempts in flight finish (each at most
	// FOLIO_WEBHOOK_TIMEOUT); what is not sent stays for the next worker.
	deliverer := startstop.Start(context.WithoutCancel(ctx), "webhooks", NewDeliverer(a).Run)
	defer func() { _ = deliverer.Stop() }()

	<-ctx.Done()
	_ = deliverer.Stop()
	// Drain: not ready at once; River stops fetching; running jobs get
	// FOLIO_DRAIN_TIMEOUT, then their contexts are cancelled: parse
	// children are killed and the jobs go straight back to the queue
	// (parse.requeued, draining), to resume where they stopped.
	a.Health.Drain()
	began := time.Now()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.Config.DrainTimeout)
	defer cancel()
	if err := client.Stop(stopCtx); err != nil {
		a.Logger.Warn("jobs did not finish in time; handing them back to the queue", "drain_timeout", a.Config.DrainTimeout.String())
		hardCtx, hardCancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer hardCancel()
		if err := client.StopAndCancel(hardCtx); err != nil {
			return fmt.Errorf("error stopping River client: %w", err)
		}
	}
	a.Logger.Info("worker drained", "took", time.Since(began).Round(time.Millisecond).String())
	return health.Stop()
}

// NewDeliverer returns the worker's webhook deliverer, its metrics
// registered.
func NewDeliverer(a *app.App) *webhooks.Deliverer {
	cfg := a.Config
	a.Metrics.Registry.MustRegister(webhooks.NewCollector(a.Pool, a.Logger))
	return &webhooks.Deliverer{
		Pool: a.Pool, Logger: a.Logger, Metrics: webhooks.NewMetrics(a.Metrics.Registry),
		Guard: &webhooks.Guard{Allow: cfg.WebhookAllowNets},
		Options: webhooks.Options{
			Schedule: cfg.WebhookRetries, Timeout: cfg.WebhookTimeout, Concurrency: cfg.WebhookConcurrency,
			DisableAfter: cfg.WebhookDisableAfter, Retention: cfg.WebhookRetention, LinkBase: cfg.PublicURL,
		},
	}
}

// malwareScanner returns the scanner when FOLIO_SCAN=clamd. A clamd that
// does not answer yet is no reason not to start: scans wait for it.
func malwareScanner(ctx context.Context, a *app.App) (*jobs.Scanner, error) {
	cfg := a.Config
	if cfg.Scan != "clamd" {
		a.Logger.Info("scan: off (FOLIO_SCAN=off): this worker scans nothing; an API with FOLIO_SCAN=clamd leaves documents scanning for a worker that does")
		return nil, nil
	}
	if err := cfg.RequireScanner(); err != nil {
		return nil, err
	}
	client, err := clamd.Parse(cfg.ClamdAddress)
	if err != nil {
		return nil, err
	}
	s := &jobs.Scanner{
		Pool: a.Pool, Store: a.Store, Clamd: client, Logger: a.Logger,
		MaxBytes: cfg.ScanMaxBytes, PassTooLarge: cfg.ScanTooLarge == "pass",
		Timeout: cfg.ScanTimeout, Retry: cfg.ScanRetry, RescanMaxAge: cfg.RescanMaxAge,
		Metrics: jobs.NewScanMetrics(a.Metrics.Registry),
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := client.Version(pctx)
	s.Metrics.Reached(err)
	if err != nil {
		a.Logger.Warn("scan: clamd does not answer yet; uploads wait in scanning until it does", "clamd", client.String(), "err", err)
	} else {
		a.Logger.Info("scan: on", "clamd", client.String(), "engine", v.Engine, "signatures", v.Signatures,
			"max_bytes", cfg.ScanMaxBytes, "too_large", cfg.ScanTooLarge, "concurrency", cfg.ScanConcurrency)
	}
	return s, nil
}

// renderer returns the page renderer unless FOLIO_RENDER is off, with its
// compiled module warmed into the cache directory.
func renderer(ctx context.Context, a *app.App) *jobs.PageRenderer {
	cfg := a.Config
	if cfg.Render == "off" {
		a.Logger.Info("render: off (FOLIO_RENDER=off): pages get no images")
		return nil
	}
	r := &jobs.PageRenderer{
		Pool:  a.Pool,
		Store: a.Store,
		Sandbox: &sandbox.Runner{
			MemoryLimit: cfg.ParseMemoryLimit,
			Timeout:     cfg.RenderTimeout,
			Logger:      a.Logger,
		},
		Options: sandbox.RenderOptions{PageTimeout: cfg.RenderPageTimeout, CacheDir: cfg.RenderCacheDir},
		Metrics: jobs.NewRenderMetrics(a.Metrics.Registry),
	}
	if r.Options.CacheDir == "" {
		r.Options.CacheDir = sandbox.DefaultRenderCacheDir()
	}
	took, err := r.Sandbox.WarmRenderer(ctx, r.Options.CacheDir)
	if err != nil {
		// Each child compiles the module itself then: slower, not broken.
		a.Logger.Warn("render: warming the renderer's cache failed", "cache_dir", r.Options.CacheDir, "err", err)
	} else {
		a.Logger.Info("render: on", "renderer", sandbox.Renderer, "cache_dir", r.Options.CacheDir, "warm_up", took.Round(time.Millisecond).String())
	}
	return r
}

// findOCR returns the OCR tools when FOLIO_OCR allows and they are
// installed; otherwise it says once, at start-up, why scanned pages will
// stay without text (marked needs_ocr).
func findOCR(a *app.App) *sandbox.OCRTools {
	if a.Config.OCR == "off" {
		a.Logger.Info("ocr: off (FOLIO_OCR=off): scanned pages are marked needs_ocr")
		return nil
	}
	tools, err := sandbox.FindOCRTools(a.Config.OCRLanguages)
	if err != nil {
		a.Logger.Warn("ocr: unavailable, scanned pages are marked needs_ocr", "reason", err.Error())
		return nil
	}
	tools.PageTimeout = a.Config.OCRPageTimeout
	tools.CacheDir = a.Config.RenderCacheDir
	tools.RotateConfidence = a.Config.OCRRotateConfidence
	if !tools.OSD && tools.RotateConfidence > 0 {
		a.Logger.Warn("ocr: tesseract has no orientation data (Debian: tesseract-ocr-osd): pages fed sideways or upside down are read as they come")
	}
	for _, l := range a.Config.OCRAvailableLanguages {
		if _, ok := tesseract.Missing(l, tools.Installed); !ok {
			a.Logger.Warn("ocr: FOLIO_OCR_AVAILABLE_LANGUAGES names a language this worker has no data for: its documents' scanned pages fail with ocr_language_unavailable",
				"language", l, "package", tesseract.Package(l))
		}
	}
	a.Logger.Info("ocr: on", "tesseract", tools.Tesseract, "renderer", sandbox.Renderer, "languages", tools.Languages,
		"installed", strings.Join(tools.Installed, " "), "orientation", tools.OSD && tools.RotateConfidence > 0,
		"concurrency", a.Config.OCRConcurrency)
	return &tools
}
