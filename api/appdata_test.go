package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
)

// tusMeta is an Upload-Metadata header of pairs.
func tusMeta(pairs ...string) string {
	var parts []string
	for i := 0; i < len(pairs); i += 2 {
		parts = append(parts, pairs[i]+" "+base64.StdEncoding.EncodeToString([]byte(pairs[i+1])))
	}
	return strings.Join(parts, ",")
}

// TestAppDataOnEveryUploadPath: external_id and metadata given on each
// upload path come back on the document and in its document.queued, and
// select it in the list.
func TestAppDataOnEveryUploadPath(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 5000)
	created := func(resp *http.Response) documents.Document {
		t.Helper()
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		return decode[documents.Document](t, resp)
	}
	docs := map[string]documents.Document{}

	docs["query"] = created(b.do(t, http.MethodPost, "/v1/documents?external_id=inv-1&metadata.order=8812&metadata.path=query",
		"alice", bytes.NewReader(body), map[string]string{"Content-Type": "application/pdf"}))

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("external_id", "inv-2"))
	require.NoError(t, mw.WriteField("metadata.order", "8812"))
	require.NoError(t, mw.WriteField("metadata.path", "form"))
	fw, err := mw.CreateFormFile("file", "form.pdf")
	require.NoError(t, err)
	_, err = fw.Write(body)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	docs["form"] = created(b.do(t, http.MethodPost, "/v1/documents", "alice", &buf, map[string]string{"Content-Type": mw.FormDataContentType()}))

	loc := b.tusCreate(t, "alice", int64(len(body)), map[string]string{"Upload-Metadata": tusMeta(
		"filename", "tus.pdf", "filetype", "application/pdf", "external_id", "inv-3", "order", "8812", "path", "tus")})
	resp := b.tusPatch(t, "alice", loc, 0, body, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	docs["tus"] = decode[documents.Document](t, b.do(t, http.MethodGet, "/v1/documents/"+resp.Header.Get("Folio-Document-Id"), "alice", nil, nil))

	resp = b.postJSON(t, "/v1/direct-uploads", "alice", map[string]any{"filename": "direct.pdf", "size": len(body),
		"external_id": "inv-4", "metadata": map[string]string{"order": "8812", "path": "direct"}})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	up := decode[directUpload](t, resp)
	b.directSend(t, "alice", up, body)
	docs["direct"] = created(b.do(t, http.MethodPost, "/v1/direct-uploads/"+up.ID+"/finalize", "alice", nil, nil))

	for i, path := range []string{"query", "form", "tus", "direct"} {
		d := docs[path]
		want := documents.AppData{ExternalID: "inv-" + string(rune('1'+i)), Metadata: map[string]string{"order": "8812", "path": path}}
		require.Equal(t, want, d.AppData, path)
		got := decode[documents.Document](t, b.do(t, http.MethodGet, "/v1/documents/"+d.ID.String(), "alice", nil, nil))
		require.Equal(t, want, got.AppData, "%s: read back", path)
		var data json.RawMessage
		require.NoError(t, b.db.Pool.QueryRow(context.Background(),
			`SELECT data FROM document_events WHERE document_id = $1 AND type = 'document.queued'`, d.ID).Scan(&data))
		var queued documents.AppData
		require.NoError(t, json.Unmarshal(data, &queued))
		require.Equal(t, want, queued, "%s: document.queued", path)
	}

	list := func(query string) []string {
		t.Helper()
		resp := b.do(t, http.MethodGet, "/v1/documents?"+query, "alice", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, query)
		var ids []string
		for _, d := range decode[struct{ Documents []documents.Document }](t, resp).Documents {
			ids = append(ids, d.Filename)
		}
		return ids
	}
	require.Equal(t, []string{"tus.pdf"}, list("external_id=inv-3"))
	require.Equal(t, []string{"direct.pdf", "tus.pdf", "form.pdf", "document.pdf"}, list("metadata.order=8812"))
	require.Equal(t, []string{"form.pdf"}, list("metadata.order=8812&metadata.path=form"))
	require.Empty(t, list("metadata.order=8812&external_id=inv-3&metadata.path=form"))
	require.Empty(t, list("metadata.order=1"))
	// Another owner's documents are never selected.
	resp = b.do(t, http.MethodGet, "/v1/documents?metadata.order=8812", "bob", nil, nil)
	require.Empty(t, decode[struct{ Documents []documents.Document }](t, resp).Documents)
	requireProblem(t, b.do(t, http.MethodGet, "/v1/documents?metadata.b%20d=1", "alice", nil, nil), http.StatusBadRequest, "bad_metadata")

	// The filters have their indexes (were they dropped, the plans say so;
	// with the owner's few rows here the planner would rather read those).
	ctx := context.Background()
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SET LOCAL enable_seqscan = off`)
	require.NoError(t, err)
	plan := func(where string, arg any) string {
		var lines []string
		rows, err := tx.Query(ctx, `EXPLAIN SELECT id FROM documents WHERE `+where, arg)
		require.NoError(t, err)
		for rows.Next() {
			var l string
			require.NoError(t, rows.Scan(&l))
			lines = append(lines, l)
		}
		require.NoError(t, rows.Err())
		return strings.Join(lines, "\n")
	}
	require.Contains(t, plan(`owner = 'alice' AND external_id = $1`, "inv-3"), "documents_owner_external_id")
	require.Contains(t, plan(`metadata @> $1::jsonb`, `{"order":"8812"}`), "documents_metadata")
}

// TestAppDataRefused: metadata or an external_id that breaks a rule gets
// a specific 400 on every path, and nothing is stored.
func TestAppDataRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 5000)
	long := strings.Repeat("x", 256)
	big := strings.Repeat("v", 4100)
	cases := []struct {
		name  string
		query string // one-request upload's
		tus   []string
		json  map[string]any // direct creation's
		code  string
	}{
		{"long external_id", "external_id=" + long, []string{"external_id", long}, map[string]any{"external_id": long}, "bad_external_id"},
		{"control character", "external_id=a%00b", []string{"external_id", "a\x00b"}, map[string]any{"external_id": "a\x00b"}, "bad_external_id"},
		{"bad key", "metadata.a%20b=1", []string{"a/b", "1"}, map[string]any{"metadata": map[string]any{"a b": "1"}}, "bad_metadata"},
		{"over 4 KiB", "metadata.big=" + big, []string{"big", big}, map[string]any{"metadata": map[string]any{"big": big}}, "bad_metadata"},
		{"not a string", "", nil, map[string]any{"metadata": map[string]any{"n": 1}}, "bad_metadata"},
		{"nested", "", nil, map[string]any{"metadata": map[string]any{"n": map[string]string{"a": "b"}}}, "bad_metadata"},
		{"given twice", "metadata.a=1&metadata.a=2", nil, nil, "bad_metadata"},
	}
	for _, c := range cases {
		if c.query != "" {
			resp := b.do(t, http.MethodPost, "/v1/documents?"+c.query, "alice", bytes.NewReader(body), map[string]string{"Content-Type": "application/pdf"})
			p := requireProblem(t, resp, http.StatusBadRequest, c.code)
			require.NotEmpty(t, p.Detail, c.name)
		}
		if c.tus != nil {
			req, err := http.NewRequest(http.MethodPost, b.url+"/v1/uploads", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+token(t, "alice"))
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Upload-Length", "5000")
			req.Header.Set("Upload-Metadata", tusMeta(append([]string{"filename", "t.pdf"}, c.tus...)...))
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			requireProblem(t, resp, http.StatusBadRequest, c.code)
		}
		if c.json != nil {
			in := map[string]any{"filename": "d.pdf", "size": 5000}
			for k, v := range c.json {
				in[k] = v
			}
			requireProblem(t, b.postJSON(t, "/v1/direct-uploads", "alice", in), http.StatusBadRequest, c.code)
		}
	}
	// 65 keys in a form.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := range 65 {
		require.NoError(t, mw.WriteField("metadata.k"+strings.Repeat("x", i), "v"))
	}
	fw, err := mw.CreateFormFile("file", "form.pdf")
	require.NoError(t, err)
	_, err = fw.Write(body)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	requireProblem(t, b.do(t, http.MethodPost, "/v1/documents", "alice", &buf, map[string]string{"Content-Type": mw.FormDataContentType()}),
		http.StatusBadRequest, "bad_metadata")

	b.requireNothingStored(t)
	require.Zero(t, b.count(t, "SELECT count(*) FROM uploads"), "no tus upload")
	require.Zero(t, b.count(t, "SELECT count(*) FROM direct_uploads"), "no direct upload")
}

// TestPatchAppData: PATCH merges (null removes), checks the result
// (nothing changes on a 400), and announces a change with
// document.updated; a patch that changes nothing writes no event.
func TestPatchAppData(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.do(t, http.MethodPost, "/v1/documents?external_id=inv-1&metadata.order=8812&metadata.stage=draft", "alice",
		bytes.NewReader(pdfBytes(t, 5000)), map[string]string{"Content-Type": "application/pdf"})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	id := decode[documents.Document](t, resp).ID.String()
	patch := func(sub, body string) *http.Response {
		return b.do(t, http.MethodPatch, "/v1/documents/"+id, sub, strings.NewReader(body),
			map[string]string{"Content-Type": "application/merge-patch+json"})
	}
	resp = patch("alice", `{"metadata": {"stage": "final", "order": null, "by": "ops"}}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got := decode[documents.Document](t, resp)
	require.Equal(t, documents.AppData{ExternalID: "inv-1", Metadata: map[string]string{"stage": "final", "by": "ops"}}, got.AppData)

	var data json.RawMessage
	require.NoError(t, b.db.Pool.QueryRow(context.Background(),
		`SELECT data FROM document_events WHERE document_id = $1 AND type = 'document.updated'`, id).Scan(&data))
	require.JSONEq(t, `{"external_id": "inv-1", "metadata": {"stage": "final", "by": "ops"}}`, string(data))

	requireProblem(t, patch("alice", `{"metadata": {"x": 1}}`), http.StatusBadRequest, "bad_metadata")
	requireProblem(t, patch("alice", `{"external_id": "`+strings.Repeat("y", 300)+`"}`), http.StatusBadRequest, "bad_external_id")
	requireProblem(t, patch("alice", `{"filename": "x.pdf"}`), http.StatusBadRequest, "bad_patch")
	requireProblem(t, patch("bob", `{"external_id": "mine"}`), http.StatusNotFound, "not_found")
	resp = patch("alice", `{"external_id": "inv-1"}`) // no change
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM document_events WHERE document_id = $1 AND type = 'document.updated'`, id))

	resp = patch("alice", `{"external_id": null, "metadata": null}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Zero(t, decode[documents.Document](t, resp).AppData)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM documents WHERE id = $1 AND external_id IS NULL AND metadata = '{}'`, id))

	// The deletion's event carries what the document had (for webhooks
	// sent after the row is gone).
	resp = patch("alice", `{"external_id": "inv-9", "metadata": {"k": "v"}}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, "/v1/documents/"+id, "alice", nil, nil).StatusCode)
	require.NoError(t, b.db.Pool.QueryRow(context.Background(),
		`SELECT data FROM document_events WHERE document_id = $1 AND type = 'document.deleted'`, id).Scan(&data))
	require.JSONEq(t, `{"external_id": "inv-9", "metadata": {"k": "v"}}`, string(data))
}
