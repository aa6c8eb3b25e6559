package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/admin"
	"github.com/foliohq/folio/backup"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/testenv"
)

func send(t *testing.T, method, u, bearer, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestQuarantineAPI: operators list every owner's quarantined documents
// and release, rescan or delete them, audited; nobody else can.
func TestQuarantineAPI(t *testing.T) {
	t.Parallel()
	bucket := testenv.S3(t)
	ledger := backup.Ledger{Store: bucket.Store}
	base, db, client := setupWith(t, func(c *admin.Config) { c.Ledger = &ledger })
	ctx := context.Background()
	newDoc := func(owner string, quarantine bool) uuid.UUID {
		id := uuid.Must(uuid.NewV7())
		doc := &documents.Document{ID: id, Owner: owner, Filename: "x.pdf", SizeBytes: 10, S3Key: documents.OriginalKey(owner, id)}
		require.NoError(t, documents.Create(ctx, db.Pool, client, doc, documents.Intake{QuotaBytes: 1 << 30, Scan: true}))
		if quarantine {
			require.NoError(t, documents.Quarantine(ctx, db.Pool, client, id,
				documents.ScanOutcome{Result: documents.ScanFound, Found: "Eicar-Signature", Signatures: "27500"}, false))
		}
		return id
	}
	alices, bobs, scanning := newDoc("alice", true), newDoc("bob", true), newDoc("carol", false)
	// Their upload scans ran (no worker here: as if it had finished).
	_, err := db.Pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'scan' AND args->>'document_id' <> $1`, scanning.String())
	require.NoError(t, err)

	require.Equal(t, http.StatusUnauthorized, send(t, http.MethodGet, base+"/admin/api/quarantine", "", "").StatusCode)
	require.Equal(t, http.StatusUnauthorized, send(t, http.MethodPost, base+"/admin/api/documents/"+alices.String()+"/release", "", "").StatusCode)

	resp := send(t, http.MethodGet, base+"/admin/api/quarantine", adminToken, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct {
		Documents []struct {
			ID     uuid.UUID `json:"id"`
			Owner  string    `json:"owner"`
			Status string    `json:"status"`
			Scan   struct{ Found string }
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	require.Len(t, list.Documents, 2)
	owners := map[string]string{}
	for _, d := range list.Documents {
		owners[d.ID.String()] = d.Owner
		require.Equal(t, "quarantined", d.Status)
		require.Equal(t, "Eicar-Signature", d.Scan.Found)
	}
	require.Equal(t, map[string]string{alices.String(): "alice", bobs.String(): "bob"}, owners)

	resp = send(t, http.MethodPost, base+"/admin/api/documents/"+alices.String()+"/release", adminToken, `{"by": "ops@example", "note": "false positive"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc *documents.Document
	doc, err = documents.Get(ctx, db.Pool, "alice", alices)
	require.NoError(t, err)
	require.Equal(t, documents.StatusQueued, doc.Status)
	require.Equal(t, documents.ScanReleased, doc.Scan.Result)
	audit, err := documents.Audit(ctx, db.Pool, alices)
	require.NoError(t, err)
	require.Equal(t, "released", audit[len(audit)-1].Action)
	require.Equal(t, "ops@example", audit[len(audit)-1].Actor)
	require.Equal(t, "false positive", audit[len(audit)-1].Note)

	// Twice: not quarantined any more. A document still scanning cannot be
	// released, nor rescanned, nor deleted here.
	resp = send(t, http.MethodPost, base+"/admin/api/documents/"+alices.String()+"/release", adminToken, "")
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Equal(t, http.StatusConflict, send(t, http.MethodPost, base+"/admin/api/documents/"+scanning.String()+"/rescan", adminToken, "").StatusCode)
	require.Equal(t, http.StatusConflict, send(t, http.MethodDelete, base+"/admin/api/documents/"+scanning.String(), adminToken, "").StatusCode)
	require.Equal(t, http.StatusBadRequest, send(t, http.MethodPost, base+"/admin/api/documents/"+bobs.String()+"/rescan", adminToken, "{").StatusCode)
	require.Equal(t, http.StatusNotFound, send(t, http.MethodPost, base+"/admin/api/documents/"+uuid.NewString()+"/rescan", adminToken, "").StatusCode)

	// Rescan queues a scan job; delete removes the row, audited.
	require.Equal(t, http.StatusOK, send(t, http.MethodPost, base+"/admin/api/documents/"+bobs.String()+"/rescan", adminToken, "").StatusCode)
	var scans int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'scan' AND args->>'document_id' = $1 AND (args->>'rescan')::bool`,
		bobs.String()).Scan(&scans))
	require.Equal(t, 1, scans)
	require.Equal(t, http.StatusNoContent, send(t, http.MethodDelete, base+"/admin/api/documents/"+bobs.String(), adminToken, `{"by": "ops@example"}`).StatusCode)
	_, err = documents.Get(ctx, db.Pool, "bob", bobs)
	require.ErrorIs(t, err, documents.ErrNotFound)
	audit, err = documents.Audit(ctx, db.Pool, bobs)
	require.NoError(t, err)
	require.Equal(t, []string{"quarantined", "rescan", "deleted"}, []string{audit[0].Action, audit[1].Action, audit[2].Action})
	// The erasure is in the ledger: a restore deletes it again.
	var erased []backup.Erasure
	require.NoError(t, ledger.Each(ctx, func(e backup.Erasure) error { erased = append(erased, e); return nil }))
	require.Len(t, erased, 1)
	require.Equal(t, backup.Erasure{DocumentID: bobs, Owner: "bob", By: "ops@example", At: erased[0].At}, erased[0])
	require.Equal(t, http.StatusNotFound, send(t, http.MethodPost, base+"/admin/api/documents/"+bobs.String()+"/rescan", adminToken, "").StatusCode)
	// A rescan of any document; a second while the first waits: 409.
	require.Equal(t, http.StatusOK, send(t, http.MethodPost, base+"/admin/api/documents/"+alices.String()+"/rescan", adminToken, "").StatusCode)
	require.Equal(t, http.StatusConflict, send(t, http.MethodPost, base+"/admin/api/documents/"+alices.String()+"/rescan", adminToken, "").StatusCode)
}
