package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/webhooks"
)

// hookReceiver is an application's backend: it verifies every request
// with the stock Standard Webhooks library and keeps what it accepted.
type hookReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	wh  *standardwebhooks.Webhook
	// got: accepted messages by webhook-id, how many times each came.
	got      map[string]webhooks.Message
	times    map[string]int
	rejected int
	// held is closed by the first request of type holdType, which then
	// hangs until its connection goes.
	holdType string
	held     chan struct{}
	heldID   string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	rc := &hookReceiver{got: map[string]webhooks.Message{}, times: map[string]int{}, held: make(chan struct{})}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		wh := rc.wh
		rc.mu.Unlock()
		if wh == nil || wh.Verify(body, r.Header) != nil {
			rc.mu.Lock()
			rc.rejected++
			rc.mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m webhooks.Message
		if json.Unmarshal(body, &m) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		hold := rc.holdType != "" && m.Type == rc.holdType
		if hold {
			rc.holdType, rc.heldID = "", r.Header.Get("webhook-id")
		}
		rc.mu.Unlock()
		if hold {
			close(rc.held)
			<-r.Context().Done() // until the worker is gone
			return
		}
		id := r.Header.Get("webhook-id")
		rc.mu.Lock()
		rc.got[id] = m
		rc.times[id]++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *hookReceiver) messages() map[string]webhooks.Message {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]webhooks.Message, len(rc.got))
	for k, v := range rc.got {
		out[k] = v
	}
	return out
}

