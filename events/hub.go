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
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/foliohq/folio/internal/pg"
)

// ApplicationName names the hub's LISTEN connection in pg_stat_activity,
// followed by ":" and the process id.
const ApplicationName = "folio-events-listen"

// SubscriptionBuffer is how many events a subscriber may fall behind.
// Past it, a run of progress events of one document in its queue becomes
// the run's last (progress is a state, not a history; see supersede); if
// that frees nothing, the subscriber is cut off (its client resumes from
// the log, where nothing is lost). State events are never dropped.
const SubscriptionBuffer = 256

// How often a hub looks for committed events to sequence (Sequence):
// every PollInterval, or every IdlePollInterval once IdleAfter passed
// without any event. The interval is the longest an event waits, after its
// commit, for a position.
const (
	PollInterval     = 10 * time.Millisecond
	IdlePollInterval = 100 * time.Millisecond
	IdleAfter        = 5 * time.Second
)

// Hub fans events out to this process's subscribers. It sequences the log
// and reads it on one connection of its own, on which it also LISTENs for
// other processes' sequencing.
type Hub struct {
	pool   *pgxpool.Pool
	logger *slog.Logger

	// read counts events read from the log (every event written, once per
	// process); sequenced, the events this process gave positions to; lag
	// times commit → hand-off to subscribers.
	read      prometheus.Counter
	sequenced prometheus.Counter
	lag       prometheus.Histogram

	mu      sync.Mutex
	owners  map[string]*ownerSubs // the subscriptions, by owner and document
	n       int                   // how many
	last    int64                 // the last pos delivered
	ready   chan struct{}
	started bool
}

// ownerSubs are one owner's subscriptions: to all its documents, and to
// one document each. An event touches only those of its owner and document.
type ownerSubs struct {
	all  map[*Subscription]struct{}
	docs map[uuid.UUID]map[*Subscription]struct{}
}

// Subscription receives the events of one owner (and one document, when
// Document is set). Its owner waits on Ready and then Takes what arrived.
type Subscription struct {
	Owner    string
	Document uuid.UUID // uuid.Nil: all the owner's documents

	hub  *Hub
	wake chan struct{} // one token: something to Take

	mu     sync.Mutex
	queue  []*Event // shared by every subscriber: read-only
	cut    bool     // fell too far behind: nothing more is queued
	closed bool
}

// NewHub returns a Hub reading with pool.
func NewHub(pool *pgxpool.Pool, logger *slog.Logger) *Hub {
	return &Hub{
		pool: pool, logger: logger, owners: map[string]*ownerSubs{}, ready: make(chan struct{}),
		read: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "folio_events_total",
			Help: "Events read from the log by this process's hub: every event written, once per API process.",
		}),
		sequenced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "folio_events_sequenced_total",
			Help: "Events this process's hub gave their log positions to (the sum over API processes is every event written).",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "folio_event_delivery_lag_seconds",
			Help:    "From an event's transaction start to its hand-off to this process's subscribers.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
	}
}

// Collectors are the hub's metrics, for its owner to register.
func (h *Hub) Collectors() []prometheus.Collector {
	return []prometheus.Collector{h.read, h.sequenced, h.lag}
}

// Ready is closed once the hub listens and knows where the log stands.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Subscribe starts delivering events to a new subscription: every event
// sequenced after this call returns is delivered (or the subscription is
// cut off).
func (h *Hub) Subscribe(owner string, document uuid.UUID) *Subscription {
	s := &Subscription{Owner: owner, Document: document, hub: h, wake: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.owners[owner]
	if o == nil {
		o = &ownerSubs{all: map[*Subscription]struct{}{}, docs: map[uuid.UUID]map[*Subscription]struct{}{}}
		h.owners[owner] = o
	}
	if document == uuid.Nil {
		o.all[s] = struct{}{}
	} else {
		d := o.docs[document]
		if d == nil {
			d = map[*Subscription]struct{}{}
			o.docs[document] = d
		}
		d[s] = struct{}{}
	}
	h.n++
	return s
}

// Close stops the subscription.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed, s.queue = true, nil
	h.n--
	o := h.owners[s.Owner]
	if s.Document == uuid.Nil {
		delete(o.all, s)
	} else if d := o.docs[s.Document]; d != nil {
		delete(d, s)
		if len(d) == 0 {
			delete(o.docs, s.Document)
		}
	}
	if len(o.all) == 0 && len(o.docs) == 0 {
		delete(h.owners, s.Owner)
	}
}

