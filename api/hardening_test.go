package api_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
)

// TestTextInputsAreValidated: strings that Postgres text refuses (NUL,
// invalid UTF-8) get a 400 naming the parameter, or a 401 for a token
// whose subject holds one, on REST and on streams alike, never a 503.
func TestTextInputsAreValidated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, q := range []string{"a%00b", "%ff", "ok%C0%AF"} {
		requireProblem(t, b.do(t, http.MethodGet, "/v1/search?q="+q, "alice", nil, nil), http.StatusBadRequest, "bad_query")
	}
	tok, err := auth.Sign([]byte(testSecret), "a\x00b", time.Hour)
	require.NoError(t, err)
	for _, tt := range []struct{ path, accept string }{
		{"/v1/documents", ""},
		{"/v1/events", "text/event-stream"},
		{"/v1/search?q=x", ""},
	} {
		header := map[string]string{"Authorization": "Bearer " + tok}
		if tt.accept != "" {
			header["Accept"] = tt.accept
		}
		requireProblem(t, b.do(t, http.MethodGet, tt.path, "", nil, header), http.StatusUnauthorized, "unauthorized")
	}
}

// TestStreamsEndWhenCredentialsExpire: a stream opened with a token, or
// with a ticket that token asked for, ends when the token expires: close
// code 4001 (websocket) or a reconnect event (SSE), so that the client
// authenticates again and resumes.
func TestStreamsEndWhenCredentialsExpire(t *testing.T) {
	t.Parallel()
	b := setup(t)
	short, err := auth.Sign([]byte(testSecret), "alice", 2*time.Second)
	require.NoError(t, err)

	readUntilClosed := func(c *websocket.Conn) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return err
			}
		}
	}
	c, _, err := b.ws(t, "/v1/events", "", http.Header{"Authorization": {"Bearer " + short}})
	require.NoError(t, err)
	require.Equal(t, "snapshot", readMsg(t, c).Type)
	require.Equal(t, websocket.StatusCode(4001), websocket.CloseStatus(readUntilClosed(c)), "a token's stream")

	short, err = auth.Sign([]byte(testSecret), "alice", 2*time.Second) // the first has expired
	require.NoError(t, err)
	tk := decode[struct{ Ticket string }](t, b.do(t, http.MethodPost, "/v1/events/tickets", "", nil,
		map[string]string{"Authorization": "Bearer " + short}))
	c, _, err = b.ws(t, "/v1/events?ticket="+tk.Ticket, "", nil)
	require.NoError(t, err)
	require.Equal(t, "snapshot", readMsg(t, c).Type)
	require.Equal(t, websocket.StatusCode(4001), websocket.CloseStatus(readUntilClosed(c)), "a ticket's stream ends with its token")

	short, err = auth.Sign([]byte(testSecret), "alice", 2*time.Second)
	require.NoError(t, err)
	resp := b.do(t, http.MethodGet, "/v1/events", "", nil,
		map[string]string{"Authorization": "Bearer " + short, "Accept": "text/event-stream"})
	body, err := io.ReadAll(resp.Body) // the server ends the stream
	require.NoError(t, err)
	require.Contains(t, string(body), "event: reconnect\ndata: \"credentials expired")
}

// TestStreamsPerOwnerAreCapped: one token cannot open streams without
// end; others are not affected, and a closed stream makes room.
func TestStreamsPerOwnerAreCapped(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.limits.MaxStreamsPerOwner = 2 })
	first, _, err := b.ws(t, "/v1/events", "alice", nil)
	require.NoError(t, err)
	_, _, err = b.ws(t, "/v1/events", "alice", nil)
	require.NoError(t, err)
	_, resp, err := b.ws(t, "/v1/events", "alice", nil)
	require.Error(t, err)
	p := requireProblem(t, resp, http.StatusTooManyRequests, "too_many_streams")
	require.NotEmpty(t, resp.Header.Get("Retry-After"), p.Detail)
	sse := b.do(t, http.MethodGet, "/v1/events", "alice", nil, map[string]string{"Accept": "text/event-stream"})
	requireProblem(t, sse, http.StatusTooManyRequests, "too_many_streams")
	_, _, err = b.ws(t, "/v1/events", "bob", nil)
	require.NoError(t, err, "another owner is not affected")

	require.NoError(t, first.Close(websocket.StatusNormalClosure, ""))
	require.Eventually(t, func() bool {
		c, _, err := b.ws(t, "/v1/events", "alice", nil)
		if err != nil {
			return false
		}
		_ = c.CloseNow()
		return true
	}, 10*time.Second, 50*time.Millisecond, "a closed stream makes room")
}

