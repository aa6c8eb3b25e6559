package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/uploads"
	"github.com/foliohq/folio/uploads/expire"
)

type directUpload struct {
	ID       string `json:"id"`
	Key      string `json:"key"`
	URL      string `json:"url"`
	PartSize int64  `json:"part_size"`
}

func (b *testBundle) postJSON(t *testing.T, path, sub string, v any) *http.Response {
	t.Helper()
	body, err := json.Marshal(v)
	require.NoError(t, err)
	return b.do(t, http.MethodPost, path, sub, bytes.NewReader(body), map[string]string{"Content-Type": "application/json"})
}

// s3Do performs a presigned request, as a browser would.
func s3Do(t *testing.T, method, url string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (b *testBundle) sign(t *testing.T, sub string, req uploads.SignRequest) string {
	t.Helper()
	resp := b.postJSON(t, "/v1/direct-uploads/sign", sub, req)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return decode[map[string]string](t, resp)["url"]
}

// directSend does what Uppy's AwsS3 plugin does with Folio's signatures:
// create the multipart upload, send body as one part, complete it.
func (b *testBundle) directSend(t *testing.T, sub string, up directUpload, body []byte) {
	t.Helper()
	require.Equal(t, http.StatusOK, b.directSendStatus(t, sub, up, body))
}

// directSendStatus is directSend up to the part's answer, which it returns
// when it is not a success.
func (b *testBundle) directSendStatus(t *testing.T, sub string, up directUpload, body []byte) int {
	t.Helper()
	resp := s3Do(t, http.MethodPost, up.URL, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var created struct {
		UploadID string `xml:"UploadId"`
	}
	require.NoError(t, xml.NewDecoder(resp.Body).Decode(&created))
	partURL := b.sign(t, sub, uploads.SignRequest{Method: "PUT", Key: up.Key, UploadID: created.UploadID, PartNumber: 1})
	resp = s3Do(t, http.MethodPut, partURL, body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode
	}
	etag := resp.Header.Get("ETag")
	listURL := b.sign(t, sub, uploads.SignRequest{Method: "GET", Key: up.Key, UploadID: created.UploadID})
	resp = s3Do(t, http.MethodGet, listURL, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "list parts (Uppy's resume)")
	completeURL := b.sign(t, sub, uploads.SignRequest{Method: "POST", Key: up.Key, UploadID: created.UploadID})
	xmlBody := `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>` + etag + `</ETag></Part></CompleteMultipartUpload>`
	resp = s3Do(t, http.MethodPost, completeURL, []byte(xmlBody))
	out, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", out)
	return resp.StatusCode
}

func (b *testBundle) directCreate(t *testing.T, sub string, size int) directUpload {
	t.Helper()
	resp := b.postJSON(t, "/v1/direct-uploads", sub, map[string]any{"filename": "direct.pdf", "size": size})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	up := decode[directUpload](t, resp)
	require.True(t, strings.HasPrefix(up.Key, "originals/"), "Folio chose the key: %s", up.Key)
	return up
}

// TestDirectUpload: a direct-to-S3 upload through presigned multipart
// requests becomes a document at finalize; its SHA-256 waits for the
// parse.
func TestDirectUpload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 300_000)
	up := b.directCreate(t, "alice", len(body))
	// Not a document yet.
	require.Equal(t, http.StatusConflict, b.do(t, http.MethodPost, "/v1/direct-uploads/"+up.ID+"/finalize", "alice", nil, nil).StatusCode)
	b.directSend(t, "alice", up, body)
	// Another owner can neither sign for it nor finalize it.
	resp := b.postJSON(t, "/v1/direct-uploads/sign", "mallory", uploads.SignRequest{Method: "GET", Key: up.Key, UploadID: "x"})
	requireProblem(t, resp, http.StatusNotFound, "no_such_upload")
	requireProblem(t, b.do(t, http.MethodPost, "/v1/direct-uploads/"+up.ID+"/finalize", "mallory", nil, nil), http.StatusNotFound, "no_such_upload")

	resp = b.do(t, http.MethodPost, "/v1/direct-uploads/"+up.ID+"/finalize", "alice", nil, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	doc := decode[documents.Document](t, resp)
	require.Equal(t, up.ID, doc.ID.String())
	require.Equal(t, int64(len(body)), doc.SizeBytes)
	require.Equal(t, "direct.pdf", doc.Filename)
	require.Empty(t, doc.SHA256, "computed by the parse")
	require.Equal(t, body, b.object(t, up.Key))
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM river_job WHERE kind = 'parse'"))
	require.Zero(t, b.count(t, "SELECT count(*) FROM direct_uploads"))
	// Once.
	requireProblem(t, b.do(t, http.MethodPost, "/v1/direct-uploads/"+up.ID+"/finalize", "alice", nil, nil), http.StatusNotFound, "no_such_upload")
}

// TestDirectUploadRefusals: what never becomes a document, and leaves
// nothing behind.
func TestDirectUploadRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.limits.MaxUploadBytes = 1 << 20; o.limits.DirectMaxPending = 3 })
	finalize := func(up directUpload) *http.Response {
		return b.do(t, http.MethodPost, "/v1/direct-uploads/"+up.ID+"/finalize", "alice", nil, nil)
	}

	notPDF := b.directCreate(t, "alice", 5000)
	b.directSend(t, "alice", notPDF, bytes.Repeat([]byte("x"), 5000))
	requireProblem(t, finalize(notPDF), http.StatusUnsupportedMediaType, "not_pdf")

	// More than declared cannot even be stored (TestDirectUploadStoresNoMoreThanDeclared).
	bigger := b.directCreate(t, "alice", 1000)
	require.Equal(t, http.StatusForbidden, b.directSendStatus(t, "alice", bigger, pdfBytes(t, 2000)))
	requireProblem(t, finalize(bigger), http.StatusConflict, "upload_incomplete")
	_, err := b.db.Pool.Exec(context.Background(), `UPDATE direct_uploads SET expires_at = now() - interval '1 second' WHERE id = $1`, bigger.ID)
	require.NoError(t, err)

	requireProblem(t, b.postJSON(t, "/v1/direct-uploads", "alice", map[string]any{"filename": "a.pdf", "size": 1<<20 + 1}),
		http.StatusRequestEntityTooLarge, "too_large")
	requireProblem(t, b.postJSON(t, "/v1/direct-uploads", "alice", map[string]any{"filename": "a.pdf", "size": 0}),
		http.StatusBadRequest, "empty_file")

	// Only the multipart requests of the upload's own multipart upload.
	up := b.directCreate(t, "alice", 1000)
	for _, req := range []uploads.SignRequest{
		{Method: "PUT", Key: up.Key},                      // a simple PUT of any size
		{Method: "DELETE", Key: up.Key},                   // deleting the object
		{Method: "GET", Key: up.Key},                      // reading it
		{Method: "PUT", Key: up.Key, UploadID: "made-up"}, // no part number
	} {
		requireProblem(t, b.postJSON(t, "/v1/direct-uploads/sign", "alice", req), http.StatusForbidden, "request_not_signed")
	}
	requireProblem(t, b.postJSON(t, "/v1/direct-uploads/sign", "alice", uploads.SignRequest{Method: "GET", Key: up.Key, UploadID: "made-up"}),
		http.StatusForbidden, "bad_upload_id")
	requireProblem(t, b.postJSON(t, "/v1/direct-uploads/sign", "alice", uploads.SignRequest{Method: "GET", Key: "originals/elsewhere", UploadID: "u"}),
		http.StatusNotFound, "no_such_upload")

	// The count of pending uploads is capped: up and two more (the
	// refused ones were deleted).
	b.directCreate(t, "alice", 1000)
	b.directCreate(t, "alice", 1000)
	requireProblem(t, b.postJSON(t, "/v1/direct-uploads", "alice", map[string]any{"filename": "a.pdf", "size": 1000}),
		http.StatusTooManyRequests, "too_many_pending")

	// Never finalized: the sweep deletes it, object and all.
	abandoned := b.directCreate(t, "bob", 3000)
	b.directSend(t, "bob", abandoned, pdfBytes(t, 3000))
	_, err = b.db.Pool.Exec(context.Background(), `UPDATE direct_uploads SET expires_at = now() - interval '1 second'`)
	require.NoError(t, err)
	n, err := expire.Direct(context.Background(), b.db.Pool, b.bucket.Store, time.Now())
	require.NoError(t, err)
	require.Equal(t, 5, n)
	require.Zero(t, b.count(t, "SELECT count(*) FROM direct_uploads"))
	b.requireNothingStored(t)
}

