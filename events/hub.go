package events

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/foliohq/folio/internal/pg"
)

// ApplicationName names the hub's LISTEN connection in pg_stat_activity,
// followed by ":" and the process id.
const ApplicationName = "folio-events-listen"

// SubscriptionBuffer is how many events a subscriber may fall behind
// before it is dropped (its client resumes from where it was).
const SubscriptionBuffer = 256

// Hub fans events out to this process's subscribers from one LISTEN
// connection.
type Hub struct {
	pool   *pgxpool.Pool
	logger *slog.Logger

	// read counts events read from the log (every event written, once per
	// process); lag times commit → hand-off to subscribers.
	read prometheus.Counter
	lag  prometheus.Histogram

	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	last    int64 // the last pos delivered
	ready   chan struct{}
	started bool
}

// Subscription receives the events of one owner (and one document, when
// Document is set). C is closed when the subscriber fell too far behind.
type Subscription struct {
	Owner    string
	Document uuid.UUID // uuid.Nil: all the owner's documents
	// C carries events shared by every subscriber: read-only. Pointers keep
	// an idle subscription small (its buffer is 2 KiB, not 30).
	C chan *Event

	hub    *Hub
	closed bool
}

// NewHub returns a Hub reading with pool.
func NewHub(pool *pgxpool.Pool, logger *slog.Logger) *Hub {
	return &Hub{
		pool: pool, logger: logger, subs: map[*Subscription]struct{}{}, ready: make(chan struct{}),
		read: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "folio_events_total",
			Help: "Events read from the log by this process's hub: every event written, once per API process.",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "folio_event_delivery_lag_seconds",
			Help:    "From an event's transaction start to its hand-off to this process's subscribers.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
	}
}

// Collectors are the hub's metrics, for its owner to register.
func (h *Hub) Collectors() []prometheus.Collector { return []prometheus.Collector{h.read, h.lag} }

// Ready is closed once the hub listens and knows where the log stands.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Subscribe starts delivering events to a new subscription: every event
// committed after this call returns is delivered (or C is closed).
func (h *Hub) Subscribe(owner string, document uuid.UUID) *Subscription {
	s := &Subscription{Owner: owner, Document: document, C: make(chan *Event, SubscriptionBuffer), hub: h}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Close stops the subscription.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
	if !s.closed {
		s.closed = true
		close(s.C)
	}
}

// Subscribers counts the current subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Run listens until ctx ends, reconnecting (and catching up from the last
// delivered pos, so nothing is skipped) whenever the connection drops. Its
// owner runs it with startstop, on a context that outlives the streams it
// feeds: it returns (the context's error) only when that context ends.
func (h *Hub) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		connected, err := h.listen(ctx)
		if ctx.Err() != nil {
			return ctx.Err() // stopped: err is only the context's end
		}
		if connected {
			backoff = 100 * time.Millisecond
		}
		h.logger.Warn("events: listen connection lost; reconnecting", "err", err, "after", backoff.String())
		select {
		case <-ctx.Done():
		case <-time.After(backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))): // equal jitter
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	return ctx.Err()
}

// listen serves one connection until it fails; connected reports whether
// it got as far as listening.
func (h *Hub) listen(ctx context.Context) (connected bool, err error) {
	cfg := h.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = fmt.Sprintf("%s:%d", ApplicationName, os.Getpid())
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return false, err
	}
	h.mu.Lock()
	if !h.started {
		// A new hub starts at the head: subscribers replay older events
		// from the log themselves.
		head, err := Head(ctx, conn)
		if err != nil {
			h.mu.Unlock()
			return false, err
		}
		h.last, h.started = head, true
		close(h.ready)
	}
	h.mu.Unlock()
	for {
		// Catch up first (after connecting: what happened while we were
		// away), then wait for the next announcement.
		if err := h.catchUp(ctx, conn); err != nil {
			return true, err
		}
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, err
		}
	}
}

// catchUp delivers every event past the last delivered pos.
func (h *Hub) catchUp(ctx context.Context, db pg.DBTX) error {
	for {
		h.mu.Lock()
		last := h.last
		h.mu.Unlock()
		evs, err := After(ctx, db, last, 1000)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		h.deliver(evs)
	}
}

func (h *Hub) deliver(evs []Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	for i := range evs {
		e := &evs[i]
		if e.Pos <= h.last {
			continue
		}
		h.last = e.Pos
		h.read.Inc()
		h.lag.Observe(max(now.Sub(e.CreatedAt), 0).Seconds())
		for s := range h.subs {
			if s.Owner != e.Owner || (s.Document != uuid.Nil && s.Document != e.DocumentID) {
				continue
			}
			select {
			case s.C <- e:
			default:
				// Too slow: drop it rather than slow anyone else down.
				delete(h.subs, s)
				s.closed = true
				close(s.C)
			}
		}
	}
}
