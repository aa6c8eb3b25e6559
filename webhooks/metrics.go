package webhooks

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/foliohq/folio/internal/pg"
)

// Metrics are a Deliverer's: attempts and deliveries per endpoint (the
// label is the endpoint's id: operators add endpoints, so they are few).
type Metrics struct {
	attempts *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	endings  *prometheus.CounterVec
	lag      *prometheus.HistogramVec
}

// NewMetrics registers the metrics in reg (nil: none).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "folio_webhook_attempts_total",
			Help: "Webhook attempts by endpoint and outcome: success, http_error, rate_limited (429/502/504), gone (410), timeout, connection, refused (address not allowed).",
		}, []string{"endpoint", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "folio_webhook_attempt_duration_seconds",
			Help:    "How long webhook attempts took, by endpoint.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}, []string{"endpoint"}),
		endings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "folio_webhook_deliveries_total",
			Help: "Webhook deliveries that ended, by endpoint and outcome: delivered (a 2xx), dead (the last retry failed).",
		}, []string{"endpoint", "outcome"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "folio_webhook_delivery_lag_seconds",
			Help:    "From an event's transaction to its webhook's 2xx, by endpoint (retries included).",
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 86400},
		}, []string{"endpoint"}),
	}
	if reg != nil {
		reg.MustRegister(m.attempts, m.latency, m.endings, m.lag)
	}
	return m
}

func (m *Metrics) attempt(endpoint uuid.UUID, outcome string, took time.Duration) {
	m.attempts.WithLabelValues(endpoint.String(), outcome).Inc()
	m.latency.WithLabelValues(endpoint.String()).Observe(took.Seconds())
}

func (m *Metrics) delivered(endpoint uuid.UUID, lag time.Duration) {
	m.endings.WithLabelValues(endpoint.String(), "delivered").Inc()
	m.lag.WithLabelValues(endpoint.String()).Observe(lag.Seconds())
}

func (m *Metrics) dead(endpoint uuid.UUID) {
	m.endings.WithLabelValues(endpoint.String(), "dead").Inc()
}

// Collector exports what the database says of the endpoints, at each
// scrape: undelivered deliveries and the age of the oldest per endpoint,
// dead ones, and disabled endpoints.
type Collector struct {
	DB     pg.DBTX
	Logger *slog.Logger

	pending, oldest, deadNow, disabled, up *prometheus.Desc
}

// NewCollector returns the collector; register it.
func NewCollector(db pg.DBTX, logger *slog.Logger) *Collector {
	return &Collector{DB: db, Logger: logger,
		pending: prometheus.NewDesc("folio_webhook_undelivered", "Webhook deliveries not delivered yet (pending), by endpoint.", []string{"endpoint"}, nil),
		oldest: prometheus.NewDesc("folio_webhook_oldest_undelivered_seconds",
			"Age of the oldest webhook delivery not delivered yet, by endpoint (0: none).", []string{"endpoint"}, nil),
		deadNow:  prometheus.NewDesc("folio_webhook_dead", "Dead webhook deliveries (every retry failed) still listed, by endpoint.", []string{"endpoint"}, nil),
		disabled: prometheus.NewDesc("folio_webhook_endpoints_disabled", "Webhook endpoints disabled, by reason (operator, gone, failing).", []string{"reason"}, nil),
		up:       prometheus.NewDesc("folio_webhook_metrics_up", "1 when the webhook figures above could be read from the database.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.oldest, c.deadNow, c.disabled, c.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.collect(ctx, ch)
	up := 1.0
	if err != nil {
		up = 0
		c.Logger.Warn("webhooks: reading metrics", "err", err)
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}

func (c *Collector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	rows, err := c.DB.Query(ctx, `SELECT e.id, e.disabled_at IS NOT NULL, coalesce(e.disabled_reason, ''),
			count(d.id) FILTER (WHERE d.status = 'pending'),
			coalesce(extract(epoch FROM now() - min(d.event_at) FILTER (WHERE d.status = 'pending')), 0),
			count(d.id) FILTER (WHERE d.status = 'dead')
		FROM webhook_endpoints e LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id AND d.status <> 'delivered'
		GROUP BY e.id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	disabled := map[string]float64{DisabledByOperator: 0, DisabledGone: 0, DisabledFailing: 0}
	for rows.Next() {
		var (
			id             uuid.UUID
			off            bool
			reason         string
			pending, deadN int64
			oldest         float64
		)
		if err := rows.Scan(&id, &off, &reason, &pending, &oldest, &deadN); err != nil {
			return err
		}
		if off {
			disabled[reason]++
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(pending), id.String())
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest, id.String())
		ch <- prometheus.MustNewConstMetric(c.deadNow, prometheus.GaugeValue, float64(deadN), id.String())
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for reason, n := range disabled {
		ch <- prometheus.MustNewConstMetric(c.disabled, prometheus.GaugeValue, n, reason)
	}
	return nil
}
