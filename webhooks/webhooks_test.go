package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/webhooks"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

type env struct {
	db    *testenv.DB
	queue *river.Client[pgx.Tx]
	guard *webhooks.Guard
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := testenv.Postgres(t)
	queue, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{})
	require.NoError(t, err)
	return &env{db: db, queue: queue, guard: &webhooks.Guard{Allow: loopback}}
}

// run starts a deliverer with opts until the test ends.
func (e *env) run(t *testing.T, d *webhooks.Deliverer) *webhooks.Deliverer {
	t.Helper()
	d.Pool, d.Logger = e.db.Pool, slog.New(slog.DiscardHandler)
	if d.Guard == nil {
		d.Guard = e.guard
	}
	if d.Options.Poll == 0 {
		d.Options.Poll = 20 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return d
}

func (e *env) add(t *testing.T, url string, types ...string) *webhooks.Endpoint {
	t.Helper()
	in := webhooks.Input{URL: &url}
	if len(types) > 0 {
		in.EventTypes = &types
	}
	ep, err := webhooks.Add(context.Background(), e.db.Pool, e.guard, in)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(ep.Secret, "whsec_"))
	return ep
}

// upload records a document of owner's (its document.queued follows).
func (e *env) upload(t *testing.T, owner string, app documents.AppData) *documents.Document {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	doc := &documents.Document{ID: id, Owner: owner, Filename: "a.pdf", SizeBytes: 10, SHA256: strings.Repeat("a", 64),
		S3Key: documents.OriginalKey(owner, id), AppData: app}
	require.NoError(t, documents.Create(context.Background(), e.db.Pool, e.queue, doc, documents.Intake{QuotaBytes: 1 << 40}))
	return doc
}

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver records what it gets and answers with answer (nil: 204).
type receiver struct {
	mu     sync.Mutex
	got    []received
	answer func(n int, w http.ResponseWriter, r *http.Request)
	srv    *httptest.Server
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body, at: time.Now()})
		n := len(rc.got)
		rc.mu.Unlock()
		if rc.answer != nil {
			rc.answer(n, w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func (rc *receiver) waitFor(t *testing.T, n int) []received {
	t.Helper()
	require.Eventually(t, func() bool { return len(rc.requests()) >= n }, 20*time.Second, 10*time.Millisecond)
	return rc.requests()
}

func message(t *testing.T, body []byte) webhooks.Message {
	t.Helper()
	var m webhooks.Message
	require.NoError(t, json.Unmarshal(body, &m))
	return m
}

func deliveries(t *testing.T, e *env, ep uuid.UUID) []*webhooks.Delivery {
	t.Helper()
	ds, err := webhooks.Deliveries(context.Background(), e.db.Pool, webhooks.DeliveryFilter{Endpoint: ep, Limit: 1000})
	require.NoError(t, err)
	return ds
}

func waitDelivery(t *testing.T, e *env, ep uuid.UUID, cond func(d *webhooks.Delivery) bool) *webhooks.Delivery {
	t.Helper()
	var found *webhooks.Delivery
	require.Eventually(t, func() bool {
		for _, d := range deliveries(t, e, ep) {
			if cond(d) {
				found = d
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond)
	return found
}

// TestStandardWebhooksVerify: a receiver verifying with the Standard
// Webhooks library accepts every delivery; a tampered body or an old
// timestamp fails its verification; during a rotation each secret alone
// verifies.
func TestStandardWebhooksVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, nil)
	ep := e.add(t, rc.srv.URL+"/hooks?x=1")
	clock := &fakeClock{}
	e.run(t, &webhooks.Deliverer{Now: clock.now})

	doc := e.upload(t, "alice", documents.AppData{ExternalID: "inv-1", Metadata: map[string]string{"order": "8812"}})
	got := rc.waitFor(t, 1)[0]
	wh, err := standardwebhooks.NewWebhook(ep.Secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(got.body, got.header))
	require.Equal(t, webhooks.MessageID(doc.ID, 1), got.header.Get("webhook-id"))
	require.Equal(t, "application/json", got.header.Get("Content-Type"))
	m := message(t, got.body)
	require.Equal(t, "document.queued", m.Type)
	require.Equal(t, webhooks.MessageData{DocumentID: doc.ID, Owner: "alice", Seq: 1, Status: "queued", ExternalID: "inv-1",
		Metadata: map[string]string{"order": "8812"},
		Links:    webhooks.Links{Document: "/v1/documents/" + doc.ID.String(), Events: "/v1/documents/" + doc.ID.String() + "/events"}}, m.Data)

	tampered := []byte(strings.Replace(string(got.body), "8812", "8813", 1))
	require.Error(t, wh.Verify(tampered, got.header), "a tampered body")
	other, err := standardwebhooks.NewWebhook(webhooks.NewSecret())
	require.NoError(t, err)
	require.Error(t, other.Verify(got.body, got.header), "another secret")

	// An attempt signed 10 minutes ago (a replayed capture) is too old.
	clock.set(time.Now().Add(-10 * time.Minute))
	e.upload(t, "alice", documents.AppData{})
	old := rc.waitFor(t, 2)[1]
	require.ErrorIs(t, wh.Verify(old.body, old.header), standardwebhooks.ErrMessageTooOld)
	require.NoError(t, wh.VerifyIgnoringTimestamp(old.body, old.header), "only its age is wrong")
	clock.set(time.Time{})

	// Rotation: two signatures; the old secret and the new verify alone.
	rotated, err := webhooks.RotateSecret(context.Background(), e.db.Pool, ep.ID, time.Hour)
	require.NoError(t, err)
	require.NotEqual(t, ep.Secret, rotated.Secret)
	e.upload(t, "alice", documents.AppData{})
	during := rc.waitFor(t, 3)[2]
	require.Len(t, strings.Fields(during.header.Get("webhook-signature")), 2)
	fresh, err := standardwebhooks.NewWebhook(rotated.Secret)
	require.NoError(t, err)
	require.NoError(t, fresh.Verify(during.body, during.header), "the new secret")
	require.NoError(t, wh.Verify(during.body, during.header), "the old secret, during the overlap")
	require.Error(t, fresh.Verify(got.body, got.header), "before the rotation only the old one signed")

	// The overlap over, only the new secret signs.
	_, err = webhooks.RotateSecret(context.Background(), e.db.Pool, ep.ID, 0)
	require.NoError(t, err)
	cur, err := webhooks.Get(context.Background(), e.db.Pool, ep.ID)
	require.NoError(t, err)
	e.upload(t, "alice", documents.AppData{})
	after := rc.waitFor(t, 4)[3]
	require.Len(t, strings.Fields(after.header.Get("webhook-signature")), 1)
	now, err := standardwebhooks.NewWebhook(cur.Secret)
	require.NoError(t, err)
	require.NoError(t, now.Verify(after.body, after.header))
	require.Error(t, fresh.Verify(after.body, after.header), "a rotated-out secret, its overlap over")
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		return time.Now()
	}
	return c.t
}

// TestRetriesUntilDelivered: a 500, then a connection dropped before any
// answer, then a 204: the third attempt delivers, with the same
// webhook-id each time.
func TestRetriesUntilDelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
		case 2:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	ep := e.add(t, rc.srv.URL)
	e.run(t, &webhooks.Deliverer{Options: webhooks.Options{Schedule: []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond, time.Hour}}})
	e.upload(t, "alice", documents.AppData{})
	got := rc.waitFor(t, 3)
	for _, r := range got {
		require.Equal(t, got[0].header.Get("webhook-id"), r.header.Get("webhook-id"))
		require.Equal(t, got[0].body, r.body)
	}
	d := waitDelivery(t, e, ep.ID, func(d *webhooks.Delivery) bool { return d.Status == "delivered" })
	require.Equal(t, 3, d.Attempts)
	require.Len(t, rc.requests(), 3, "delivered: nothing more is sent")
	cur, err := webhooks.Get(context.Background(), e.db.Pool, ep.ID)
	require.NoError(t, err)
	require.Nil(t, cur.FailingSince, "a success ends the failing streak")
}