// TestWebhooksSurviveKill: an endpoint added with `folio webhooks add`,
// documents uploaded with the application's metadata on the one-request
// and tus paths, a change rolled back, and the worker killed (-9) while a
// delivery is in flight. After a new worker starts, every committed event
// of the subscribed types has been delivered (at least once, verified by
// the stock library, same webhook-id), the metadata in it; nothing of the
// rolled-back change ever is. The CLI lists, refuses, shows deliveries
// and replays.
func TestWebhooksSurviveKill(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rc := newHookReceiver(t)
	rc.holdType = "document.done"
	// A short attempt timeout: the killed worker's lease (timeout + 5 s)
	// runs out soon; quick retries.
	st := startStack(t, "FOLIO_WEBHOOK_ALLOW_NETS=127.0.0.0/8", "FOLIO_WEBHOOK_TIMEOUT=5s",
		"FOLIO_WEBHOOK_RETRIES=0s,1s,1s,1s,1s,1s", "FOLIO_PUBLIC_URL=https://folio.example")

	// Refused before anything is stored: a private address, with no
	// allowance for it.
	p := start(t, st.env, "folio", "webhooks", "add", "http://10.1.2.3/hook")
	require.Equal(t, 1, p.wait(t, time.Minute))
	require.Contains(t, p.stderr.String(), "refused")

	types := []string{"document.queued", "document.done", "document.updated", "document.deleted"}
	ep := folioJSON[webhooks.Endpoint](t, st.env, []string{"webhooks", "add", rc.srv.URL + "/hooks"},
		"--types", "document.queued,document.done,document.updated,document.deleted", "--description", "e2e")
	require.Regexp(t, `^whsec_`, ep.Secret)
	wh, err := standardwebhooks.NewWebhook(ep.Secret)
	require.NoError(t, err)
	rc.mu.Lock()
	rc.wh = wh
	rc.mu.Unlock()
	list := folioJSON[[]webhooks.Endpoint](t, st.env, []string{"webhooks", "list"})
	require.Len(t, list, 1)
	require.Equal(t, types, list[0].EventTypes)
	require.Empty(t, list[0].Secret, "the secret is shown once")

	tok, err := auth.Sign([]byte(testSecret), "app-user", time.Hour)
	require.NoError(t, err)
	c := client.New(tok, "http://"+st.apiAddr)
	pdf := pdftest.TextPages([]string{"invoice of order 8812"})

	// tus, with the metadata in Upload-Metadata.
	tusDoc, err := c.UploadResumable(ctx, "tus.pdf", bytes.NewReader(pdf), int64(len(pdf)), client.UploadOptions{
		ExternalID: "order-8812", Metadata: map[string]string{"kind": "invoice"}})
	require.NoError(t, err)
	require.Equal(t, "order-8812", tusDoc.ExternalID)
	// One request, with the metadata in the query.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+st.apiAddr+
		"/v1/documents?filename=one.pdf&external_id=order-8813&metadata.kind=receipt", bytes.NewReader(pdftest.TextPages([]string{"receipt"})))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/pdf")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var oneDoc client.Document
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&oneDoc))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, map[string]string{"kind": "receipt"}, oneDoc.Metadata)

	// The worker is killed while it delivers the first document.done.
	select {
	case <-rc.held:
	case <-ctx.Done():
		t.Fatal("no document.done delivery came")
	}
	st.worker.signal(t, syscall.SIGKILL)
	st.worker.wait(t, time.Minute)

	// A change rolled back: never delivered.
	tx, err := st.db.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = documents.UpdateAppData(ctx, tx, "app-user", oneDoc.ID, documents.AppDataPatch{ExternalID: ptrTo("rolled-back")})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	// A change committed (PATCH: document.updated), and a deletion.
	_, err = c.SetAppData(ctx, tusDoc.ID, client.AppDataPatch{Metadata: map[string]*string{"paid": ptrTo("yes")}})
	require.NoError(t, err)
	// A new worker; the second document parsed, then deleted.
	st.worker = start(t, st.env, "worker")
	require.Eventually(t, func() bool {
		d, err := c.Get(ctx, oneDoc.ID)
		return err == nil && d.Status == "done"
	}, 2*time.Minute, 50*time.Millisecond)
	require.NoError(t, c.Delete(ctx, oneDoc.ID))
	// Both documents are done (or deleted) and every committed event of
	// the subscribed types is delivered.
	var want map[string]string
	allDelivered := func() bool {
		want = map[string]string{}
		rows, err := st.db.Pool.Query(ctx, `SELECT document_id, seq, type FROM document_events WHERE type = ANY($1)`, types)
		require.NoError(t, err)
		for rows.Next() {
			var doc uuid.UUID
			var seq int
			var typ string
			require.NoError(t, rows.Scan(&doc, &seq, &typ))
			want[webhooks.MessageID(doc, seq)] = typ
		}
		require.NoError(t, rows.Err())
		done := 0
		for _, typ := range want {
			if typ == "document.done" {
				done++
			}
		}
		got := rc.messages()
		for id := range want {
			if _, ok := got[id]; !ok {
				return false
			}
		}
		return done == 2
	}
	for deadline := time.Now().Add(3 * time.Minute); !allDelivered(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			rows, err := st.db.Pool.Query(ctx, `SELECT message_id, type, status, attempts, next_attempt_at, leased_until, coalesce(last_error, ''), last_status FROM webhook_deliveries`)
			require.NoError(t, err)
			for rows.Next() {
				vals, _ := rows.Values()
				t.Log(vals...)
			}
			rows.Close()
			t.Fatalf("not every committed event delivered: want %v, got %v", want, rc.messages())
		}
	}

	got := rc.messages()
	require.Len(t, got, len(want), "nothing but committed, subscribed events")
	byType := map[string]int{}
	for id, m := range got {
		require.Equal(t, want[id], m.Type, id)
		byType[m.Type]++
		require.NotEqual(t, "rolled-back", m.Data.ExternalID, "a rolled-back change is never delivered")
		if m.Data.DocumentID == tusDoc.ID {
			require.Equal(t, "order-8812", m.Data.ExternalID)
			require.Equal(t, "invoice", m.Data.Metadata["kind"])
			require.Equal(t, "https://folio.example/v1/documents/"+tusDoc.ID.String(), m.Data.Links.Document)
		} else {
			require.Equal(t, "order-8813", m.Data.ExternalID)
		}
	}
	require.Equal(t, map[string]int{"document.queued": 2, "document.done": 2, "document.updated": 1, "document.deleted": 1}, byType)
	rc.mu.Lock()
	require.Zero(t, rc.rejected, "every delivery verifies")
	rc.mu.Unlock()

	// The delivery in flight when the worker died was attempted again
	// (same webhook-id), and the CLI shows it; replaying it sends it once
	// more with the same webhook-id.
	ds := folioJSON[[]webhooks.Delivery](t, st.env, []string{"webhooks", "deliveries", ep.ID.String()}, "--status", "delivered")
	require.Len(t, ds, len(want))
	var retried *webhooks.Delivery
	for _, d := range ds {
		if d.MessageID == rc.heldID {
			retried = &d
		}
	}
	require.NotNil(t, retried, "the delivery the killed worker held: %+v", ds)
	require.Equal(t, "document.done", retried.Type)
	require.Greater(t, retried.Attempts, 1, "the delivery the killed worker held was attempted again")
	before := got[retried.MessageID]
	p = start(t, st.env, "folio", "webhooks", "replay", strconv.FormatInt(retried.ID, 10))
	require.Equal(t, 0, p.wait(t, time.Minute), p.stderr.String())
	require.Eventually(t, func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return rc.times[retried.MessageID] >= 2
	}, time.Minute, 50*time.Millisecond)
	require.Equal(t, before, rc.messages()[retried.MessageID])

	// The rest of an operator's commands.
	id := ep.ID.String()
	rotated := folioJSON[webhooks.Endpoint](t, st.env, []string{"webhooks", "rotate-secret", id}, "--keep", "1h")
	require.Regexp(t, `^whsec_`, rotated.Secret)
	require.NotEqual(t, ep.Secret, rotated.Secret)
	require.WithinDuration(t, time.Now().Add(time.Hour), *rotated.PreviousExpiresAt, time.Minute)
	updated := folioJSON[webhooks.Endpoint](t, st.env, []string{"webhooks", "update", id}, "--types", "document.done", "--owners", "app-user")
	require.Equal(t, []string{"document.done"}, updated.EventTypes)
	require.Equal(t, []string{"app-user"}, updated.Owners)
	require.Equal(t, "e2e", updated.Description, "what update does not name stays")
	require.Equal(t, webhooks.DisabledByOperator, folioJSON[webhooks.Endpoint](t, st.env, []string{"webhooks", "disable", id}).DisabledReason)
	require.Nil(t, folioJSON[webhooks.Endpoint](t, st.env, []string{"webhooks", "enable", id}, "--skip-backlog").DisabledAt)
	p = start(t, st.env, "folio", "webhooks", "update", id, "--url", "http://[fd00:ec2::254]/")
	require.Equal(t, 1, p.wait(t, time.Minute))
	require.Contains(t, p.stderr.String(), "refused")
	p = start(t, st.env, "folio", "webhooks", "remove", id)
	require.Equal(t, 0, p.wait(t, time.Minute), p.stderr.String())
	require.Empty(t, folioJSON[[]webhooks.Endpoint](t, st.env, []string{"webhooks", "list"}))

	// The list filters by the application's data.
	found, err := c.Find(ctx, "order-8812", map[string]string{"kind": "invoice"})
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, tusDoc.ID, found[0].ID)
	require.Equal(t, "yes", found[0].Metadata["paid"])
}

