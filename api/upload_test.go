package api_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/api"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/storage"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestUploadRaw(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 300<<10)

	resp := b.uploadRaw(t, "alice", "paper.pdf", body)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	doc := decode[documents.Document](t, resp)
	require.Equal(t, "/v1/documents/"+doc.ID.String(), resp.Header.Get("Location"))
	require.Equal(t, "paper.pdf", doc.Filename)
	require.Equal(t, documents.StatusQueued, doc.Status)
	require.Equal(t, int64(len(body)), doc.SizeBytes)
	require.Equal(t, sha(body), doc.SHA256)
	require.Nil(t, doc.DuplicateOf)
	require.Nil(t, doc.PageCount)

	key := b.s3Key(t, doc.ID.String())
	require.Equal(t, "originals/"+documents.OwnerSegment("alice")+"/"+doc.ID.String(), key, "the key is Folio's, not the file name")
	require.Equal(t, body, b.object(t, key), "the stored object is byte-identical")
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM documents WHERE owner = 'alice'"))
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM river_job WHERE kind = 'parse' AND queue = 'parse' AND args->>'document_id' = $1", doc.ID.String()),
		"exactly one parse job, committed with the row")
}

func TestUploadMultipartLargerThanOnePart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 13<<20+12345) // three parts of 6 MiB, 6 MiB and the rest

	resp := b.uploadMultipart(t, "alice", "..\\..\\etc\\the\tsis.pdf", body)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	doc := decode[documents.Document](t, resp)
	require.Equal(t, "thesis.pdf", doc.Filename, "the name is sanitised: base name, no control characters")
	require.Equal(t, sha(body), doc.SHA256)
	require.Equal(t, body, b.object(t, b.s3Key(t, doc.ID.String())))
	uploads, err := b.bucket.Store.ListUploads(context.Background(), "")
	require.NoError(t, err)
	require.Empty(t, uploads)
}

func TestUploadNameFromContentDisposition(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.do(t, http.MethodPost, "/v1/documents", "alice", strings.NewReader("%PDF-1.4 tiny"), map[string]string{
		"Content-Type":        "application/pdf",
		"Content-Disposition": `attachment; filename*=UTF-8''R%C3%A9sum%C3%A9.pdf`,
	})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, "Résumé.pdf", decode[documents.Document](t, resp).Filename)
}

func TestUploadAllowsJunkBeforeSignature(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := append([]byte(strings.Repeat("\r\n junk from a mail gateway ", 20)), []byte("%PDF-1.3\n...")...)
	require.Less(t, len(body), 1024)
	resp := b.uploadRaw(t, "alice", "old.pdf", body)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
}

func TestUploadDuplicateOf(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 1000)

	first := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", body))
	resp := b.uploadRaw(t, "alice", "a-again.pdf", body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "same bytes make a new document, no silent dedupe")
	second := decode[documents.Document](t, resp)
	require.NotEqual(t, first.ID, second.ID)
	require.NotNil(t, second.DuplicateOf)
	require.Equal(t, first.ID, *second.DuplicateOf)

	other := decode[documents.Document](t, b.uploadRaw(t, "bob", "a.pdf", body))
	require.Nil(t, other.DuplicateOf, "another owner's copy is not a duplicate")
}

func TestUploadRejectsNonPDF(t *testing.T) {
	t.Parallel()
	b := setup(t)
	png := append([]byte("\x89PNG\r\n\x1a\n"), pdfBytes(t, 4000)[20:]...)

	requireProblem(t, b.uploadRaw(t, "alice", "picture.pdf", png), http.StatusUnsupportedMediaType, "not_pdf")
	requireProblem(t, b.uploadMultipart(t, "alice", "picture.pdf", png), http.StatusUnsupportedMediaType, "not_pdf")
	requireProblem(t, b.uploadRaw(t, "alice", "empty.pdf", nil), http.StatusUnsupportedMediaType, "not_pdf")
	requireProblem(t, b.do(t, http.MethodPost, "/v1/documents", "alice", strings.NewReader("%PDF-"),
		map[string]string{"Content-Type": "image/png"}), http.StatusUnsupportedMediaType, "unsupported_media_type")
	b.requireNothingStored(t)
}

func TestUploadMultipartWithoutFile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := "--X\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nhello\r\n--X--\r\n"
	requireProblem(t, b.do(t, http.MethodPost, "/v1/documents", "alice", strings.NewReader(body),
		map[string]string{"Content-Type": "multipart/form-data; boundary=X"}), http.StatusBadRequest, "missing_file")
	b.requireNothingStored(t)
}

func withLimits(f func(*api.Limits)) func(*setupOpts) {
	return func(o *setupOpts) { f(&o.limits) }
}

func TestUploadOverLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, withLimits(func(l *api.Limits) { l.MaxUploadBytes = 7 << 20 }))
	body := pdfBytes(t, 12<<20)

	// Chunked, no Content-Length: stopped by counting, after parts went up.
	resp := b.do(t, http.MethodPost, "/v1/documents", "alice", io.MultiReader(strings.NewReader(""), bytesReader(body)),
		map[string]string{"Content-Type": "application/pdf"})
	requireProblem(t, resp, http.StatusRequestEntityTooLarge, "too_large")
	b.requireNothingStored(t)

	// Multipart, the same.
	requireProblem(t, b.uploadMultipart(t, "alice", "big.pdf", body), http.StatusRequestEntityTooLarge, "too_large")
	b.requireNothingStored(t)

	// A declared Content-Length over the limit is refused before reading.
	resp = b.uploadRaw(t, "alice", "big.pdf", body)
	requireProblem(t, resp, http.StatusRequestEntityTooLarge, "too_large")
	b.requireNothingStored(t)
}

