package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
)

// TestScanningUploads: with scanning on, an upload is scanning (its scan
// job queued, no parse), and nothing of it is served; quarantined, it is
// refused with 403 everywhere and listed by ?status=quarantined.
func TestScanningUploads(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.limits.Scan = true })
	doc := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 2000)))
	require.Equal(t, documents.StatusScanning, doc.Status)
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM river_job WHERE kind = 'scan'"))
	require.Zero(t, b.count(t, "SELECT count(*) FROM river_job WHERE kind = 'parse'"))
	id := doc.ID.String()
	requireProblem(t, b.do(t, http.MethodGet, "/v1/documents/"+id+"/content", "alice", nil, nil), http.StatusConflict, "scan_pending")
	requireProblem(t, b.do(t, http.MethodGet, "/v1/documents/"+id+"/text", "alice", nil, nil), http.StatusConflict, "scan_pending")
	requireProblem(t, b.do(t, http.MethodPost, "/v1/documents/"+id+"/reparse", "alice", nil, nil), http.StatusConflict, "parse_in_progress")

	require.NoError(t, documents.Quarantine(context.Background(), b.db.Pool, b.river, doc.ID,
		documents.ScanOutcome{Result: documents.ScanFound, Found: "Eicar-Signature", Signatures: "27500"}, false))
	for _, p := range []string{"/content", "/text", "/pages", "/outline", "/pages/1/image"} {
		pb := requireProblem(t, b.do(t, http.MethodGet, "/v1/documents/"+id+p, "alice", nil, nil), http.StatusForbidden, "quarantined")
		require.Contains(t, pb.Detail, "Eicar-Signature", p)
	}
	requireProblem(t, b.do(t, http.MethodPost, "/v1/documents/"+id+"/reparse", "alice", nil, nil), http.StatusForbidden, "quarantined")
	got := decode[documents.Document](t, b.do(t, http.MethodGet, "/v1/documents/"+id, "alice", nil, nil))
	require.Equal(t, documents.StatusQuarantined, got.Status)
	require.Equal(t, "Eicar-Signature", got.Scan.Found)

	other := decode[documents.Document](t, b.uploadRaw(t, "alice", "b.pdf", pdfBytes(t, 2000)))
	list := decode[struct{ Documents []documents.Document }](t, b.do(t, http.MethodGet, "/v1/documents?status=quarantined", "alice", nil, nil))
	require.Len(t, list.Documents, 1)
	require.Equal(t, doc.ID, list.Documents[0].ID)
	list = decode[struct{ Documents []documents.Document }](t, b.do(t, http.MethodGet, "/v1/documents?status=scanning", "alice", nil, nil))
	require.Len(t, list.Documents, 1)
	require.Equal(t, other.ID, list.Documents[0].ID)
	requireProblem(t, b.do(t, http.MethodGet, "/v1/documents?status=infected", "alice", nil, nil), http.StatusBadRequest, "bad_status")
	// Another owner's quarantine is no business of bob's.
	list = decode[struct{ Documents []documents.Document }](t, b.do(t, http.MethodGet, "/v1/documents?status=quarantined", "bob", nil, nil))
	require.Empty(t, list.Documents)
}
