package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
)

type streamMsg struct {
	Type            string               `json:"type"`
	Seq             int                  `json:"seq"`
	Pos             int64                `json:"pos"`
	DocumentID      uuid.UUID            `json:"document_id"`
	Document        *documents.Document  `json:"document"`
	Documents       []documents.Document `json:"documents"`
	ReplayTruncated bool                 `json:"replay_truncated"`
	Data            json.RawMessage      `json:"data"`
}

func (b *testBundle) ws(t *testing.T, path, sub string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if header == nil {
		header = http.Header{}
	}
	if sub != "" {
		header.Set("Authorization", "Bearer "+token(t, sub))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.url, "http")+path, &websocket.DialOptions{HTTPHeader: header})
	if c != nil {
		t.Cleanup(func() { _ = c.CloseNow() })
	}
	return c, resp, err
}

func readMsg(t *testing.T, c *websocket.Conn) streamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	require.NoError(t, err)
	var m streamMsg
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// parseSteps runs a document through a parse the way the worker writes it.
func (b *testBundle) parseSteps(t *testing.T, id uuid.UUID, pages int) {
	t.Helper()
	ctx := context.Background()
	gen := int64(7)
	_, _, err := documents.StartParse(ctx, b.db.Pool, id, gen, 1)
	require.NoError(t, err)
	require.NoError(t, documents.SetPageCount(ctx, b.db.Pool, id, gen, pages, 0))
	for p := 1; p <= pages; p++ {
		require.NoError(t, documents.SavePages(ctx, b.db.Pool, id, gen,
			[]documents.PageRow{{Number: p, Width: 1, Height: 1, Text: "x"}}, p, true))
	}
	_, err = documents.FinishParse(ctx, b.db.Pool, id, gen, pages, documents.Summary{}, nil, nil)
	require.NoError(t, err)
}

func TestDocumentStreamWebsocket(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100)))
	c, _, err := b.ws(t, "/v1/documents/"+doc.ID.String()+"/events", "alice", nil)
	require.NoError(t, err)

	snap := readMsg(t, c)
	require.Equal(t, "snapshot", snap.Type)
	require.Equal(t, 1, snap.Seq, "document.queued was its first event")
	require.Equal(t, documents.StatusQueued, snap.Document.Status)

	b.parseSteps(t, doc.ID, 3)
	want := []string{"parse.started", "parse.progress", "parse.progress", "parse.progress", "parse.progress", "parse.progress", "document.done"}
	for i, typ := range want {
		m := readMsg(t, c)
		require.Equal(t, typ, m.Type)
		require.Equal(t, 2+i, m.Seq, "gap-free, in order")
		require.Equal(t, doc.ID, m.DocumentID)
	}

	// Reconnect after seq 4: exactly what was missed.
	c2, _, err := b.ws(t, "/v1/documents/"+doc.ID.String()+"/events?after=4", "alice", nil)
	require.NoError(t, err)
	for seq := 5; seq <= 8; seq++ {
		require.Equal(t, seq, readMsg(t, c2).Seq)
	}
}

func TestDocumentStreamSSE(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100)))
	b.parseSteps(t, doc.ID, 2)

	req, err := http.NewRequest(http.MethodGet, b.url+"/v1/documents/"+doc.ID.String()+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token(t, "alice"))
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", "3")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	sc := bufio.NewScanner(resp.Body)
	var ids, types []string
	for len(types) < 4 && sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			ids = append(ids, id)
		}
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			types = append(types, ev)
		}
	}
	require.Equal(t, []string{"4", "5", "6", "7"}, ids, "everything after Last-Event-ID, once")
	require.Equal(t, []string{"parse.progress", "parse.progress", "parse.progress", "document.done"}, types)
}

