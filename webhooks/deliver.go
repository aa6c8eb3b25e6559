package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foliohq/folio/events"
)

// Schedule is Standard Webhooks' retry schedule: the delay before each
// attempt after a failed one (the first attempt is immediate). After the
// last, a delivery is dead.
var Schedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}

// Options are a Deliverer's settings.
type Options struct {
	// Schedule replaces the default retry schedule (FOLIO_WEBHOOK_RETRIES).
	Schedule []time.Duration
	// Timeout bounds one attempt, connection to last byte (15 s).
	Timeout time.Duration
	// Concurrency bounds one endpoint's attempts in flight on this
	// process (FOLIO_WEBHOOK_CONCURRENCY).
	Concurrency int
	// DisableAfter disables an endpoint every attempt to which has failed
	// for this long (FOLIO_WEBHOOK_DISABLE_AFTER).
	DisableAfter time.Duration
	// Retention: delivered and dead deliveries older are deleted
	// (FOLIO_WEBHOOK_RETENTION).
	Retention time.Duration
	// LinkBase starts the links of messages (FOLIO_PUBLIC_URL).
	LinkBase string
	// Poll is how often the log and the due deliveries are looked at when
	// nothing wakes the loop sooner.
	Poll time.Duration
}

// Deliverer hands the log's events to the endpoints (Fanout) and sends
// the deliveries that are due: each endpoint has its own attempts in
// flight, so a slow or dead one delays only itself. Any number of
// processes may run one: a delivery is leased by one at a time (for
// Timeout and 5 s more: a process that dies mid-attempt leaves it to the
// others once the lease ends).
type Deliverer struct {
	Pool    events.Beginner
	Guard   *Guard
	Logger  *slog.Logger
	Metrics *Metrics
	Options Options
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time

	client   *http.Client
	mu       sync.Mutex
	inFlight map[uuid.UUID]int
	wake     chan struct{}
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Deliverer) init() {
	o := &d.Options
	if len(o.Schedule) == 0 {
		o.Schedule = Schedule
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(nil)
	}
	d.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // never through a proxy: the guard checks what is dialled
			DialContext:           d.Guard.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   o.Concurrency,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   o.Timeout,
			ResponseHeaderTimeout: o.Timeout,
		},
		Timeout: o.Timeout,
		// Standard Webhooks: redirects are not followed (a 3xx fails).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	d.inFlight = map[uuid.UUID]int{}
	d.wake = make(chan struct{}, 1)
}

// lease is how long a claimed delivery is this process's.
func (d *Deliverer) lease() time.Duration { return d.Options.Timeout + 5*time.Second }

// Run delivers until ctx ends; then it waits for the attempts in flight
// (each bounded by Timeout) and returns.
func (d *Deliverer) Run(ctx context.Context) error {
	d.init()
	var wg sync.WaitGroup
	defer wg.Wait()
	// Attempts outlive ctx (a drain lets them finish); at most Timeout.
	sendCtx := context.WithoutCancel(ctx)
	tick := time.NewTicker(d.Options.Poll)
	defer tick.Stop()
	var lastHead int64 = -1
	var lastFanout time.Time
	lastPrune := time.Time{}
	for {
		// Events get their positions from whichever process sequences
		// first (the API's hubs, or this): webhooks do not wait for an API.
		if _, err := events.Sequence(ctx, d.Pool); err != nil && ctx.Err() == nil {
			d.Logger.Warn("webhooks: sequencing events", "err", err)
		}
		// A new head, or a second gone by (an endpoint enabled again has
		// a cursor behind the head).
		if head, err := events.Head(ctx, d.Pool); err == nil && (head != lastHead || time.Since(lastFanout) > time.Second) {
			if _, err := Fanout(ctx, d.Pool, d.Options.LinkBase); err != nil {
				d.Logger.Warn("webhooks: fan-out", "err", err)
			} else {
				lastHead, lastFanout = head, time.Now()
			}
		} else if err != nil && ctx.Err() == nil {
			d.Logger.Warn("webhooks: reading the log's head", "err", err)
		}
		if err := d.claimAndSend(ctx, sendCtx, &wg); err != nil && ctx.Err() == nil {
			d.Logger.Warn("webhooks: claiming deliveries", "err", err)
		}
		if d.Options.Retention > 0 && time.Since(lastPrune) > time.Hour {
			if n, err := Prune(ctx, d.Pool, d.now().Add(-d.Options.Retention)); err != nil {
				d.Logger.Warn("webhooks: pruning deliveries", "err", err)
			} else if n > 0 {
				d.Logger.Info("webhooks: pruned deliveries", "deleted", n)
			}
			lastPrune = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-d.wake:
		}
	}
}

