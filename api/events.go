package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/ratelimit"
)

const (
	// keepAlive is how often an idle stream pings (websocket) or comments
	// (SSE), under the idle timeouts of proxies and load balancers.
	keepAlive = 25 * time.Second
	// ticketTTL is how long a stream ticket may wait to be used.
	ticketTTL = 60 * time.Second
	// replayLimit bounds one replay query.
	replayLimit = 1000
	// snapshotLimit bounds the documents in a dashboard snapshot.
	snapshotLimit = 500
	// writeTimeout bounds one write to a client.
	writeTimeout = 10 * time.Second
	// streamRetryAfter is what an owner over its stream cap is told to wait.
	streamRetryAfter = 10 * time.Second
)

// statusCredentialsExpired closes a websocket whose token (or the token
// its ticket was issued for) has expired: get a new one and resume.
const statusCredentialsExpired websocket.StatusCode = 4001

// ticket handles POST /v1/events/tickets: a single-use ticket, valid 60 s,
// for browsers, which cannot set headers on WebSocket or EventSource. A
// stream opened with it ends when the token that asked for it expires.
func (s *Server) ticket(w http.ResponseWriter, r *http.Request) {
	id := identityOf(r.Context())
	if p := s.limit(r.Context(), id.Subject, ratelimit.Ticket, s.Limits.TicketRateLimit, time.Minute, "stream tickets"); p != nil {
		writeProblem(w, p)
		return
	}
	tok, expires, err := events.IssueTicket(r.Context(), s.Pool, id.Subject, ticketTTL, id.Expires)
	if err != nil {
		s.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"ticket": tok, "expires_at": expires})
}

// streamOwner authenticates a stream: a ticket (?ticket=, single use) or a
// bearer token. It returns the owner and when the credentials expire (zero:
// unknown).
func (s *Server) streamOwner(r *http.Request) (string, time.Time, error) {
	if tok := r.URL.Query().Get("ticket"); tok != "" {
		return events.RedeemTicket(r.Context(), s.Pool, tok)
	}
	id, err := s.Verifier.FromRequest(r)
	return id.Subject, id.Expires, err
}

// openStream counts a stream of owner on this process, unless the owner
// has MaxStreamsPerOwner open already; release uncounts it.
func (s *Server) openStream(owner string) (release func(), ok bool) {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	if limit := s.Limits.MaxStreamsPerOwner; limit > 0 && s.streamsByOwner[owner] >= limit {
		return nil, false
	}
	s.streamsByOwner[owner]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.streamsMu.Lock()
			defer s.streamsMu.Unlock()
			if s.streamsByOwner[owner]--; s.streamsByOwner[owner] <= 0 {
				delete(s.streamsByOwner, owner)
			}
		})
	}, true
}

// originAllowed: no Origin (not a browser), the API's own origin, or one of
// FOLIO_ALLOWED_ORIGINS. Checked before a websocket upgrade: cross-site
// websocket hijacking rides on the victim's cookies or tickets otherwise.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if u, err := url.Parse(origin); err == nil && strings.EqualFold(u.Host, r.Host) && strings.EqualFold(u.Scheme, requestScheme(r)) {
		return true
	}
	for _, o := range s.AllowedOrigins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// requestScheme is the scheme the client used: X-Forwarded-Proto from a
