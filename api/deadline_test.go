package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/api"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/storage"
)

// slowPuts is the real S3 client with every PutObject held back: S3 slow
// to take the last bytes of an upload.
type slowPuts struct {
	storage.S3API
	delay time.Duration
}

func (s slowPuts) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	time.Sleep(s.delay)
	return s.S3API.PutObject(ctx, in, opts...)
}

// TestUploadDeadlinesDoNotOutliveTheBody: an upload (resumable, then one
// request) that takes longer to store than the network timeout after its
// body ended (S3 slow) is answered, and the keep-alive connection it came
// on serves the next request. The deadlines set while the body arrived
// used to stay in force: the write deadline cut the answer (the client saw
// EOF on an upload that was kept), and net/http's background read hit the
// read deadline, which cancels the connection's context, and the next
// request on it was answered 503 database_unavailable (context canceled).
func TestUploadDeadlinesDoNotOutliveTheBody(t *testing.T) {
	t.Parallel()
	bucket := testenv.S3(t)
	store := storage.New(slowPuts{S3API: bucket.Client, delay: 2 * time.Second}, bucket.Name, storage.Options{PartSize: 6 << 20, PartsInFlight: 2})
	b := setup(t, func(o *setupOpts) { o.bucket, o.store = bucket, store },
		withLimits(func(l *api.Limits) { l.UploadGrace, l.UploadMinRate = 300*time.Millisecond, 1 }))
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	var reused atomic.Int32
	send := func(method, path string, body []byte, header map[string]string) *http.Response {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			if i.Reused {
				reused.Add(1)
			}
		}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, b.url+path, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token(t, "alice"))
		req.Header.Set("Tus-Resumable", "1.0.0")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	data := pdfBytes(t, 4000)
	resp := send(http.MethodPost, "/v1/uploads", nil, map[string]string{"Upload-Length": strconv.Itoa(len(data))})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	loc := resp.Header.Get("Location")

	// The PATCH takes 2 s to store its bytes, after its body ended.
	resp = send(http.MethodPatch, loc, data, map[string]string{"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	id := resp.Header.Get("Folio-Document-Id")
	require.NotEmpty(t, id)

	resp = send(http.MethodGet, "/v1/documents/"+id, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the next request on the connection")
	require.EqualValues(t, 2, reused.Load(), "the PATCH and the GET came on the POST's connection")

	// The one-request upload with its own deadlines (FOLIO_UPLOAD_MIN_RATE):
	// the handler stops at the declared length, before net/http sees the
	// body end, so no background read runs under them; kept as a guard.
	resp = send(http.MethodPost, "/v1/documents?filename=b.pdf", data, map[string]string{"Content-Type": "application/pdf"})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	resp = send(http.MethodGet, "/v1/documents?limit=10", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the next request on the connection")
	require.EqualValues(t, 4, reused.Load(), "on the same connection")
}
