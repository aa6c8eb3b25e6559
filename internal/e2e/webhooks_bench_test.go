package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"golang.org/x/sync/errgroup"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/webhooks"
)

// BenchmarkWebhooksThreeEndpoints: WEBHOOK_DOCS (1,000) one-page PDFs of
// two owners uploaded (8 at a time, each with an external_id and
// metadata) through a real API and worker, with three endpoints: one
// wants every type, one document.done only, one the terminal types of
// one owner. Each receiver verifies every request with the stock Standard
// Webhooks library. It fails unless every endpoint gets every event it
// subscribed to; it reports the lag from an event's commit to its
// receipt (p50, p99, over every endpoint's deliveries), and documents/s
// from the first upload to the last delivery.
//
//	go test -run '^$' -bench WebhooksThreeEndpoints -benchtime 1x ./internal/e2e
func BenchmarkWebhooksThreeEndpoints(b *testing.B) {
	docs := 1000
	if v, err := strconv.Atoi(os.Getenv("WEBHOOK_DOCS")); err == nil && v > 0 {
		docs = v
	}
	for range b.N {
		benchWebhooks(b, docs)
	}
}

// benchReceiver keeps when each webhook-id first came.
type benchReceiver struct {
	mu   sync.Mutex
	got  map[string]time.Time
	bad  int
	srv  *httptest.Server
	wh   *standardwebhooks.Webhook
	want func(typ, owner string) bool
}

func benchWebhooks(b *testing.B, docs int) {
	ctx := context.Background()
	db, bucket := testenv.Postgres(b), testenv.S3(b)
	apiAddr, healthAddr := freeAddr(b), freeAddr(b)
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_HTTP_ADDR="+apiAddr, "FOLIO_HEALTH_ADDR="+healthAddr,
		"FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_LOG_LEVEL=warn", "FOLIO_UPLOAD_RATE_LIMIT=100000",
		"FOLIO_SCAN=off", "FOLIO_WEBHOOK_ALLOW_NETS=127.0.0.0/8")
	api := start(b, env, "api")
	worker := start(b, env, "worker")
	waitStatus(b, api, "http://"+apiAddr+"/readyz", http.StatusOK, 30*time.Second)
	waitStatus(b, worker, "http://"+healthAddr+"/readyz", http.StatusOK, 30*time.Second)

	guard := &webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	endpoints := []webhooks.Input{
		{},
		{EventTypes: &[]string{"document.done"}},
		{EventTypes: &[]string{"document.done", "document.failed", "document.deleted"}, Owners: &[]string{"owner-a"}},
	}
	var rcs []*benchReceiver
	for _, in := range endpoints {
		rc := &benchReceiver{got: map[string]time.Time{}}
		rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			at := time.Now()
			var body bytes.Buffer
			_, _ = body.ReadFrom(r.Body)
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if rc.wh == nil || rc.wh.Verify(body.Bytes(), r.Header) != nil {
				rc.bad++
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if _, ok := rc.got[r.Header.Get("webhook-id")]; !ok {
				rc.got[r.Header.Get("webhook-id")] = at
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		defer rc.srv.Close()
		in.URL = &rc.srv.URL
		ep, err := webhooks.Add(ctx, db.Pool, guard, in)
		if err != nil {
			b.Fatal(err)
		}
		wh, err := standardwebhooks.NewWebhook(ep.Secret)
		if err != nil {
			b.Fatal(err)
		}
		rc.mu.Lock()
		rc.wh, rc.want = wh, ep.Wants
		rc.mu.Unlock()
		rcs = append(rcs, rc)
	}

	clients := map[string]*client.Client{}
	for _, owner := range []string{"owner-a", "owner-b"} {
		tok, err := auth.Sign([]byte(testSecret), owner, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		clients[owner] = client.New(tok, "http://"+apiAddr)
	}
	b.ResetTimer()
	began := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range docs {
		g.Go(func() error {
			owner := []string{"owner-a", "owner-b"}[i%2]
			data := pdftest.TextPages([]string{fmt.Sprintf("webhook bench %d", i)})
			_, err := clients[owner].UploadResumable(gctx, "bench.pdf", bytes.NewReader(data), int64(len(data)), client.UploadOptions{
				ExternalID: "order-" + strconv.Itoa(i), Metadata: map[string]string{"batch": "bench"}})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}

	// Every subscribed event of the run, once every document is done.
	type event struct {
		id, typ, owner string
		at             time.Time
	}
	var evs []event
	deadline := time.Now().Add(30 * time.Minute)
	for {
		var done int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM documents WHERE status IN ('done', 'failed')`).Scan(&done); err != nil {
			b.Fatal(err)
		}
		missing := 0
		if done == docs {
			rows, err := db.Pool.Query(ctx, `SELECT document_id, seq, type, owner, created_at FROM document_events WHERE pos IS NOT NULL`)
			if err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
			for rows.Next() {
				var doc uuid.UUID
				var seq int
				var e event
				if err := rows.Scan(&doc, &seq, &e.typ, &e.owner, &e.at); err != nil {
					b.Fatal(err)
				}
				e.id = webhooks.MessageID(doc, seq)
				evs = append(evs, e)
			}
			rows.Close()
			for _, rc := range rcs {
				rc.mu.Lock()
				for _, e := range evs {
					if _, ok := rc.got[e.id]; rc.want(e.typ, e.owner) && !ok {
						missing++
					}
				}
				rc.mu.Unlock()
			}
			if missing == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("after 30 minutes: %d of %d documents ended, %d deliveries missing", done, docs, missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(began)
	b.StopTimer()

	var lags []time.Duration
	for i, rc := range rcs {
		rc.mu.Lock()
		n := 0
		for _, e := range evs {
			if !rc.want(e.typ, e.owner) {
				continue
			}
			n++
			lags = append(lags, rc.got[e.id].Sub(e.at))
		}
		if rc.bad > 0 || len(rc.got) != n {
			b.Fatalf("endpoint %d: %d requests failed verification, %d messages for %d subscribed events", i, rc.bad, len(rc.got), n)
		}
		b.ReportMetric(float64(n), fmt.Sprintf("ep%d-events", i))
		rc.mu.Unlock()
	}
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "lag-p50-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "lag-p99-ms")
	b.ReportMetric(float64(docs)/took.Seconds(), "docs/s")
}