// TestReparsesAndTicketsAreRateLimited: both are work on the server that
// a client can ask for in a loop.
func TestReparsesAndTicketsAreRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.limits.TicketRateLimit, o.limits.ReparseRateLimit = 3, 2 })
	for range 3 {
		require.Equal(t, http.StatusCreated, b.do(t, http.MethodPost, "/v1/events/tickets", "alice", nil, nil).StatusCode)
	}
	resp := b.do(t, http.MethodPost, "/v1/events/tickets", "alice", nil, nil)
	requireProblem(t, resp, http.StatusTooManyRequests, "rate_limited")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Equal(t, http.StatusCreated, b.do(t, http.MethodPost, "/v1/events/tickets", "bob", nil, nil).StatusCode, "per owner")

	doc := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100)))
	path := "/v1/documents/" + doc.ID.String() + "/reparse"
	for range 2 {
		requireProblem(t, b.do(t, http.MethodPost, path, "alice", nil, nil), http.StatusConflict, "parse_in_progress")
	}
	resp = b.do(t, http.MethodPost, path, "alice", nil, nil)
	requireProblem(t, resp, http.StatusTooManyRequests, "rate_limited")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
}

// rawUpload starts an upload of declared bytes on a raw connection and
// sends send with it, then feeds trickle one byte at a time every gap.
func (b *testBundle) rawUpload(t *testing.T, declared int, send []byte, trickle []byte, gap time.Duration) *http.Response {
	t.Helper()
	u, err := url.Parse(b.url)
	require.NoError(t, err)
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_, err = fmt.Fprintf(conn, "POST /v1/documents?filename=slow.pdf HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/pdf\r\nContent-Length: %d\r\n\r\n%s", u.Host, token(t, "alice"), declared, send)
	require.NoError(t, err)
	go func() {
		for _, c := range trickle {
			time.Sleep(gap)
			if _, err := conn.Write([]byte{c}); err != nil {
				return
			}
		}
	}()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestSlowUploadsAreCut: a body that stops short of its Content-Length
// (cut after the grace without a byte), or trickles in (cut when its
// average falls under the minimum rate), ends with 408, the connection
// closed, its multipart upload aborted, nothing kept.
func TestSlowUploadsAreCut(t *testing.T) {
	t.Parallel()
	for name, trickle := range map[string]bool{"stalled": false, "trickling": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *setupOpts) { o.limits.UploadMinRate, o.limits.UploadGrace = 16<<20, time.Second })
			body := pdfBytes(t, 7<<20) // more than one part: a multipart upload is under way
			var rest []byte
			if trickle {
				rest = body[6<<20:]
			}
			start := time.Now()
			resp := b.rawUpload(t, len(body), body[:6<<20], rest, 20*time.Millisecond)
			requireProblem(t, resp, http.StatusRequestTimeout, "upload_too_slow")
			require.True(t, resp.Close, "Connection: close")
			t.Logf("cut after %s", time.Since(start).Round(time.Millisecond))
			require.Eventually(t, func() bool { return b.uploadOutcome("too_slow")() == 1 }, 10*time.Second, 20*time.Millisecond)
			b.requireNothingStored(t)
		})
	}
}

