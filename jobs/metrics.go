package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/foliohq/folio/jobs/jobargs"
)

// queueMetricsLock is the advisory lock whose holder exports the queue
// gauges: one worker of a deployment at a time, so that N workers do not
// report the same depth N times (sum by queue is the depth).
const queueMetricsLock = "folio.queue-metrics"

// QueueMetrics exports each queue's jobs by state and the age of its
// oldest available job, from whichever worker holds the exporter's lock;
// the others export nothing (and take over within a few seconds when the
// holder goes). What an autoscaler scales workers on.
type QueueMetrics struct {
	pool     *pgxpool.Pool
	logger   *slog.Logger
	interval time.Duration
	jobs     *prometheus.GaugeVec
	oldest   *prometheus.GaugeVec
	leader   prometheus.Gauge
}

// NewQueueMetrics returns the exporter, its metrics registered on reg. It
// reads every interval while it leads.
func NewQueueMetrics(pool *pgxpool.Pool, logger *slog.Logger, reg prometheus.Registerer, interval time.Duration) *QueueMetrics {
	m := &QueueMetrics{
		pool: pool, logger: logger, interval: interval,
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "folio_queue_jobs",
			Help: "Jobs not finished, by queue and state (available, running, retryable, scheduled). Exported by one worker at a time (folio_queue_metrics_leader).",
		}, []string{"queue", "state"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "folio_queue_oldest_available_seconds",
			Help: "How long the queue's oldest available job has waited since it could run (0: none waits).",
		}, []string{"queue"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "folio_queue_metrics_leader",
			Help: "1 on the worker that exports the queue gauges, 0 elsewhere.",
		}),
	}
	reg.MustRegister(m.jobs, m.oldest, m.leader)
	return m
}

// Run exports until ctx ends; its owner runs it with startstop.
func (m *QueueMetrics) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := m.lead(ctx); err != nil && ctx.Err() == nil {
			m.logger.Warn("queue metrics", "err", err)
		}
		m.leader.Set(0)
		m.jobs.Reset()
		m.oldest.Reset()
		select {
		case <-ctx.Done():
		case <-time.After(3 * m.interval):
		}
	}
	return ctx.Err()
}

// lead takes the exporter's lock if it is free and exports while it holds
// it; it returns when the lock is someone else's, or on an error.
func (m *QueueMetrics) lead(ctx context.Context) error {
	// A connection of its own, outside the pool: a session lock is the
	// connection's, and holding a pooled one would take it from the jobs.
	conn, err := pgx.ConnectConfig(ctx, m.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // closing also frees the lock
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, queueMetricsLock).Scan(&got); err != nil {
		return fmt.Errorf("error taking the queue metrics lock: %w", err)
	}
	if !got {
		return nil
	}
	m.leader.Set(1)
	ticker := time.NewTicker(m.interval)
	defer ticker.Stop()
	for {
		stats, err := QueueStats(ctx, conn)
		if err != nil {
			return err
		}
		m.jobs.Reset()
		m.oldest.Reset()
		for _, s := range stats {
			m.jobs.WithLabelValues(s.Queue, "available").Set(float64(s.Available))
			m.jobs.WithLabelValues(s.Queue, "running").Set(float64(s.Running))
			m.jobs.WithLabelValues(s.Queue, "retryable").Set(float64(s.Retryable))
			m.jobs.WithLabelValues(s.Queue, "scheduled").Set(float64(s.Scheduled))
			m.oldest.WithLabelValues(s.Queue).Set(s.OldestAvailable.Seconds())
		}
		// Every queue River knows shows, at zero when it is empty: a
		// scaler must see the backlog fall to nothing.
		for _, q := range []string{river.QueueDefault, jobargs.QueueParse} {
			for _, st := range []string{"available", "running", "retryable", "scheduled"} {
				m.jobs.WithLabelValues(q, st).Add(0)
			}
			m.oldest.WithLabelValues(q).Add(0)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// ParseMetrics time the parses a worker runs.
type ParseMetrics struct {
	duration *prometheus.HistogramVec
	rate     prometheus.Histogram
}

// NewParseMetrics returns parse metrics registered on reg.
func NewParseMetrics(reg prometheus.Registerer) *ParseMetrics {
	m := &ParseMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "folio_parse_duration_seconds",
			Help:    "Time one parse attempt took, by outcome (done, failed, retry, handed_back).",
			Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 12),
		}, []string{"outcome"}),
		rate: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "folio_parse_pages_per_second",
			Help:    "Pages per second of parses that ended done.",
			Buckets: prometheus.ExponentialBuckets(10, 2, 10),
		}),
	}
	reg.MustRegister(m.duration, m.rate)
	return m
}

func (m *ParseMetrics) observe(outcome string, took time.Duration, pages int) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(outcome).Observe(took.Seconds())
	if outcome == "done" && took > 0 && pages > 0 {
		m.rate.Observe(float64(pages) / took.Seconds())
	}
}

// OCRMetrics count and time the pages a worker reads by OCR.
type OCRMetrics struct {
	pages    *prometheus.CounterVec
	duration prometheus.Histogram
}

// NewOCRMetrics returns OCR metrics registered on reg.
func NewOCRMetrics(reg prometheus.Registerer) *OCRMetrics {
	m := &OCRMetrics{
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "folio_ocr_pages_total",
			Help: "Scanned pages OCR read, or could not read (outcome: read, failed).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "folio_ocr_page_seconds",
			Help:    "Time to render and read one scanned page, as the OCR job saw it.",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 10),
		}),
	}
	for _, o := range []string{"read", "failed"} {
		m.pages.WithLabelValues(o)
	}
	reg.MustRegister(m.pages, m.duration)
	return m
}

func (m *OCRMetrics) observe(failed bool, took time.Duration) {
	if m == nil {
		return
	}
	outcome := "read"
	if failed {
		outcome = "failed"
	}
	m.pages.WithLabelValues(outcome).Inc()
	m.duration.Observe(took.Seconds())
}