func ptrTo[T any](v T) *T { return &v }

// nodeReceiver is web/e2e/webhook-receiver.mjs: stock standardwebhooks
// from npm verifying what it gets.
type nodeReceiver struct {
	port  int
	stdin io.Writer
}

type nodeLine struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Verified []bool `json:"verified"`
	Secrets  int    `json:"secrets"`
	Port     int    `json:"port"`
}

func startNodeReceiver(t *testing.T) (*nodeReceiver, chan nodeLine) {
	t.Helper()
	web := webDir(t, "standardwebhooks")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", "e2e/webhook-receiver.mjs")
	cmd.Dir = web
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("receiver stderr:\n%s", stderr.String())
		}
	})
	lines := make(chan nodeLine, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l nodeLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				lines <- l
			}
		}
		close(lines)
	}()
	first := next(t, lines)
	require.NotZero(t, first.Port)
	return &nodeReceiver{port: first.Port, stdin: stdin}, lines
}

func next(t *testing.T, lines chan nodeLine) nodeLine {
	t.Helper()
	select {
	case l, ok := <-lines:
		require.True(t, ok, "the receiver exited")
		return l
	case <-time.After(2 * time.Minute):
		t.Fatal("nothing from the receiver for 2 minutes")
		return nodeLine{}
	}
}