// TLS-terminating proxy (a browser cannot set it on a websocket), else
// whether this connection is TLS.
func requestScheme(r *http.Request) string {
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		p, _, _ = strings.Cut(p, ",")
		return strings.TrimSpace(p)
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// sink is one client connection, websocket or SSE.
type sink interface {
	send(ctx context.Context, id string, eventType string, payload any) error
	ping(ctx context.Context) error
	close(code websocket.StatusCode, reason string)
}

// documentEvents handles GET /v1/documents/{id}/events.
func (s *Server) documentEvents(w http.ResponseWriter, r *http.Request) {
	s.stream(w, r, true)
}

// allEvents handles GET /v1/events: every document of the caller.
func (s *Server) allEvents(w http.ResponseWriter, r *http.Request) {
	s.stream(w, r, false)
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, one bool) {
	ctx := r.Context()
	// Everything that needs no credential is checked first: a ticket is
	// single-use, and a request refused for its transport, its origin or
	// its parameters must not use it up.
	ws := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	sse := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	if !ws && !sse {
		writeProblem(w, problem(http.StatusNotAcceptable, "stream_transport", "Open a websocket, or ask for Accept: text/event-stream."))
		return
	}
	if ws && !s.originAllowed(r) {
		writeProblem(w, problem(http.StatusForbidden, "origin_not_allowed", "This origin may not open streams (FOLIO_ALLOWED_ORIGINS)."))
		return
	}
	docID := uuid.Nil
	if one {
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			writeProblem(w, errNotFound)
			return
		}
		docID = id
	}
	after, hasAfter, err := resumePoint(r, ws)
	if err != nil {
		writeProblem(w, problem(http.StatusBadRequest, "bad_resume", "after / Last-Event-ID must be a whole number."))
		return
	}
	addr, ok := s.underFailureLimit(w, r)
	if !ok {
		return
	}
	owner, expires, err := s.streamOwner(r)
	if err == nil && !expires.IsZero() && !time.Now().Before(expires) {
		// Accepted within the verifier's clock-skew leeway, but already
		// expired: a stream would end (4001) as soon as it opened, and a
		// client would reconnect in a loop. Refuse it now.
		err = errors.New("credentials expired")
	}
	if err != nil {
		s.authFailures.Count(addr)
		s.Logger.Debug("unauthorized stream", "path", r.URL.Path, "reason", err.Error())
		writeProblem(w, errUnauthorized("A valid bearer token or stream ticket (?ticket=) is required."))
		return
	}
	docSeq := 0
	if one {
		doc, err := documents.Get(ctx, s.Pool, owner, docID)
		if err != nil {
			s.writeError(w, err) // 404 before any upgrade: no existence leak
			return
		}
		docSeq = doc.EventSeq
	}
	release, ok := s.openStream(owner)
	if !ok {
		p := problem(http.StatusTooManyRequests, "too_many_streams",
			fmt.Sprintf("At most %d event streams per user on one server; close some (one stream of all documents, GET /v1/events, serves many views).", s.Limits.MaxStreamsPerOwner))
		p.retryAfter = streamRetryAfter
		writeProblem(w, p)
		return
	}
	defer func() {
		if release != nil { // not handed to the pump
			release()
		}
	}()

	// The hub must be listening before the log is read (it starts at the
	// head it sees then); subscribe before reading: every event is then in
	// the replay, in the subscription, or both (and dropped the second time).
	select {
	case <-s.Hub.Ready():
	case <-ctx.Done():
		return
	case <-time.After(5 * time.Second):
		writeProblem(w, problem(http.StatusServiceUnavailable, "events_unavailable", "Live events are not available yet; try again shortly."))
		return
	}
	sub := s.Hub.Subscribe(owner, docID)

	var out sink
	if ws {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // Origin checked above
		if err != nil {
			sub.Close()
			return
		}
		out = &wsSink{c: c}
		// The connection is hijacked: it outlives this handler, whose
		// goroutine grew a deep stack reading the log. The stream runs on
		// in a fresh goroutine with a small one (idle streams are most of
		// a process's connections), and the handler returns.
		ctx = c.CloseRead(context.WithoutCancel(ctx))
	} else {
		out, err = newSSESink(w)
		if err != nil {
			sub.Close()
			writeProblem(w, problem(http.StatusInternalServerError, "stream_unsupported", err.Error()))
			return
		}
	}
	transport := "sse"
	if ws {
		transport = "websocket"
	}
	open := s.streamsOpen.WithLabelValues(transport)
	open.Inc()
	st := &streamState{s: s, out: out, owner: owner, doc: docID, docSeq: docSeq, one: one}
	if err := st.start(ctx, after, hasAfter); err != nil {
		out.close(websocket.StatusInternalError, "could not read the event log")
		open.Dec()
		sub.Close()
		return
	}
	s.pumps.Add(1)
	done := release
	release = nil // the pump releases it
	if ws {
		go s.pump(ctx, st, sub, expires, func() { open.Dec(); done() })
		return
	}
	s.pump(ctx, st, sub, expires, func() { open.Dec(); done() }) // SSE writes through this handler's ResponseWriter
}