func (d *Deliverer) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// claimed is a delivery leased to this process.
type claimed struct {
	id        int64
	messageID string
	payload   []byte
	attempts  int
	eventAt   time.Time
}

// claimAndSend leases the due deliveries of every enabled, unpaused
// endpoint that has room, and sends them.
func (d *Deliverer) claimAndSend(ctx, sendCtx context.Context, wg *sync.WaitGroup) error {
	eps, err := queryEndpoints(ctx, d.Pool, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE disabled_at IS NULL AND (paused_until IS NULL OR paused_until <= now())`)
	if err != nil {
		return err
	}
	for _, e := range eps {
		d.mu.Lock()
		room := d.Options.Concurrency - d.inFlight[e.ID]
		d.mu.Unlock()
		if room <= 0 {
			continue
		}
		batch, err := d.claim(ctx, e.ID, room)
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.inFlight[e.ID] += len(batch)
		d.mu.Unlock()
		for _, c := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.attempt(sendCtx, e, c)
				d.mu.Lock()
				d.inFlight[e.ID]--
				d.mu.Unlock()
				d.poke()
			}()
		}
	}
	return nil
}

func (d *Deliverer) claim(ctx context.Context, endpoint uuid.UUID, n int) ([]claimed, error) {
	rows, err := d.Pool.Query(ctx, `UPDATE webhook_deliveries d SET leased_until = now() + make_interval(secs => $3),
			attempts = attempts + 1, last_attempt_at = now()
		WHERE id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending'
			AND next_attempt_at <= now() AND (leased_until IS NULL OR leased_until < now())
			ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING id, message_id, payload, attempts, event_at`, endpoint, n, d.lease().Seconds())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []claimed
	for rows.Next() {
		var c claimed
		if err := rows.Scan(&c.id, &c.messageID, &c.payload, &c.attempts, &c.eventAt); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Outcomes of an attempt, as metrics label them.
const (
	OutcomeSuccess     = "success"
	OutcomeHTTPError   = "http_error"   // any other status
	OutcomeRateLimited = "rate_limited" // 429, 502, 504: the endpoint is paused
	OutcomeGone        = "gone"         // 410: the endpoint is disabled
	OutcomeTimeout     = "timeout"
	OutcomeConnection  = "connection" // refused, reset, closed early, TLS
	OutcomeRefused     = "refused"    // the address is not allowed
)

// result is what one attempt came to.
type result struct {
	outcome    string
	status     int
	detail     string
	retryAfter time.Duration
}

// attempt sends one delivery and records what came of it.
func (d *Deliverer) attempt(ctx context.Context, e *Endpoint, c claimed) {
	started := time.Now()
	res := d.send(ctx, e, c)
	d.Metrics.attempt(e.ID, res.outcome, time.Since(started))
	if err := d.record(context.WithoutCancel(ctx), e, c, res); err != nil {
		// The lease runs out and another attempt follows: at least once.
		d.Logger.Error("webhooks: recording an attempt", "endpoint", e.ID, "message_id", c.messageID, "err", err)
	}
}

func (d *Deliverer) send(ctx context.Context, e *Endpoint, c claimed) result {
	now := d.now()
	ts := now.Unix()
	sig, err := Sign(e.secrets(now), c.messageID, ts, c.payload)
	if err != nil {
		return result{outcome: OutcomeHTTPError, detail: "signing: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(c.payload))
	if err != nil {
		return result{outcome: OutcomeConnection, detail: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Folio-Webhooks/1")
	req.Header.Set("webhook-id", c.messageID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.client.Do(req)
	if err != nil {
		var refused *RefusedError
		var nerr net.Error
		switch {
		case errors.As(err, &refused):
			return result{outcome: OutcomeRefused, detail: refused.Error()}
		case errors.As(err, &nerr) && nerr.Timeout():
			return result{outcome: OutcomeTimeout, detail: fmt.Sprintf("no answer within %s", d.Options.Timeout)}
		default:
			return result{outcome: OutcomeConnection, detail: err.Error()}
		}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so that the connection is reused
	res := result{status: resp.StatusCode, detail: strings.ToValidUTF8(string(snippet), "?")}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		res.outcome = OutcomeSuccess
	case code == http.StatusGone:
		res.outcome = OutcomeGone
	case code == http.StatusTooManyRequests || code == http.StatusBadGateway || code == http.StatusGatewayTimeout:
		res.outcome = OutcomeRateLimited
		res.retryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
	default:
		res.outcome = OutcomeHTTPError
	}
	return res
}

// maxRetryAfter caps what a Retry-After may ask for.
const maxRetryAfter = 24 * time.Hour

// retryAfter reads a Retry-After header: seconds or an HTTP date (0 when
// absent or unreadable).
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

// delay is the wait before attempt n+1 after attempt n failed, with
// ±10 % jitter.
func (d *Deliverer) delay(n int) time.Duration {
	base := d.Options.Schedule[n]
	if base <= 0 {
		return 0
	}
	return base + time.Duration((rand.Float64()*0.2-0.1)*float64(base))
}

// record writes an attempt's outcome: the delivery delivered, scheduled
// again or dead; the endpoint's failing streak, pause or disabling.
func (d *Deliverer) record(ctx context.Context, e *Endpoint, c claimed, res result) error {
	now := d.now()
	return pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		errText := res.detail
		if res.status != 0 {
			errText = strings.TrimSpace("HTTP " + strconv.Itoa(res.status) + " " + res.detail)
		}
		if res.outcome == OutcomeSuccess {
			if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'delivered', delivered_at = $2, leased_until = NULL,
				last_status = $3, last_error = NULL WHERE id = $1`, c.id, now, res.status); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, e.ID)
			if err == nil {
				d.Metrics.delivered(e.ID, now.Sub(c.eventAt))
			}
			return err
		}
		var next time.Time
		dead := c.attempts >= len(d.Options.Schedule)
		if !dead {
			next = now.Add(d.delay(c.attempts))
		}
		if res.outcome == OutcomeRateLimited {
			// Slow down: the whole endpoint waits (Retry-After, else the schedule).
			if !dead {
				next = now.Add(max(res.retryAfter, next.Sub(now)))
			}
			if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET paused_until = $2 WHERE id = $1`, e.ID, now.Add(res.retryAfter)); err != nil {
				return err
			}
		}
		status := "pending"
		if dead {
			status = "dead"
		}
		var lastStatus *int
		if res.status != 0 {
			lastStatus = &res.status
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = $2, next_attempt_at = coalesce($3, next_attempt_at),
			leased_until = NULL, last_status = $4, last_error = $5 WHERE id = $1`,
			c.id, status, nullTime(next), lastStatus, errText); err != nil {
			return err
		}
		if dead {
			d.Metrics.dead(e.ID)
			d.Logger.Warn("webhooks: delivery dead after its last attempt", "endpoint", e.ID, "message_id", c.messageID, "attempts", c.attempts, "last_error", errText)
		}
		var since time.Time
		if err := tx.QueryRow(ctx, `UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $2) WHERE id = $1
			RETURNING failing_since`, e.ID, now).Scan(&since); err != nil {
			return err
		}
		reason := ""
		switch {
		case res.outcome == OutcomeGone:
			reason = DisabledGone
		case d.Options.DisableAfter > 0 && now.Sub(since) >= d.Options.DisableAfter:
			reason = DisabledFailing
		}
		if reason != "" {
			if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET disabled_at = $2, disabled_reason = $3, updated_at = $2
				WHERE id = $1 AND disabled_at IS NULL`, e.ID, now, reason); err != nil {
				return err
			}
			d.Logger.Warn("webhooks: endpoint disabled", "endpoint", e.ID, "url", e.URL, "reason", reason, "last_error", errText)
		}
		return nil
	})
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Prune deletes delivered and dead deliveries created before before.
func Prune(ctx context.Context, db events.Beginner, before time.Time) (int64, error) {
	tag, err := db.Exec(ctx, `DELETE FROM webhook_deliveries WHERE created_at < $1 AND status <> 'pending'`, before)
	if err != nil {
		return 0, fmt.Errorf("error pruning webhook deliveries: %w", err)
	}
	return tag.RowsAffected(), nil
}