// TestWebhooksTypeScriptReceiver: a Node receiver verifying with stock
// standardwebhooks (npm) accepts every delivery of a real worker; it
// rejects a tampered body and an old timestamp; after a secret rotation,
// a receiver with the old secret and one with the new both verify every
// message (two signatures).
func TestWebhooksTypeScriptReceiver(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st := startStack(t, "FOLIO_WEBHOOK_ALLOW_NETS=127.0.0.0/8")
	rc, lines := startNodeReceiver(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/hooks", rc.port)
	guard := &webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	ep, err := webhooks.Add(ctx, st.db.Pool, guard, webhooks.Input{URL: &url})
	require.NoError(t, err)
	setSecrets := func(s ...string) {
		b, _ := json.Marshal(s)
		_, err := fmt.Fprintf(rc.stdin, "%s\n", b)
		require.NoError(t, err)
		for {
			if l := next(t, lines); l.ID == "" && l.Type == "" {
				require.Equal(t, len(s), l.Secrets)
				return
			}
		}
	}
	setSecrets(ep.Secret)

	tok, err := auth.Sign([]byte(testSecret), "ts-app", time.Hour)
	require.NoError(t, err)
	c := client.New(tok, "http://"+st.apiAddr)
	// Every message of a document, through to document.done, verifies
	// with every secret the receiver has.
	untilDone := func(secrets int) {
		t.Helper()
		data := pdftest.TextPages([]string{fmt.Sprintf("typescript receiver %d", secrets)})
		doc, err := c.Upload(ctx, "ts.pdf", bytes.NewReader(data), int64(len(data)), nil)
		require.NoError(t, err)
		prefix := "msg_" + strings.ReplaceAll(doc.ID.String(), "-", "") + "_"
		for {
			l := next(t, lines)
			if !strings.HasPrefix(l.ID, prefix) {
				continue // the previous document's retries, if any
			}
			require.Len(t, l.Verified, secrets)
			for _, v := range l.Verified {
				require.True(t, v, "%s (%s) did not verify", l.ID, l.Type)
			}
			if l.Type == "document.done" {
				return
			}
		}
	}
	untilDone(1)

	post := func(id string, ts int64, body []byte, sigBody []byte) {
		t.Helper()
		sig, err := webhooks.Sign([]string{ep.Secret}, id, ts, sigBody)
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("webhook-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	// The answer to a request of the test's own (the worker's messages
	// of the document may still come, out of order).
	verdict := func(id string) []bool {
		t.Helper()
		for {
			if l := next(t, lines); l.ID == id {
				return l.Verified
			}
		}
	}
	body := []byte(`{"type":"document.done","timestamp":"2026-12-03T00:00:00Z","data":{"status":"done"}}`)
	post("msg_check_1", time.Now().Unix(), body, body)
	require.Equal(t, []bool{true}, verdict("msg_check_1"), "signed as Folio signs: accepted")
	post("msg_check_2", time.Now().Unix(), bytes.Replace(body, []byte("done"), []byte("fail"), 1), body)
	require.Equal(t, []bool{false}, verdict("msg_check_2"), "a tampered body is rejected")
	post("msg_check_3", time.Now().Add(-10*time.Minute).Unix(), body, body)
	require.Equal(t, []bool{false}, verdict("msg_check_3"), "an old timestamp is rejected")

	rotated, err := webhooks.RotateSecret(ctx, st.db.Pool, ep.ID, time.Hour)
	require.NoError(t, err)
	setSecrets(ep.Secret, rotated.Secret)
	untilDone(2)
}