func TestAllEventsStreamIsOwnerScoped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mine := decode[documents.Document](t, b.uploadRaw(t, "bob", "b.pdf", pdfBytes(t, 100)))
	c, _, err := b.ws(t, "/v1/events", "bob", nil)
	require.NoError(t, err)
	snap := readMsg(t, c)
	require.Equal(t, "snapshot", snap.Type)

	theirs := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100)))
	b.parseSteps(t, theirs.ID, 1)
	b.parseSteps(t, mine.ID, 1)
	for {
		m := readMsg(t, c)
		require.Equal(t, mine.ID, m.DocumentID, "alice's events never reach bob")
		if m.Type == "document.done" {
			break
		}
	}
}

func TestStreamSecurity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	doc := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100)))
	path := "/v1/documents/" + doc.ID.String() + "/events"

	_, resp, err := b.ws(t, path, "bob", nil)
	require.Error(t, err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "another owner's document: 404 before the upgrade")

	_, resp, err = b.ws(t, path, "alice", http.Header{"Origin": {"http://evil.example"}})
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "cross-site websocket hijacking")
	c, _, err := b.ws(t, path, "alice", http.Header{"Origin": {"http://app.example"}})
	require.NoError(t, err, "an allowed origin")
	_ = c.CloseNow()

	_, resp, err = b.ws(t, path, "", nil)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// Tickets: single use, 60 s.
	tk := decode[struct{ Ticket string }](t, b.do(t, http.MethodPost, "/v1/events/tickets", "alice", nil, nil))
	require.NotEmpty(t, tk.Ticket)
	c, _, err = b.ws(t, path+"?ticket="+tk.Ticket, "", nil)
	require.NoError(t, err)
	require.Equal(t, "snapshot", readMsg(t, c).Type)
	_, resp, err = b.ws(t, path+"?ticket="+tk.Ticket, "", nil)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a used ticket")

	expired, _, err := events.IssueTicket(ctx, b.db.Pool, "alice", -time.Second, time.Time{})
	require.NoError(t, err)
	_, resp, err = b.ws(t, path+"?ticket="+expired, "", nil)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "an expired ticket")

	bobTicket := decode[struct{ Ticket string }](t, b.do(t, http.MethodPost, "/v1/events/tickets", "bob", nil, nil))
	_, resp, err = b.ws(t, path+"?ticket="+bobTicket.Ticket, "", nil)
	require.Error(t, err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "a ticket is its owner's")
}

func TestCloseStreamsSays1012(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100)))
	c, _, err := b.ws(t, "/v1/documents/"+doc.ID.String()+"/events", "alice", nil)
	require.NoError(t, err)
	readMsg(t, c)

	b.server.CloseStreams()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err = c.Read(ctx)
	require.Equal(t, websocket.StatusServiceRestart, websocket.CloseStatus(err), fmt.Sprint(err))
}

// TestSnapshotIsNotFollowedByWhatItReflects: a dashboard snapshot read
// while an event is committed but has no position yet (the sequencer held
// off) shows its effect; the event, sequenced later, is not sent again,
// and the stream goes on with the next one.
func TestSnapshotIsNotFollowedByWhatItReflects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	hold, err := b.db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer hold.Release()
	_, err = hold.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, events.SequenceLock)
	require.NoError(t, err)

	first := decode[documents.Document](t, b.uploadRaw(t, "bob", "b.pdf", pdfBytes(t, 100)))
	c, _, err := b.ws(t, "/v1/events", "bob", nil)
	require.NoError(t, err)
	snap := readMsg(t, c)
	require.Equal(t, "snapshot", snap.Type)
	require.Equal(t, events.OwnerPosBase, snap.Pos, "nothing sequenced yet")
	require.Len(t, snap.Documents, 1)
	require.Equal(t, first.ID, snap.Documents[0].ID, "the snapshot shows the upload")

	_, err = hold.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, events.SequenceLock)
	require.NoError(t, err)
	second := decode[documents.Document](t, b.uploadRaw(t, "bob", "b2.pdf", pdfBytes(t, 100)))
	m := readMsg(t, c)
	require.Equal(t, second.ID, m.DocumentID, "the first upload's event is not sent after the snapshot that reflects it")
	require.Equal(t, events.OwnerPosBase+2, m.Pos)
}