// TestFilenamesAreNeutralised: bidi overrides and zero-width characters
// are dropped from names, and a download is always named *.pdf.
func TestFilenamesAreNeutralised(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := decode[documents.Document](t, b.uploadRaw(t, "alice", url.QueryEscape("invoice\u202Efdp.exe"), pdfBytes(t, 100)))
	require.Equal(t, "invoicefdp.exe", doc.Filename)
	doc2 := decode[documents.Document](t, b.uploadRaw(t, "alice", url.QueryEscape("re\u200Bport\u2066.pdf"), pdfBytes(t, 100)))
	require.Equal(t, "report.pdf", doc2.Filename)
	doc3 := decode[documents.Document](t, b.uploadRaw(t, "alice", url.QueryEscape(`..\..\etc/pass`+"\x07wd.pdf"), pdfBytes(t, 100)))
	require.Equal(t, "passwd.pdf", doc3.Filename, "the base name, without control characters")

	resp := b.do(t, http.MethodGet, "/v1/documents/"+doc.ID.String()+"/content", "alice", nil, nil)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	dl, err := http.Get(resp.Header.Get("Location")) //nolint:gosec // the URL is the one the API made
	require.NoError(t, err)
	dl.Body.Close()
	require.Equal(t, http.StatusOK, dl.StatusCode)
	require.Equal(t, `attachment; filename=invoicefdp.exe.pdf`, dl.Header.Get("Content-Disposition"))
}

// TestOriginSchemeIsChecked: https://host is another origin than the
// http://host the API serves (unless a TLS proxy says the client used
// https).
func TestOriginSchemeIsChecked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	host := strings.TrimPrefix(b.url, "http://")
	_, resp, err := b.ws(t, "/v1/events", "alice", http.Header{"Origin": {"https://" + host}})
	require.Error(t, err)
	requireProblem(t, resp, http.StatusForbidden, "origin_not_allowed")
	_, _, err = b.ws(t, "/v1/events", "alice", http.Header{"Origin": {"http://" + host}})
	require.NoError(t, err)
	_, _, err = b.ws(t, "/v1/events", "alice", http.Header{"Origin": {"https://" + host}, "X-Forwarded-Proto": {"https"}})
	require.NoError(t, err, "behind a TLS-terminating proxy")
}

// TestChunkedRequestsCloseTheConnection: Content-Length with
// Transfer-Encoding: chunked (request smuggling's shape) is answered, then
// the connection is closed (RFC 9112 §6.3); every answer says nosniff.
func TestChunkedRequestsCloseTheConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u, err := url.Parse(b.url)
	require.NoError(t, err)
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /v1/events/tickets HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/documents HTTP/1.1\r\nHost: %s\r\n\r\n", u.Host, token(t, "alice"), u.Host)
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.True(t, resp.Close, "Connection: close")
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	_, err = http.ReadResponse(br, nil)
	require.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF),
		"the request behind it is never served: the connection is closed (got %v)", err)

	for _, path := range []string{"/v1/documents", "/healthz", "/v1/nope"} {
		require.Equal(t, "nosniff", b.do(t, http.MethodGet, path, "alice", nil, nil).Header.Get("X-Content-Type-Options"), path)
	}
}

// TestReplayTruncatedOnlyWhenPruned: other owners' events make gaps in an
// owner's positions; a resume across such a gap replays (nothing was
// lost), and only a resume from before pruned events is flagged.
func TestReplayTruncatedOnlyWhenPruned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	for range 3 {
		b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100))
	}
	bob := decode[documents.Document](t, b.uploadRaw(t, "bob", "b.pdf", pdfBytes(t, 100)))
	b.sequence(t)

	c, _, err := b.ws(t, "/v1/events?after=0", "bob", nil)
	require.NoError(t, err)
	m := readMsg(t, c)
	require.Equal(t, events.DocumentQueued, m.Type, "replayed from the log: bob lost nothing")
	require.Equal(t, bob.ID, m.DocumentID)
	c, _, err = b.ws(t, "/v1/documents/"+bob.ID.String()+"/events?after=99", "bob", nil)
	require.NoError(t, err)
	m = readMsg(t, c)
	require.Equal(t, "snapshot", m.Type, "a resume point past the log gets a snapshot")
	require.False(t, m.ReplayTruncated, "nothing was pruned")

	_, err = events.Prune(ctx, b.db.Pool, time.Now().Add(time.Hour))
	require.NoError(t, err)
	for _, path := range []string{"/v1/events?after=0", "/v1/documents/" + bob.ID.String() + "/events?after=0"} {
		c, _, err = b.ws(t, path, "bob", nil)
		require.NoError(t, err)
		m = readMsg(t, c)
		require.Equal(t, "snapshot", m.Type, path)
		require.True(t, m.ReplayTruncated, "%s: bob's events were pruned", path)
	}
}