// pump sends live events until the client goes, falls behind, its
// credentials expire, or the server shuts down.
func (s *Server) pump(ctx context.Context, st *streamState, sub *events.Subscription, expires time.Time, release func()) {
	defer s.pumps.Done()
	defer release()
	defer sub.Close()
	out := st.out
	ticker := time.NewTicker(keepAlive)
	defer ticker.Stop()
	var expired <-chan time.Time // nil: never
	if !expires.IsZero() {
		t := time.NewTimer(time.Until(expires))
		defer t.Stop()
		expired = t.C
	}
	for {
		select {
		case <-expired:
			out.close(statusCredentialsExpired, "credentials expired; re-authenticate and resume")
			return
		case <-ctx.Done():
			out.close(websocket.StatusNormalClosure, "")
			return
		case <-s.shutdown:
			out.close(websocket.StatusServiceRestart, "server restarting; reconnect and resume")
			return
		case <-ticker.C:
			if err := out.ping(ctx); err != nil {
				out.close(websocket.StatusGoingAway, "ping failed")
				return
			}
		case <-sub.Ready():
			evs, live := sub.Take()
			for _, e := range evs {
				if err := st.deliver(ctx, *e); err != nil {
					out.close(websocket.StatusGoingAway, "write failed")
					return
				}
				s.writeLag.Observe(time.Since(e.CreatedAt).Seconds())
			}
			if !live {
				out.close(websocket.StatusTryAgainLater, "too slow; reconnect and resume")
				return
			}
		}
	}
}

// resumePoint reads ?after= (websocket) or Last-Event-ID (SSE; ?after= too).
func resumePoint(r *http.Request, ws bool) (int64, bool, error) {
	v := r.URL.Query().Get("after")
	if v == "" && !ws {
		v = r.Header.Get("Last-Event-ID")
	}
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false, errors.New("bad resume point")
	}
	return n, true, nil
}

// streamState is what one stream has sent.
type streamState struct {
	s      *Server
	out    sink
	owner  string
	doc    uuid.UUID
	one    bool
	seq    int   // one document: the last seq sent
	docSeq int   // one document: its seq when the stream was asked for
	pos    int64 // all documents: the last pos sent
	// reflected is, for all documents, the last seq of each document whose
	// snapshot reflects events that had no pos yet (usually none).
	reflected map[uuid.UUID]int
}

// start sends the replay after a resume point the log still covers, or
// else a snapshot: flagged replay_truncated when events past the resume
// point were pruned, plain when the point lies beyond the log (the log's
// answer: events.ResumeDocument, events.ResumeOwner).
func (st *streamState) start(ctx context.Context, after int64, hasAfter bool) error {
	if !hasAfter {
		return st.snapshot(ctx, false)
	}
	var (
		res events.Resume
		err error
	)
	if st.one {
		res, err = events.ResumeDocument(ctx, st.s.Pool, st.doc, st.docSeq, after)
	} else {
		res, err = events.ResumeOwner(ctx, st.s.Pool, st.owner, after)
	}
	if err != nil {
		return err
	}
	if !res.OK {
		return st.snapshot(ctx, res.Truncated)
	}
	if st.one {
		st.seq = int(res.After)
	} else {
		st.pos = res.After
	}
	return st.replay(ctx)
}

func (st *streamState) snapshot(ctx context.Context, truncated bool) error {
	msg := map[string]any{"type": "snapshot"}
	if truncated {
		msg["replay_truncated"] = true
	}
	if st.one {
		// One read: the state and the seq it reflects. (Read apart, an event
		// committing in between would be counted in the seq but missing
		// from the state, and the replay after the seq would skip it.)
		doc, err := documents.Get(ctx, st.s.Pool, st.owner, st.doc)
		if err != nil {
			return err
		}
		seq := doc.EventSeq
		msg["document"], msg["seq"] = doc, seq
		st.seq = seq
		if err := st.out.send(ctx, strconv.Itoa(seq), "snapshot", msg); err != nil {
			return err
		}
		return st.replay(ctx) // events committed since the read
	}
	// One consistent view: the documents and the log position they reflect.
	docs, pos, pending, err := documents.Snapshot(ctx, st.s.Pool, st.owner, snapshotLimit)
	if err != nil {
		return err
	}
	msg["documents"], msg["pos"] = docs, pos
	st.pos = pos
	// The documents reflect the events committed but not yet sequenced:
	// those come after pos, and are not sent again.
	st.reflected = pending
	if err := st.out.send(ctx, strconv.FormatInt(pos, 10), "snapshot", msg); err != nil {
		return err
	}
	return st.replay(ctx)
}