// Ready has a value when there is something to Take.
func (s *Subscription) Ready() <-chan struct{} { return s.wake }

// Take returns the events that arrived since the last call, in order, and
// whether the subscription goes on: false once it was cut off for falling
// too far behind (deliver what Take returned, then let the client resume
// from the log).
func (s *Subscription) Take() (evs []*Event, live bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs, s.queue = s.queue, nil
	return evs, !s.cut
}

// offer queues e for the subscriber (the hub's lock is held).
func (s *Subscription) offer(e *Event) {
	s.mu.Lock()
	if s.cut || s.closed {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= SubscriptionBuffer {
		s.queue, e = supersede(s.queue, e)
	}
	if len(s.queue) >= SubscriptionBuffer {
		s.cut = true // rather than slow anyone else down
	} else {
		s.queue = append(s.queue, e)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a token is there already
	}
}

// supersede drops from q each progress event that the next event of its
// document (later in q, or next) replaces: another progress event. A run
// of progress events with nothing else of the document between them
// becomes its last, marked Coalesced (a copy: the shared one stays as it
// is), so that a client checking the document's seq for gaps knows why it
// jumped. Every other event stays, in order.
func supersede(q []*Event, next *Event) ([]*Event, *Event) {
	laterAt := map[uuid.UUID]int{next.DocumentID: len(q)} // each document's next event after i
	typeAt := func(j int) string {
		if j == len(q) {
			return next.Type
		}
		return q[j].Type
	}
	drop := make([]bool, len(q))
	mark := map[int]bool{}
	for i := len(q) - 1; i >= 0; i-- {
		e := q[i]
		if j, ok := laterAt[e.DocumentID]; ok && e.Type == ParseProgress && typeAt(j) == ParseProgress {
			drop[i], mark[j] = true, true
			continue // j stays the document's next event for earlier ones
		}
		laterAt[e.DocumentID] = i
	}
	out := q[:0]
	for i, e := range q {
		if drop[i] {
			continue
		}
		if mark[i] {
			e = e.coalesced()
		}
		out = append(out, e)
	}
	clear(q[len(out):])
	if mark[len(q)] {
		next = next.coalesced()
	}
	return out, next
}

// Subscribers counts the current subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
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
	read := true // after connecting: catch up with what happened while away
	lastEvent := time.Now()
	for {
		n, err := Sequence(ctx, conn)
		if err != nil {
			return true, err
		}
		h.sequenced.Add(float64(n))
		if read || n > 0 {
			if err := h.catchUp(ctx, conn); err != nil {
				return true, err
			}
			lastEvent = time.Now()
		}
		interval := PollInterval
		if time.Since(lastEvent) > IdleAfter {
			interval = IdlePollInterval
		}
		// Then wait for another process's batch, or the next poll.
		wait, cancel := context.WithTimeout(ctx, interval)
		_, err = conn.WaitForNotification(wait)
		cancel()
		switch {
		case err == nil:
			read = true
		case ctx.Err() == nil && pgconn.Timeout(err):
			read = false
		default:
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
		o := h.owners[e.Owner]
		if o == nil {
			continue
		}
		for s := range o.all {
			s.offer(e)
		}
		for s := range o.docs[e.DocumentID] {
			s.offer(e)
		}
	}
}
