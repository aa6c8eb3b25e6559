package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
)

type streamed struct {
	Type string          `json:"type"`
	Seq  int             `json:"seq"`
	At   time.Time       `json:"created_at"`
	Data json.RawMessage `json:"data"`
	got  time.Time
}

// TestStream300Pages: a 300-page PDF parsed by the real worker, watched by a
// raw websocket client and a raw SSE client from before it is queued: each
// sees a snapshot, then a gap-free seq run ending in document.done, with
// progress while parsing, delivered as it is written (not at the end).
//
// Its time bounds are on the times the system recorded (the events'
// created_at, written by the worker) and hold at many times the normal
// load: how fast events arrive is BenchmarkEventDelivery's question.
func TestStream300Pages(t *testing.T) {
	t.Parallel()
	const interval = 250 * time.Millisecond // the worker's FOLIO_PROGRESS_INTERVAL
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	apiAddr, health := freeAddr(t), freeAddr(t)
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret,
		"FOLIO_HTTP_ADDR="+apiAddr, "FOLIO_HEALTH_ADDR="+health)
	api := start(t, env, "api")
	waitStatus(t, api, "http://"+apiAddr+"/readyz", http.StatusOK, 60*time.Second)
	tok, err := auth.Sign([]byte(testSecret), "alice", time.Hour)
	require.NoError(t, err)

	data := pdftest.LongDocument("Chapter", 300, 45)
	// Upload before any worker runs: the streams see the whole parse.
	doc, err := client.New(tok, "http://"+apiAddr).Upload(ctx, "thesis.pdf", bytes.NewReader(data), int64(len(data)), nil)
	require.NoError(t, err)
	path := "/v1/documents/" + doc.ID.String() + "/events"

	wsCh, sseCh := make(chan []streamed, 1), make(chan []streamed, 1)
	wsReady, sseReady := make(chan struct{}), make(chan struct{})
	go func() { wsCh <- readWS(ctx, t, "ws://"+apiAddr+path, tok, wsReady) }()
	go func() { sseCh <- readSSE(ctx, t, "http://"+apiAddr+path, tok, sseReady) }()
	<-wsReady
	<-sseReady

	worker := start(t, append(env, "FOLIO_PROGRESS_INTERVAL="+interval.String()), "worker")
	waitStatus(t, worker, "http://"+health+"/readyz", http.StatusOK, 60*time.Second)

	schemas := loadEventSchemas(t)
	for name, msgs := range map[string][]streamed{"websocket": <-wsCh, "SSE": <-sseCh} {
		require.Equal(t, "snapshot", msgs[0].Type, name)
		for _, m := range msgs[1:] {
			schemas.requireDescribed(t, m.Type, m.Data) // what the browser client's types say
		}
		require.Equal(t, 1, msgs[0].Seq, name)
		for i := 1; i < len(msgs); i++ {
			require.Equal(t, msgs[i-1].Seq+1, msgs[i].Seq, "%s: gap-free at %d", name, i)
		}
		last := msgs[len(msgs)-1]
		require.Equal(t, "document.done", last.Type, name)
		// Progress while parsing, spread over the parse and delivered as
		// it is written: the progress writes span at least half of the
		// parse (parse.started to document.done, less two intervals),
		// where progress held back and written in a burst would span
		// next to nothing; and the stream had progress before the worker
		// wrote document.done. Both are ratios of the system's own
		// times, whatever the CPU: on a busy machine (make test-busy) the
		// parse crawls and one early gap between two writes has taken
		// 5 to 8 s, which a bound in seconds mistook for holding back.
		var started, first, lastProgress time.Time
		progress, early := 0, 0
		for _, m := range msgs[1:] {
			switch m.Type {
			case "parse.started":
				if started.IsZero() {
					started = m.At
				}
			case "parse.progress":
				progress++
				if m.got.Before(last.At) {
					early++
				}
				if first.IsZero() {
					first = m.At
				}
				lastProgress = m.At
			}
		}
		require.False(t, started.IsZero(), "%s: parse.started", name)
		parse := last.At.Sub(started)
		require.GreaterOrEqual(t, lastProgress.Sub(first), (parse-2*interval)/2,
			"%s: progress written from %s to %s of a parse of %s", name, first.Sub(started), lastProgress.Sub(started), parse)
		require.GreaterOrEqual(t, progress, 2, name)
		require.Positive(t, early, "%s: progress arrives while the parse runs, not with its end", name)
		t.Logf("%s: %d messages, %d progress events (%d before the end was written)", name, len(msgs), progress, early)
	}
}

func readWS(ctx context.Context, t *testing.T, url, tok string, ready chan struct{}) []streamed {
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Error(err)
		close(ready)
		return nil
	}
	defer c.CloseNow() //nolint:errcheck // test cleanup
	var out []streamed
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Error(err)
			return out
		}
		var m streamed
		_ = json.Unmarshal(b, &m)
		m.got = time.Now()
		out = append(out, m)
		if m.Type == "snapshot" {
			close(ready)
		}
		if m.Type == "document.done" || m.Type == "document.failed" {
			return out
		}
	}
}

func readSSE(ctx context.Context, t *testing.T, url, tok string, ready chan struct{}) []streamed {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		close(ready)
		return nil
	}
	defer resp.Body.Close()
	var out []streamed
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var m streamed
		_ = json.Unmarshal([]byte(data), &m)
		m.got = time.Now()
		out = append(out, m)
		if m.Type == "snapshot" {
			close(ready)
		}
		if m.Type == "document.done" || m.Type == "document.failed" {
			return out
		}
	}
	t.Error("SSE stream ended early")
	return out
}
