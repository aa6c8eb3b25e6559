package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
)

// TestEventsAcrossAPIInstances: two API processes and a worker. A client
// watching through API B sees the events of a document uploaded through
// API A; B's LISTEN connection is terminated mid-parse, then B gets
// SIGTERM: the client gets 1012, resumes through A, and has seen every
// event once, in order, ending in document.done.
func TestEventsAcrossAPIInstances(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	addrA, addrB, health := freeAddr(t), freeAddr(t), freeAddr(t)
	base := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_SHUTDOWN_TIMEOUT=5s")
	apiA := start(t, append(base, "FOLIO_HTTP_ADDR="+addrA), "api")
	apiB := start(t, append(base, "FOLIO_HTTP_ADDR="+addrB), "api")
	worker := start(t, append(base, "FOLIO_HEALTH_ADDR="+health, "FOLIO_WORKER_CONCURRENCY=1", "FOLIO_PROGRESS_INTERVAL=50ms"), "worker")
	for p, a := range map[*proc]string{apiA: addrA, apiB: addrB, worker: health} {
		waitStatus(t, p, "http://"+a+"/readyz", http.StatusOK, 30*time.Second)
	}
	tok, err := auth.Sign([]byte(testSecret), "alice", time.Hour)
	require.NoError(t, err)

	// A long document, so that the disruptions land mid-parse.
	data := pdftest.LongDocument("long", 2000, 40)
	viaA := client.New(tok, "http://"+addrA)
	doc, err := viaA.Upload(ctx, "long.pdf", bytes.NewReader(data), int64(len(data)), nil)
	require.NoError(t, err)

	var (
		mu       sync.Mutex
		msgs     []client.Message
		progress = make(chan int, 1000)
	)
	viaB := client.New(tok, "http://"+addrB, "http://"+addrA)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- viaB.WatchDocument(ctx, doc.ID, func(m client.Message) error {
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
			if m.Type == events.ParseProgress {
				var p client.Progress
				_ = json.Unmarshal(m.Data, &p)
				select {
				case progress <- p.PagesDone:
				default:
				}
			}
			if m.Terminal() {
				return client.ErrStop
			}
			return nil
		})
	}()
	waitPages := func(min int) int {
		for {
			select {
			case n := <-progress:
				if n >= min {
					return n
				}
			case <-ctx.Done():
				t.Fatal("no progress")
			}
		}
	}

	waitPages(1)
	var killed int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		fmt.Sprintf("%s:%d", events.ApplicationName, apiB.cmd.Process.Pid)).Scan(&killed))
	require.Equal(t, 1, killed, "B's listen connection")
	atKill := waitPages(1)

	mu.Lock()
	beforeTerm := len(msgs)
	mu.Unlock()
	apiB.signal(t, syscall.SIGTERM)
	require.Equal(t, 0, apiB.wait(t, 30*time.Second), apiB.stderr.String())

	require.NoError(t, <-watchDone)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, "snapshot", msgs[0].Type)
	for i := 1; i < len(msgs); i++ {
		require.Equal(t, msgs[i-1].Seq+1, msgs[i].Seq, "gap-free and no duplicates at message %d (%s)", i, msgs[i].Type)
	}
	require.Equal(t, events.DocumentDone, msgs[len(msgs)-1].Type)
	progressAfter := 0
	for _, m := range msgs[beforeTerm:] {
		if m.Type == events.ParseProgress {
			progressAfter++
		}
	}
	require.Positive(t, progressAfter, "the parse was still going when B stopped: progress came through A")
	t.Logf("%d messages; B's listen connection cut at page %d of 2000; %d progress events after B stopped", len(msgs), atKill, progressAfter)
}

// TestStreamLiveDuringShutdownDelay: a websocket stream open when the API
// gets SIGTERM goes on receiving live events for FOLIO_SHUTDOWN_DELAY
// (while load balancers stop sending to it), then gets 1012; the hub that
// feeds it stops only after it has closed.
func TestStreamLiveDuringShutdownDelay(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	addr := freeAddr(t)
	api := start(t, append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret,
		"FOLIO_HTTP_ADDR="+addr, "FOLIO_SHUTDOWN_DELAY=5s"), "api")
	waitStatus(t, api, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second)
	tok, err := auth.Sign([]byte(testSecret), "alice", time.Hour)
	require.NoError(t, err)

	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/v1/events", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}},
	})
	require.NoError(t, err)
	defer func() { _ = c.CloseNow() }()
	read := func() (string, error) {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, msg, err := c.Read(rctx)
		if err != nil {
			return "", err
		}
		var m struct{ Type string }
		require.NoError(t, json.Unmarshal(msg, &m))
		return m.Type, nil
	}
	typ, err := read()
	require.NoError(t, err)
	require.Equal(t, "snapshot", typ)

	api.signal(t, syscall.SIGTERM)
	waitStatus(t, api, "http://"+addr+"/readyz", http.StatusServiceUnavailable, 10*time.Second)
	// Committed during the delay (the API still serves uploads then).
	data := pdftest.TextPages([]string{"late"})
	_, err = client.New(tok, "http://"+addr).Upload(ctx, "late.pdf", bytes.NewReader(data), int64(len(data)), nil)
	require.NoError(t, err)

	typ, err = read()
	require.NoError(t, err, "the event committed during the shutdown delay arrives live")
	require.Equal(t, events.DocumentQueued, typ)
	_, err = read()
	require.Equal(t, websocket.StatusServiceRestart, websocket.CloseStatus(err), "then 1012: reconnect elsewhere")
	require.Equal(t, 0, api.wait(t, 30*time.Second), api.stderr.String())
}