// TestDirectUploadStoresNoMoreThanDeclared: a direct upload that declared
// n bytes can store no more: each part is signed for its length (parts of
// part_size, as Uppy cuts them), S3 refuses any other body, no part past
// the declared size is signed, and the creation URL works once: a replay
// makes an upload that is aborted as soon as the first is recorded.
func TestDirectUploadStoresNoMoreThanDeclared(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.limits.MaxUploadBytes = 100 << 30 })
	const declared = 1 // what mallory declared
	up := b.directCreate(t, "mallory", declared)
	require.Equal(t, int64(5<<20), up.PartSize, "Uppy's default part size")
	resp := s3Do(t, http.MethodPost, up.URL, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var created struct {
		UploadID string `xml:"UploadId"`
	}
	require.NoError(t, xml.NewDecoder(resp.Body).Decode(&created))
	replay := s3Do(t, http.MethodPost, up.URL, nil) // the creation URL again
	var second struct {
		UploadID string `xml:"UploadId"`
	}
	if replay.StatusCode == http.StatusOK {
		require.NoError(t, xml.NewDecoder(replay.Body).Decode(&second))
	}

	for n := int32(2); n <= 3; n++ {
		requireProblem(t, b.postJSON(t, "/v1/direct-uploads/sign", "mallory",
			uploads.SignRequest{Method: "PUT", Key: up.Key, UploadID: created.UploadID, PartNumber: n}),
			http.StatusRequestEntityTooLarge, "past_declared_size")
	}
	partURL := b.sign(t, "mallory", uploads.SignRequest{Method: "PUT", Key: up.Key, UploadID: created.UploadID, PartNumber: 1})
	// S3 refuses the body: an error status, or (answering before it read
	// it all) a connection closed under the client.
	req, err := http.NewRequest(http.MethodPut, partURL, bytes.NewReader(bytes.Repeat([]byte("x"), 5<<20)))
	require.NoError(t, err)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		require.NotEqual(t, http.StatusOK, resp.StatusCode, "5 MiB on a part signed for 1 byte")
	}
	require.Equal(t, http.StatusOK, s3Do(t, http.MethodPut, partURL, []byte("%")).StatusCode, "the declared byte")

	list, err := b.bucket.Store.ListUploads(context.Background(), up.Key)
	require.NoError(t, err)
	require.Len(t, list, 1, "the replayed creation was aborted")
	require.Equal(t, created.UploadID, list[0].UploadID)
	if second.UploadID != "" {
		requireProblem(t, b.postJSON(t, "/v1/direct-uploads/sign", "mallory",
			uploads.SignRequest{Method: "PUT", Key: up.Key, UploadID: second.UploadID, PartNumber: 1}), http.StatusForbidden, "bad_upload_id")
	}

	// A large declared size: parts of a 10,000th of it, the last shorter.
	big := b.directCreate(t, "bob", 60<<30)
	require.Equal(t, int64((60<<30+9999)/10000), big.PartSize)
}
