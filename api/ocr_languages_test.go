package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/api"
	"github.com/foliohq/folio/documents"
)

func withOCR(l api.OCRLanguages) func(*setupOpts) { return func(o *setupOpts) { o.ocr = l } }

// TestOCRLanguagesOnEveryUploadPath: a document's OCR languages are chosen
// at upload on each path (query or form field, tus metadata, direct
// creation body) and shown on it; without a choice it gets the default;
// a reparse may change them.
func TestOCRLanguagesOnEveryUploadPath(t *testing.T) {
	t.Parallel()
	b := setup(t, withOCR(api.OCRLanguages{Default: "eng", Available: []string{"eng", "deu", "kor"}}))
	body := pdfBytes(t, 5000)
	langs := func(resp *http.Response) string {
		t.Helper()
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		return decode[documents.Document](t, resp).OCRLanguages
	}
	require.Equal(t, "eng", langs(b.uploadRaw(t, "alice", "plain.pdf", body)), "the default")
	require.Equal(t, "deu", langs(b.do(t, http.MethodPost, "/v1/documents?ocr_languages=deu", "alice", bytes.NewReader(body),
		map[string]string{"Content-Type": "application/pdf"})))

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("ocr_languages", "deu+eng"))
	fw, err := mw.CreateFormFile("file", "form.pdf")
	require.NoError(t, err)
	_, err = fw.Write(body)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	require.Equal(t, "deu+eng", langs(b.do(t, http.MethodPost, "/v1/documents", "alice", &buf, map[string]string{"Content-Type": mw.FormDataContentType()})))

	meta := "filename " + base64.StdEncoding.EncodeToString([]byte("tus.pdf")) + ",ocr_languages " + base64.StdEncoding.EncodeToString([]byte("kor"))
	loc := b.tusCreate(t, "alice", int64(len(body)), map[string]string{"Upload-Metadata": meta})
	resp := b.tusPatch(t, "alice", loc, 0, body, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	id := resp.Header.Get("Folio-Document-Id")
	require.NotEmpty(t, id)
	got := decode[documents.Document](t, b.do(t, http.MethodGet, "/v1/documents/"+id, "alice", nil, nil))
	require.Equal(t, "kor", got.OCRLanguages)

	resp = b.postJSON(t, "/v1/direct-uploads", "alice", map[string]any{"filename": "direct.pdf", "size": len(body), "ocr_languages": "deu"})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	up := decode[directUpload](t, resp)
	b.directSend(t, "alice", up, body)
	require.Equal(t, "deu", langs(b.do(t, http.MethodPost, "/v1/direct-uploads/"+up.ID+"/finalize", "alice", nil, nil)))

	// No worker here: the document is made done as a parse would.
	_, err = b.db.Pool.Exec(context.Background(), `UPDATE documents SET status = 'done' WHERE id = $1`, id)
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(context.Background(), `DELETE FROM river_job WHERE args->>'document_id' = $1`, id)
	require.NoError(t, err)
	resp = b.do(t, http.MethodPost, "/v1/documents/"+id+"/reparse?ocr_languages=deu%2Bkor", "alice", nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, "deu+kor", decode[documents.Document](t, resp).OCRLanguages)
	requireProblem(t, b.do(t, http.MethodPost, "/v1/documents/"+id+"/reparse?ocr_languages=xx", "alice", nil, nil),
		http.StatusBadRequest, "bad_ocr_languages")
}

// TestOCRLanguagesRefused: languages not installed, misspelled, repeated
// or too many get a 400 that names the available ones, on every path, and
// nothing is stored.
func TestOCRLanguagesRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, withOCR(api.OCRLanguages{Default: "eng", Available: []string{"eng", "deu"}}))
	body := pdfBytes(t, 5000)
	for _, bad := range []string{"fra", "Deu", "deu+deu", "eng+", "eng+deu+eng+deu+eng+deu", "../eng", "eng deu"} {
		resp := b.do(t, http.MethodPost, "/v1/documents?ocr_languages="+strings.ReplaceAll(strings.ReplaceAll(bad, "+", "%2B"), " ", "%20"),
			"alice", bytes.NewReader(body), map[string]string{"Content-Type": "application/pdf"})
		p := requireProblem(t, resp, http.StatusBadRequest, "bad_ocr_languages")
		require.Contains(t, p.Detail, "Available: eng, deu", bad)

		meta := "filename " + base64.StdEncoding.EncodeToString([]byte("tus.pdf")) + ",ocr_languages " + base64.StdEncoding.EncodeToString([]byte(bad))
		resp = b.do(t, http.MethodPost, "/v1/uploads/", "alice", nil, map[string]string{"Tus-Resumable": "1.0.0",
			"Upload-Length": "5000", "Upload-Metadata": meta})
		requireProblem(t, resp, http.StatusBadRequest, "bad_ocr_languages")

		resp = b.postJSON(t, "/v1/direct-uploads", "alice", map[string]any{"filename": "d.pdf", "size": 5000, "ocr_languages": bad})
		requireProblem(t, resp, http.StatusBadRequest, "bad_ocr_languages")
	}
	b.requireNothingStored(t)
	require.Zero(t, b.count(t, "SELECT count(*) FROM uploads"))
	require.Zero(t, b.count(t, "SELECT count(*) FROM direct_uploads"))
}