// replay sends what the log holds past what was sent.
func (st *streamState) replay(ctx context.Context) error {
	for {
		var (
			evs []events.Event
			err error
		)
		if st.one {
			evs, err = events.DocumentAfter(ctx, st.s.Pool, st.doc, st.seq, replayLimit)
		} else {
			evs, err = events.OwnerAfter(ctx, st.s.Pool, st.owner, st.pos, replayLimit)
		}
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := st.deliver(ctx, e); err != nil {
				return err
			}
		}
		if len(evs) < replayLimit {
			return nil
		}
	}
}

// deliver sends an event unless it was sent already.
func (st *streamState) deliver(ctx context.Context, e events.Event) error {
	if st.one {
		if e.Seq <= st.seq {
			return nil
		}
		st.seq = e.Seq
		return st.out.send(ctx, strconv.Itoa(e.Seq), e.Type, e)
	}
	if e.OwnerPos <= st.pos {
		return nil
	}
	st.pos = e.OwnerPos
	if seq, ok := st.reflected[e.DocumentID]; ok && e.Seq <= seq {
		return nil // in the snapshot already
	}
	return st.out.send(ctx, strconv.FormatInt(e.OwnerPos, 10), e.Type, e)
}

// wsSink writes JSON messages to a websocket.
type wsSink struct {
	c *websocket.Conn
	// watchdog closes the connection when a write takes longer than
	// writeTimeout: one timer per stream, reset for each write, costs a
	// fraction of a context with a deadline per write (which the library
	// turns into a context.AfterFunc), and fan-out is writes.
	watchdog *time.Timer
}

func (s *wsSink) send(_ context.Context, _ string, eventType string, payload any) error {
	b, err := messageJSON(eventType, payload)
	if err != nil {
		return err
	}
	if s.watchdog == nil {
		s.watchdog = time.AfterFunc(writeTimeout, func() { _ = s.c.CloseNow() })
	} else {
		s.watchdog.Reset(writeTimeout)
	}
	// Not ctx: a write is bounded by the watchdog, and the stream's end
	// (ctx) is seen by its pump between writes.
	err = s.c.Write(context.Background(), websocket.MessageText, b)
	s.watchdog.Stop()
	return err
}

func (s *wsSink) ping(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return s.c.Ping(pctx)
}

func (s *wsSink) close(code websocket.StatusCode, reason string) { _ = s.c.Close(code, reason) }

// messageJSON is the message's JSON: an event as it is (its "type" is the
// event type; encoded once for all streams), a snapshot as built.
func messageJSON(_ string, payload any) ([]byte, error) {
	if e, ok := payload.(events.Event); ok {
		return e.JSON()
	}
	return json.Marshal(payload)
}

// sseSink writes Server-Sent Events.
type sseSink struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newSSESink(w http.ResponseWriter) (*sseSink, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return nil, fmt.Errorf("streaming is not supported here: %w", err)
	}
	return &sseSink{w: w, rc: rc}, nil
}

func (s *sseSink) send(_ context.Context, id string, eventType string, payload any) error {
	b, err := messageJSON(eventType, payload)
	if err != nil {
		return err
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := fmt.Fprintf(s.w, "id: %s\nevent: %s\ndata: %s\n\n", id, eventType, b); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sseSink) ping(context.Context) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := fmt.Fprint(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}

// close ends an SSE stream; the client reconnects with Last-Event-ID. A
// restart says so first.
func (s *sseSink) close(code websocket.StatusCode, reason string) {
	if code == websocket.StatusServiceRestart || code == websocket.StatusTryAgainLater || code == statusCredentialsExpired {
		_, _ = fmt.Fprintf(s.w, "event: reconnect\ndata: %q\n\n", reason)
		_ = s.rc.Flush()
	}
}