// TestOwnerPositionsRevealNothing: the positions an owner's stream shows
// are its own log's, gap-free whatever other owners do; a resume point
// from before owner positions (a global pos) still resumes exactly.
func TestOwnerPositionsRevealNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100))
	first := decode[documents.Document](t, b.uploadRaw(t, "bob", "b1.pdf", pdfBytes(t, 100)))
	b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100))
	b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100))
	second := decode[documents.Document](t, b.uploadRaw(t, "bob", "b2.pdf", pdfBytes(t, 100)))
	b.sequence(t)

	c, _, err := b.ws(t, "/v1/events", "bob", nil)
	require.NoError(t, err)
	snap := readMsg(t, c)
	require.Equal(t, events.OwnerPosBase+2, snap.Pos, "the head of bob's own log")
	c, _, err = b.ws(t, fmt.Sprintf("/v1/events?after=%d", events.OwnerPosBase), "bob", nil)
	require.NoError(t, err)
	m1, m2 := readMsg(t, c), readMsg(t, c)
	require.Equal(t, []int64{events.OwnerPosBase + 1, events.OwnerPosBase + 2}, []int64{m1.Pos, m2.Pos}, "no gap where alice's events were")
	require.Equal(t, []any{first.ID, second.ID}, []any{m1.DocumentID, m2.DocumentID})

	oldCursor := b.count(t, "SELECT pos FROM document_events WHERE document_id = $1", first.ID)
	c, _, err = b.ws(t, fmt.Sprintf("/v1/events?after=%d", oldCursor), "bob", nil)
	require.NoError(t, err)
	m := readMsg(t, c)
	require.Equal(t, second.ID, m.DocumentID, "a global position from before resumes right after it")
	require.Equal(t, events.OwnerPosBase+2, m.Pos)
}

// TestNoAdminOnThePublicListener: River UI and the admin sign-in live on
// FOLIO_ADMIN_ADDR only; the API answers 404 under /admin, whoever asks.
func TestNoAdminOnThePublicListener(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { // folio dev: the demo app answers page loads
		o.web = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "<!doctype html>") })
	})
	for _, path := range []string{"/admin", "/admin/", "/admin/river/", "/admin/river/api/queues", "/admin/login"} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			resp := b.do(t, method, path, "alice", nil, map[string]string{"Accept": "text/html"})
			require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s", method, path)
		}
	}
}

// TestExpiredCredentialsOpenNoStream: a token past its expiry but inside
// the verifier's clock-skew leeway still works for a request, but opens
// no stream: it would end (4001) as it opened, and a client would
// reconnect in a loop.
func TestExpiredCredentialsOpenNoStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	late, err := auth.Sign([]byte(testSecret), "alice", -10*time.Second)
	require.NoError(t, err)
	resp := b.do(t, http.MethodGet, "/v1/documents", "", nil, map[string]string{"Authorization": "Bearer " + late})
	require.Equal(t, http.StatusOK, resp.StatusCode, "within the leeway")
	_, resp, err = b.ws(t, "/v1/events", "", http.Header{"Authorization": {"Bearer " + late}})
	require.Error(t, err)
	requireProblem(t, resp, http.StatusUnauthorized, "unauthorized")
}