// bytesReader hides the length of b, so the client sends it chunked.
func bytesReader(b []byte) io.Reader { return struct{ io.Reader }{strings.NewReader(string(b))} }

// TestUploadClientDisconnectsHalfway sends half of a declared body over a
// raw connection and hangs up: no row, no parts, no object.
func TestUploadClientDisconnectsHalfway(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 16<<20)
	u, err := url.Parse(b.url)
	require.NoError(t, err)

	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "POST /v1/documents?filename=cut.pdf HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/pdf\r\nContent-Length: %d\r\n\r\n", u.Host, token(t, "alice"), len(body))
	_, err = w.Write(body[:len(body)/2])
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	require.NoError(t, conn.Close())

	// Wait until the server has finished with the upload, then look.
	clientGone := b.uploadOutcome("client_gone")
	require.Eventually(t, func() bool { return clientGone() == 1 }, 30*time.Second, 20*time.Millisecond)
	b.requireNothingStored(t)
}

func (b *testBundle) uploadOutcome(outcome string) func() float64 {
	return func() float64 {
		families, err := b.metrics.Registry.Gather()
		if err != nil {
			return -1
		}
		for _, f := range families {
			if f.GetName() != "folio_uploads_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "outcome" && l.GetValue() == outcome {
						return m.GetCounter().GetValue()
					}
				}
			}
		}
		return 0
	}
}

// TestUploadS3Down points the API at an S3 endpoint where nothing listens.
func TestUploadS3Down(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadEndpoint := "http://" + l.Addr().String()
	require.NoError(t, l.Close())

	client, err := storage.NewClient(context.Background(), storage.ClientOptions{
		Endpoint: deadEndpoint, PathStyle: true, Region: "us-east-1", AccessKey: "x", SecretKey: "y"})
	require.NoError(t, err)
	b := setup(t, func(o *setupOpts) { o.store = storage.New(client, "folio", storage.Options{}) })

	requireProblem(t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 10<<20)), http.StatusServiceUnavailable, "storage_unavailable")
	requireProblem(t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 1000)), http.StatusServiceUnavailable, "storage_unavailable")
	require.Zero(t, b.count(t, "SELECT count(*) FROM documents"))
	require.Zero(t, b.count(t, "SELECT count(*) FROM river_job"))
}

func TestUploadRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, withLimits(func(l *api.Limits) { l.UploadRateLimit, l.UploadRateWindow = 20, time.Hour }))
	for i := range 20 {
		resp := b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100))
		require.Equal(t, http.StatusCreated, resp.StatusCode, "upload %d", i+1)
	}
	resp := b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100))
	requireProblem(t, resp, http.StatusTooManyRequests, "rate_limited")
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.Positive(t, retry)
	require.LessOrEqual(t, retry, 3600)

	require.Equal(t, http.StatusCreated, b.uploadRaw(t, "bob", "a.pdf", pdfBytes(t, 100)).StatusCode, "limits are per owner")
	require.Equal(t, 20, b.count(t, "SELECT count(*) FROM documents WHERE owner = 'alice'"))
}

func TestUploadQuota(t *testing.T) {
	t.Parallel()
	b := setup(t, withLimits(func(l *api.Limits) { l.OwnerQuotaBytes = 10000 }))

	require.Equal(t, http.StatusCreated, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 6000)).StatusCode)
	resp := b.uploadRaw(t, "alice", "b.pdf", pdfBytes(t, 6000))
	requireProblem(t, resp, http.StatusTooManyRequests, "quota_exceeded")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM documents"))
	require.Equal(t, http.StatusCreated, b.uploadRaw(t, "alice", "c.pdf", pdfBytes(t, 4000)).StatusCode, "what fits still goes in")

	requireProblem(t, b.uploadRaw(t, "alice", "d.pdf", pdfBytes(t, 10)), http.StatusTooManyRequests, "quota_exceeded")
}

// TestHalfClosedUploadIsNeverOK: a client that sends the whole body and
// then half-closes its side (SHUT_WR) makes the server see it gone. Either
// the upload was kept (201, its row exists) or nothing was (an error
// status): never a 2xx for nothing, as the client_gone path once answered
// (an empty 200).
func TestHalfClosedUploadIsNeverOK(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u, err := url.Parse(b.url)
	require.NoError(t, err)
	tok := token(t, "alice")
	for i := range 5 {
		body := pdfBytes(t, 64<<10)
		conn, err := net.Dial("tcp", u.Host)
		require.NoError(t, err)
		_, err = fmt.Fprintf(conn, "POST /v1/documents?filename=half.pdf HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/pdf\r\nContent-Length: %d\r\n\r\n%s", u.Host, tok, len(body), body)
		require.NoError(t, err)
		require.NoError(t, conn.(*net.TCPConn).CloseWrite())
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err, "attempt %d: the server answers", i)
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			require.Equal(t, http.StatusCreated, resp.StatusCode, "attempt %d: %s", i, got)
			var doc documents.Document
			require.NoError(t, json.Unmarshal(got, &doc))
			require.Equal(t, 1, b.count(t, "SELECT count(*) FROM documents WHERE id = $1", doc.ID), "a 201 has its row")
			continue
		}
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), "attempt %d: %s", i, got)
	}
	require.Equal(t, float64(5), b.uploadOutcome("created")()+b.uploadOutcome("client_gone")())
	n := b.count(t, "SELECT count(*) FROM documents")
	require.Equal(t, float64(n), b.uploadOutcome("created")(), "every kept upload, and only those, answered 201")
}
