package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/admin"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/webhooks"
)

func decodeAs[T any](t *testing.T, resp *http.Response) T {
	t.Helper()
	var v T
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v
}

// TestWebhooksAPI: an operator adds, lists, changes, rotates, disables,
// enables and removes endpoints through the admin API, lists an
// endpoint's deliveries and replays them; refused addresses, unknown
// types and bad times get specific problems; nobody else gets in.
func TestWebhooksAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base, db, client := setupWith(t, func(c *admin.Config) {
		c.Webhooks = admin.WebhookConfig{Guard: &webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, RotationOverlap: time.Hour}
	})
	problem := func(resp *http.Response, status int, code string) {
		t.Helper()
		require.Equal(t, status, resp.StatusCode)
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		require.Equal(t, code, decodeAs[struct{ Code string }](t, resp).Code)
	}

	require.Equal(t, http.StatusUnauthorized, send(t, http.MethodGet, base+"/admin/api/webhooks", "", "").StatusCode)
	problem(send(t, http.MethodPost, base+"/admin/api/webhooks", adminToken, `{"url": "http://169.254.169.254/latest"}`), 400, "address_refused")
	problem(send(t, http.MethodPost, base+"/admin/api/webhooks", adminToken, `{"url": "http://10.0.0.1/"}`), 400, "address_refused")
	problem(send(t, http.MethodPost, base+"/admin/api/webhooks", adminToken, `{"url": "ftp://127.0.0.1/"}`), 400, "bad_endpoint")
	problem(send(t, http.MethodPost, base+"/admin/api/webhooks", adminToken, `{"url": "http://127.0.0.1:9/", "event_types": ["document.progress"]}`), 400, "bad_endpoint")
	problem(send(t, http.MethodPost, base+"/admin/api/webhooks", adminToken, `{"url": `), 400, "bad_json")

	resp := send(t, http.MethodPost, base+"/admin/api/webhooks", adminToken, `{"url": "http://127.0.0.1:9/hook", "event_types": ["document.done"], "owners": ["alice"]}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	ep := decodeAs[webhooks.Endpoint](t, resp)
	require.Regexp(t, `^whsec_[A-Za-z0-9+/]{43}=$`, ep.Secret)
	require.Equal(t, []string{"document.done"}, ep.EventTypes)
	path := base + "/admin/api/webhooks/" + ep.ID.String()

	list := decodeAs[struct{ Endpoints []webhooks.Endpoint }](t, send(t, http.MethodGet, base+"/admin/api/webhooks", adminToken, ""))
	require.Len(t, list.Endpoints, 1)
	require.Empty(t, list.Endpoints[0].Secret, "the secret is shown only when made")

	resp = send(t, http.MethodPatch, path, adminToken, `{"event_types": [], "description": "orders"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got := decodeAs[webhooks.Endpoint](t, resp)
	require.Empty(t, got.EventTypes)
	require.Equal(t, "orders", got.Description)
	require.Equal(t, []string{"alice"}, got.Owners, "what the patch does not name stays")

	resp = send(t, http.MethodPost, path+"/rotate-secret", adminToken, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rotated := decodeAs[webhooks.Endpoint](t, resp)
	require.NotEqual(t, ep.Secret, rotated.Secret)
	require.WithinDuration(t, time.Now().Add(time.Hour), *rotated.PreviousExpiresAt, time.Minute)
	problem(send(t, http.MethodPost, path+"/rotate-secret", adminToken, `{"keep": "soon"}`), 400, "bad_duration")

	resp = send(t, http.MethodPost, path+"/disable", adminToken, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, webhooks.DisabledByOperator, decodeAs[webhooks.Endpoint](t, resp).DisabledReason)

	// A delivery of alice's document, dead after its attempts.
	id := uuid.Must(uuid.NewV7())
	doc := &documents.Document{ID: id, Owner: "alice", Filename: "a.pdf", SizeBytes: 10, S3Key: documents.OriginalKey("alice", id)}
	require.NoError(t, documents.Create(ctx, db.Pool, client, doc, documents.Intake{QuotaBytes: 1 << 30}))
	resp = send(t, http.MethodPost, path+"/enable", adminToken, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Nil(t, decodeAs[webhooks.Endpoint](t, resp).DisabledAt)
	_, err := events.Sequence(ctx, db.Pool)
	require.NoError(t, err)
	_, err = webhooks.Fanout(ctx, db.Pool, "")
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `UPDATE webhook_deliveries SET status = 'dead', attempts = 10`)
	require.NoError(t, err)

	problem(send(t, http.MethodGet, path+"/deliveries?status=lost", adminToken, ""), 400, "bad_status")
	problem(send(t, http.MethodGet, path+"/deliveries?since=yesterday", adminToken, ""), 400, "bad_time")
	ds := decodeAs[struct{ Deliveries []webhooks.Delivery }](t, send(t, http.MethodGet, path+"/deliveries?status=dead", adminToken, ""))
	require.Len(t, ds.Deliveries, 1, "the backlog while disabled is sent once enabled")
	d := ds.Deliveries[0]
	require.Equal(t, webhooks.MessageID(id, 1), d.MessageID)
	require.Equal(t, "document.queued", d.Type)

	resp = send(t, http.MethodPost, base+"/admin/api/webhook-deliveries/"+strconv.FormatInt(d.ID, 10)+"/replay", adminToken, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	replayed := decodeAs[webhooks.Delivery](t, resp)
	require.Equal(t, "pending", replayed.Status)
	require.Equal(t, d.MessageID, replayed.MessageID, "a replay keeps the webhook-id")
	problem(send(t, http.MethodPost, base+"/admin/api/webhook-deliveries/999999/replay", adminToken, ""), 404, "no_such_delivery")

	_, err = db.Pool.Exec(ctx, `UPDATE webhook_deliveries SET status = 'dead'`)
	require.NoError(t, err)
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	resp = send(t, http.MethodPost, path+"/replay", adminToken, `{"since": "`+since+`", "only_dead": true}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, int64(1), decodeAs[struct{ Replayed int64 }](t, resp).Replayed)

	require.Equal(t, http.StatusNoContent, send(t, http.MethodDelete, path, adminToken, "").StatusCode)
	problem(send(t, http.MethodGet, path, adminToken, ""), 404, "no_such_endpoint")
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries`).Scan(&n))
	require.Zero(t, n, "an endpoint's deliveries go with it")
}