// TestGoneDisables: 410 disables the endpoint; nothing more is sent to it
// until it is enabled, and then what happened meanwhile is.
func TestGoneDisables(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gone := true
	var mu sync.Mutex
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if gone {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ep := e.add(t, rc.srv.URL)
	e.run(t, &webhooks.Deliverer{})
	first := e.upload(t, "alice", documents.AppData{})
	rc.waitFor(t, 1)
	require.Eventually(t, func() bool {
		cur, err := webhooks.Get(context.Background(), e.db.Pool, ep.ID)
		require.NoError(t, err)
		return cur.DisabledAt != nil && cur.DisabledReason == webhooks.DisabledGone
	}, 10*time.Second, 10*time.Millisecond)
	second := e.upload(t, "alice", documents.AppData{})
	// The second event reaches the endpoint's deliveries only once it is
	// enabled: wait until the log has it, then see nothing sent.
	waitSequenced(t, e)
	require.Len(t, rc.requests(), 1)

	mu.Lock()
	gone = false
	mu.Unlock()
	_, err := webhooks.Enable(context.Background(), e.db.Pool, ep.ID, false)
	require.NoError(t, err)
	got := rc.waitFor(t, 3)
	ids := map[string]bool{}
	for _, r := range got[1:] {
		ids[r.header.Get("webhook-id")] = true
	}
	require.Equal(t, map[string]bool{webhooks.MessageID(first.ID, 1): true, webhooks.MessageID(second.ID, 1): true}, ids)
}

func waitSequenced(t *testing.T, e *env) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM document_events WHERE pos IS NULL`).Scan(&n))
		return n == 0
	}, 10*time.Second, 10*time.Millisecond)
}

// TestRetryAfterIsHonoured: 429 with Retry-After: 2 pauses the endpoint
// and the next attempt comes no sooner than 2 s later, although the
// schedule says 10 ms.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	ep := e.add(t, rc.srv.URL)
	e.run(t, &webhooks.Deliverer{Options: webhooks.Options{Schedule: []time.Duration{0, 10 * time.Millisecond, 10 * time.Millisecond}}})
	e.upload(t, "alice", documents.AppData{})
	rc.waitFor(t, 1)
	require.Eventually(t, func() bool {
		cur, err := webhooks.Get(context.Background(), e.db.Pool, ep.ID)
		require.NoError(t, err)
		return cur.PausedUntil != nil // the endpoint is paused
	}, 10*time.Second, 5*time.Millisecond)
	got := rc.waitFor(t, 2)
	require.GreaterOrEqual(t, got[1].at.Sub(got[0].at), 2*time.Second-50*time.Millisecond, "Retry-After: 2")
	require.Equal(t, got[0].header.Get("webhook-id"), got[1].header.Get("webhook-id"))
	waitDelivery(t, e, ep.ID, func(d *webhooks.Delivery) bool { return d.Status == "delivered" && d.Attempts == 2 })
}

// TestDeadLetterAndReplay: after the last retry a delivery is dead and
// listed; a replay sends it again with the same webhook-id; a range
// replay resends an endpoint's deliveries of a period.
func TestDeadLetterAndReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var mu sync.Mutex
	failing := true
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	ep := e.add(t, rc.srv.URL)
	e.run(t, &webhooks.Deliverer{Options: webhooks.Options{Schedule: []time.Duration{0, 20 * time.Millisecond}}})
	doc := e.upload(t, "alice", documents.AppData{})
	dead := waitDelivery(t, e, ep.ID, func(d *webhooks.Delivery) bool { return d.Status == "dead" })
	require.Equal(t, 2, dead.Attempts)
	require.Equal(t, 503, *dead.LastStatus)
	require.Contains(t, dead.LastError, "HTTP 503")
	listed, err := webhooks.Deliveries(context.Background(), e.db.Pool, webhooks.DeliveryFilter{Status: "dead"})
	require.NoError(t, err)
	require.Len(t, listed, 1)
	require.Len(t, rc.requests(), 2)

	mu.Lock()
	failing = false
	mu.Unlock()
	_, err = webhooks.Replay(context.Background(), e.db.Pool, dead.ID)
	require.NoError(t, err)
	got := rc.waitFor(t, 3)
	require.Equal(t, webhooks.MessageID(doc.ID, 1), got[2].header.Get("webhook-id"))
	waitDelivery(t, e, ep.ID, func(d *webhooks.Delivery) bool { return d.ID == dead.ID && d.Status == "delivered" })

	// Every delivery of the hour, again (the delivered one included).
	n, err := webhooks.ReplayRange(context.Background(), e.db.Pool, ep.ID, time.Now().Add(-time.Hour), time.Now().Add(time.Minute), false)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	got = rc.waitFor(t, 4)
	require.Equal(t, webhooks.MessageID(doc.ID, 1), got[3].header.Get("webhook-id"))
	_, err = webhooks.Replay(context.Background(), e.db.Pool, 1<<40)
	require.ErrorIs(t, err, webhooks.ErrNoDelivery)
}

// TestFailingEndpointIsDisabled: an endpoint every attempt to which fails
// for DisableAfter is disabled (reason failing).
func TestFailingEndpointIsDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	ep := e.add(t, rc.srv.URL)
	e.run(t, &webhooks.Deliverer{Options: webhooks.Options{Schedule: []time.Duration{0, 20 * time.Millisecond, 20 * time.Millisecond,
		20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}, DisableAfter: 50 * time.Millisecond}})
	e.upload(t, "alice", documents.AppData{})
	require.Eventually(t, func() bool {
		cur, err := webhooks.Get(context.Background(), e.db.Pool, ep.ID)
		require.NoError(t, err)
		return cur.DisabledReason == webhooks.DisabledFailing
	}, 10*time.Second, 10*time.Millisecond)
	d := deliveries(t, e, ep.ID)[0]
	require.Equal(t, "pending", d.Status, "kept for when it is enabled again")
}

// TestSlowEndpointDelaysOnlyItself: while one endpoint holds every
// attempt open, another gets every message.
func TestSlowEndpointDelaysOnlyItself(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	slow := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	fast := newReceiver(t, nil)
	e.add(t, slow.srv.URL)
	e.add(t, fast.srv.URL)
	e.run(t, &webhooks.Deliverer{Options: webhooks.Options{Concurrency: 2, Timeout: time.Minute}})
	for range 10 {
		e.upload(t, "alice", documents.AppData{})
	}
	fast.waitFor(t, 10)
	require.Len(t, slow.requests(), 2, "the slow one has its two attempts in flight, no more")
	close(release)
	slow.waitFor(t, 10)
}

// TestOnlyCommittedSubscribedEvents: a change whose transaction rolled
// back is never delivered; an endpoint gets only its types and owners;
// document.deleted carries the application's data the row had.
func TestOnlyCommittedSubscribedEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	all := newReceiver(t, nil)
	bobs := newReceiver(t, nil)
	e.add(t, all.srv.URL, "document.queued", "document.deleted", "document.updated")
	owners := []string{"bob"}
	url := bobs.srv.URL
	_, err := webhooks.Add(context.Background(), e.db.Pool, e.guard, webhooks.Input{URL: &url, Owners: &owners})
	require.NoError(t, err)
	e.run(t, &webhooks.Deliverer{})
	ctx := context.Background()

	// Rolled back: its document.queued never existed.
	tx, err := e.db.Pool.Begin(ctx)
	require.NoError(t, err)
	id := uuid.Must(uuid.NewV7())
	require.NoError(t, documents.CreateTx(ctx, tx, e.queue, &documents.Document{ID: id, Owner: "alice", Filename: "x.pdf",
		SizeBytes: 1, S3Key: documents.OriginalKey("alice", id)}, documents.Intake{QuotaBytes: 1 << 40}))
	require.NoError(t, tx.Rollback(ctx))

	a := e.upload(t, "alice", documents.AppData{ExternalID: "a-1", Metadata: map[string]string{"k": "v"}})
	b := e.upload(t, "bob", documents.AppData{})
	_, err = documents.UpdateAppData(ctx, e.db.Pool, "alice", a.ID, documents.AppDataPatch{ExternalID: ptr("a-2")})
	require.NoError(t, err)
	_, err = documents.Delete(ctx, e.db.Pool, e.queue, "alice", a.ID)
	require.NoError(t, err)

	got := all.waitFor(t, 4) // a queued, b queued, a updated, a deleted (not a canceled)
	waitSequenced(t, e)
	types := map[string]string{}
	for _, r := range got {
		m := message(t, r.body)
		require.NotEqual(t, id, m.Data.DocumentID, "the rolled-back document")
		types[r.header.Get("webhook-id")] = m.Type
		if m.Type == "document.deleted" {
			require.Equal(t, "deleted", m.Data.Status)
			require.Equal(t, "a-2", m.Data.ExternalID)
			require.Equal(t, map[string]string{"k": "v"}, m.Data.Metadata)
		}
	}
	require.Len(t, types, 4)
	require.Equal(t, "document.updated", types[webhooks.MessageID(a.ID, 2)])
	require.Equal(t, "document.queued", types[webhooks.MessageID(b.ID, 1)])

	gotBob := bobs.waitFor(t, 1)
	require.Equal(t, b.ID, message(t, gotBob[0].body).Data.DocumentID)
	// Bob's endpoint hears nothing of alice's (her four events are in
	// the log and were handed out above).
	require.Len(t, bobs.requests(), 1)
}

func ptr[T any](v T) *T { return &v }

// TestMessageIsThin: with the largest metadata and external_id allowed,
// a message stays under 20 KB.
func TestMessageIsThin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, nil)
	e.add(t, rc.srv.URL)
	e.run(t, &webhooks.Deliverer{})
	meta := map[string]string{}
	for i := range 60 {
		meta[strings.Repeat(string(rune('a'+i%26)), 1+i/26)] = strings.Repeat("\"", 9) // escaped twice over in JSON
	}
	app := documents.AppData{ExternalID: strings.Repeat("é", 127), Metadata: meta}
	require.NoError(t, app.Check())
	e.upload(t, strings.Repeat("o", 255), app)
	got := rc.waitFor(t, 1)
	require.Less(t, len(got[0].body), 20_000)
	require.Equal(t, app.Metadata, message(t, got[0].body).Data.Metadata)
}

// TestRefusedAddressesAreNeverDialled: every class of address Folio
// refuses is refused at registration and at delivery (a name that
// resolved to a public address when registered and to a private one
// since), before any connection is attempted.
func TestRefusedAddressesAreNeverDialled(t *testing.T) {
	t.Parallel()
	refused := map[string]string{
		"127.0.0.1": "loopback", "::1": "loopback", "127.9.9.9": "loopback",
		"10.0.0.1": "private", "172.16.5.4": "private", "192.168.1.1": "private", "fd12::1": "private",
		"169.254.10.10": "link-local", "fe80::1": "link-local",
		"224.0.0.1": "multicast", "239.255.255.250": "multicast", "ff02::1": "multicast",
		"169.254.169.254": "metadata", "fd00:ec2::254": "metadata", "100.100.100.200": "metadata",
		"0.0.0.0": "unspecified", "::": "unspecified", "100.64.0.1": "reserved", "255.255.255.255": "reserved",
		"::ffff:10.0.0.1": "private", "64:ff9b::a9fe:a9fe": "metadata", "2002:c0a8:101::1": "private",
	}
	for a, class := range refused {
		require.Equal(t, class, webhooks.Classify(netip.MustParseAddr(a)), a)
	}
	require.Empty(t, webhooks.Classify(netip.MustParseAddr("93.184.216.34")), "public")
	require.Empty(t, webhooks.Classify(netip.MustParseAddr("2606:2800:220:1::1")), "public")

	// A real listener on loopback: the guard (without loopback allowed)
	// must never reach it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan struct{}, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			_ = c.Close()
		}
	}()
	var dialled []netip.AddrPort
	var mu sync.Mutex
	resolved := map[string][]netip.Addr{}
	strict := &webhooks.Guard{
		Resolve: func(_ context.Context, host string) ([]netip.Addr, error) {
			mu.Lock()
			defer mu.Unlock()
			return resolved[host], nil
		},
		Dialed: func(ap netip.AddrPort) { mu.Lock(); dialled = append(dialled, ap); mu.Unlock() },
	}
	ctx := context.Background()
	for a, class := range refused {
		u := "http://" + netip.AddrPortFrom(netip.MustParseAddr(a), 80).String() + "/"
		var re *webhooks.RefusedError
		require.ErrorAs(t, webhooks.CheckURL(ctx, strict, u), &re, a)
		require.Equal(t, class, re.Class)
		mu.Lock()
		resolved["hooks.example.com"] = []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr(a)}
		mu.Unlock()
		require.ErrorAs(t, webhooks.CheckURL(ctx, strict, "https://hooks.example.com/x"), &re, "one bad address of several: %s", a)
		_, err := strict.DialContext(ctx, "tcp", "hooks.example.com:443")
		require.ErrorAs(t, err, &re, a)
	}
	_, err = strict.DialContext(ctx, "tcp", ln.Addr().String())
	var re *webhooks.RefusedError
	require.ErrorAs(t, err, &re)
	require.Empty(t, dialled, "no address was dialled")

	// Through a deliverer: registered while the name was public; it has
	// resolved to the metadata service since. The attempt is refused,
	// recorded, and nothing is dialled.
	e := newEnv(t)
	mu.Lock()
	resolved["hooks.example.com"] = []netip.Addr{netip.MustParseAddr("93.184.216.34")}
	mu.Unlock()
	url := "http://hooks.example.com/hook"
	ep, err := webhooks.Add(ctx, e.db.Pool, strict, webhooks.Input{URL: &url})
	require.NoError(t, err)
	mu.Lock()
	resolved["hooks.example.com"] = []netip.Addr{netip.MustParseAddr("169.254.169.254")}
	mu.Unlock()
	loopURL := "http://" + ln.Addr().String() + "/"
	_, err = webhooks.Add(ctx, e.db.Pool, strict, webhooks.Input{URL: &loopURL})
	require.ErrorAs(t, err, &re, "loopback is refused unless allowed")
	e.run(t, &webhooks.Deliverer{Guard: strict, Options: webhooks.Options{Schedule: []time.Duration{0, time.Hour}}})
	e.upload(t, "alice", documents.AppData{})
	d := waitDelivery(t, e, ep.ID, func(d *webhooks.Delivery) bool { return d.Attempts == 1 && d.LastError != "" })
	require.Contains(t, d.LastError, "169.254.169.254, a metadata address")
	require.Empty(t, dialled, "no address was dialled")
	require.Empty(t, accepted, "the loopback listener saw no connection")
}

// TestFanoutIsExactlyOnce: the fan-out is one transaction per
// batch: a delivery per endpoint and event, whatever the number of
// processes running it at once.
func TestFanoutIsExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, nil)
	ep := e.add(t, rc.srv.URL)
	for range 30 {
		e.upload(t, "alice", documents.AppData{})
	}
	waitSequencedBy(t, e)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				_, err := webhooks.Fanout(context.Background(), e.db.Pool, "https://folio.example")
				require.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	ds := deliveries(t, e, ep.ID)
	require.Len(t, ds, 30)
	seen := map[string]bool{}
	for _, d := range ds {
		require.False(t, seen[d.MessageID])
		seen[d.MessageID] = true
	}
	ds, err := webhooks.Deliveries(context.Background(), e.db.Pool, webhooks.DeliveryFilter{Endpoint: ep.ID, Limit: 1, WithPayload: true})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(message(t, ds[0].Payload).Data.Links.Document, "https://folio.example/v1/documents/"))
}

// waitSequencedBy sequences the log itself (no hub runs here).
func waitSequencedBy(t *testing.T, e *env) {
	t.Helper()
	_, err := events.Sequence(context.Background(), e.db.Pool)
	require.NoError(t, err)
	waitSequenced(t, e)
}
