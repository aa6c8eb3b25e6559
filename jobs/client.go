package jobs

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/jobs/jobargs"
	"github.com/foliohq/folio/storage"
)

// Deps is what Folio's workers need.
type Deps struct {
	Pool         *pgxpool.Pool
	Store        *storage.Store
	Logger       *slog.Logger
	Sandbox      *sandbox.Runner
	UploadMaxAge time.Duration
	// VersionRetention: the sweep deletes object versions noncurrent for
	// longer (0: the bucket's lifecycle rule does, or nothing).
	VersionRetention time.Duration
	ProgressInterval time.Duration
	EventRetention   time.Duration
	// Draining reports that the process is stopping (jobs cancelled then
	// are handed back, not failed).
	Draining func() bool
	// ParseMetrics, when set, time parses.
	ParseMetrics *ParseMetrics
	// Claims, when set, record the jobs this process works (for Liveness).
	Claims *Claims
	// OCR, when set, is how this process reads scanned pages: its OCR
	// queue works with OCRConcurrency workers. Nil: no OCR engine.
	OCR            *sandbox.OCRTools
	OCRSandbox     *sandbox.Runner
	OCRConcurrency int
	OCRMetrics     *OCRMetrics
	// Renderer, when set, draws page images: thumbnails in the parse,
	// other widths in render jobs (RenderConcurrency at once).
	Renderer          *PageRenderer
	RenderConcurrency int
	// Slice is how long a parse or an OCR may hold its slot while another
	// owner's job waits in its queue (fair share); 0: unbounded.
	Slice time.Duration
	// Scanner, when set, scans uploads for malware (its scan queue works
	// with ScanConcurrency workers) and checks clamd's signatures every
	// SignaturesInterval. Nil: this worker scans nothing (documents a
	// scanning API committed wait for a worker that does).
	Scanner            *Scanner
	ScanConcurrency    int
	SignaturesInterval time.Duration
}

// Workers registers every Folio worker.
func Workers(deps Deps) *river.Workers {
	workers := river.NewWorkers()
	river.AddWorker(workers, &SweepUploadsWorker{Store: deps.Store, Pool: deps.Pool, MaxAge: deps.UploadMaxAge,
		VersionRetention: deps.VersionRetention})
	river.AddWorker(workers, &PruneEventsWorker{Pool: deps.Pool, Retention: deps.EventRetention})
	river.AddWorker(workers, &ParseWorker{Pool: deps.Pool, Store: deps.Store, Sandbox: deps.Sandbox, Logger: deps.Logger,
		ProgressInterval: deps.ProgressInterval, Draining: deps.Draining, Metrics: deps.ParseMetrics, OCR: deps.OCR != nil,
		Renderer: deps.Renderer, Slice: deps.Slice})
	if deps.Renderer != nil {
		river.AddWorker(workers, &RenderWorker{Renderer: deps.Renderer, Logger: deps.Logger})
	}
	if deps.Scanner != nil {
		river.AddWorker(workers, &ScanWorker{Scanner: deps.Scanner})
		river.AddWorker(workers, &RescanWorker{Scanner: deps.Scanner})
		river.AddWorker(workers, &SignaturesWorker{Scanner: deps.Scanner})
	}
	if deps.OCR != nil {
		river.AddWorker(workers, &OCRWorker{Pool: deps.Pool, Store: deps.Store, Sandbox: deps.OCRSandbox, Tools: *deps.OCR,
			Logger: deps.Logger, ProgressInterval: deps.ProgressInterval, Draining: deps.Draining, Metrics: deps.OCRMetrics,
			Slice: deps.Slice})
	}
	return workers
}

// ClientConfig is the River configuration of a worker process running
// concurrency jobs at once.
func ClientConfig(deps Deps, concurrency int) *river.Config {
	queues := map[string]river.QueueConfig{
		river.QueueDefault: {MaxWorkers: 2},
		jobargs.QueueParse: {MaxWorkers: concurrency},
	}
	if deps.Renderer != nil {
		queues[jobargs.QueueRender] = river.QueueConfig{MaxWorkers: max(deps.RenderConcurrency, 1)}
	}
	if deps.Scanner != nil {
		queues[jobargs.QueueScan] = river.QueueConfig{MaxWorkers: max(deps.ScanConcurrency, 1)}
	}
	if deps.OCR != nil {
		queues[jobargs.QueueOCR] = river.QueueConfig{MaxWorkers: max(deps.OCRConcurrency, 1)}
	}
	periodic := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(SweepInterval),
			func() (river.JobArgs, *river.InsertOpts) { return SweepUploadsArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true, ID: "sweep_uploads"}),
		river.NewPeriodicJob(river.PeriodicInterval(PruneEventsInterval),
			func() (river.JobArgs, *river.InsertOpts) { return PruneEventsArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true, ID: "prune_events"}),
	}
	if deps.Scanner != nil {
		interval := deps.SignaturesInterval
		if interval <= 0 {
			interval = time.Minute
		}
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(interval),
			func() (river.JobArgs, *river.InsertOpts) { return SignaturesArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true, ID: "scan_signatures"}))
	}
	return &river.Config{
		Logger:       deps.Logger,
		Queues:       queues,
		Workers:      Workers(deps),
		Middleware:   middleware(deps),
		PeriodicJobs: periodic,
	}
}

// NewClient returns a River client that works jobs.
func NewClient(pool *pgxpool.Pool, deps Deps, concurrency int) (*river.Client[pgx.Tx], error) {
	deps.Pool = pool
	client, err := river.NewClient(riverpgxv5.New(pool), ClientConfig(deps, concurrency))
	if err != nil {
		return nil, fmt.Errorf("error creating River client: %w", err)
	}
	return client, nil
}

func middleware(deps Deps) []rivertype.Middleware {
	if deps.Claims == nil {
		return nil
	}
	return []rivertype.Middleware{deps.Claims}
}
