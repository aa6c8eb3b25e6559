package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/api"
	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/health"
	"github.com/foliohq/folio/internal/telemetry"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/storage"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

type testBundle struct {
	db      *testenv.DB
	bucket  *testenv.Bucket
	server  *api.Server
	river   *river.Client[pgx.Tx] // the server's: inserts and lists, works nothing
	metrics *telemetry.Metrics
	url     string
}

type setupOpts struct {
	limits api.Limits
	store  *storage.Store  // instead of the test bucket's
	bucket *testenv.Bucket // the bucket store uses
	dev    *api.DevMode
	web    http.Handler
	// on: another API process on this bundle's database and bucket
	on  *testBundle
	ocr api.OCRLanguages
}

func setup(t *testing.T, opts ...func(*setupOpts)) *testBundle {
	t.Helper()
	o := setupOpts{limits: api.Limits{
		MaxUploadBytes: 64 << 20, UploadRateLimit: 1000, UploadRateWindow: time.Minute,
		OwnerQuotaBytes: 1 << 40, PresignTTL: time.Minute,
	}}
	for _, f := range opts {
		f(&o)
	}
	var db *testenv.DB
	var bucket *testenv.Bucket
	switch {
	case o.on != nil:
		db, bucket = o.on.db, o.on.bucket
	case o.bucket != nil:
		db, bucket = testenv.Postgres(t), o.bucket
	default:
		db, bucket = testenv.Postgres(t), testenv.S3(t)
	}
	if o.store == nil {
		// Parts above S3's 5 MiB minimum, as production may configure.
		o.store = storage.New(bucket.Client, bucket.Name, storage.Options{PartSize: 6 << 20, PartsInFlight: 2})
	}
	verifier, err := auth.New(context.Background(), auth.Config{Secret: []byte(testSecret)})
	require.NoError(t, err)
	inserter, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{})
	require.NoError(t, err)
	metrics := telemetry.NewMetrics()
	hub := events.NewHub(db.Pool, slog.New(slog.DiscardHandler))
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { _ = hub.Run(hubCtx); close(hubDone) }()
	t.Cleanup(func() { stopHub(); <-hubDone })
	srv := api.New(api.Deps{
		Hub:            hub,
		Logger:         slog.New(slog.DiscardHandler),
		Health:         health.NewChecker(time.Second, nil),
		Metrics:        metrics,
		Pool:           db.Pool,
		Store:          o.store,
		River:          inserter,
		Verifier:       verifier,
		Limits:         o.limits,
		OCR:            o.ocr,
		AllowedOrigins: []string{"http://app.example"},
		Dev:            o.dev,
		Web:            o.web,
	})
	locksCtx, stopLocks := context.WithCancel(context.Background())
	locksDone := make(chan struct{})
	go func() { _ = srv.RunUploads(locksCtx); close(locksDone) }()
	t.Cleanup(func() { stopLocks(); <-locksDone })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testBundle{db: db, bucket: bucket, server: srv, river: inserter, metrics: metrics, url: ts.URL}
}

func token(t *testing.T, sub string) string {
	t.Helper()
	tok, err := auth.Sign([]byte(testSecret), sub, time.Hour)
	require.NoError(t, err)
	return tok
}

// pdfBytes is n bytes that start like a PDF.
func pdfBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	copy(b, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	return b
}

func (b *testBundle) do(t *testing.T, method, path, sub string, body io.Reader, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, body)
	require.NoError(t, err)
	if sub != "" {
		req.Header.Set("Authorization", "Bearer "+token(t, sub))
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (b *testBundle) uploadRaw(t *testing.T, sub, filename string, body []byte) *http.Response {
	t.Helper()
	return b.do(t, http.MethodPost, "/v1/documents?filename="+filename, sub, bytes.NewReader(body),
		map[string]string{"Content-Type": "application/pdf"})
}

func (b *testBundle) uploadMultipart(t *testing.T, sub, filename string, body []byte) *http.Response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("note", "a form field before the file"))
	fw, err := mw.CreateFormFile("file", filename)
	require.NoError(t, err)
	_, err = fw.Write(body)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return b.do(t, http.MethodPost, "/v1/documents", sub, &buf, map[string]string{"Content-Type": mw.FormDataContentType()})
}

func decode[T any](t *testing.T, resp *http.Response) T {
	t.Helper()
	var v T
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v
}

type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

func requireProblem(t *testing.T, resp *http.Response, status int, code string) problemBody {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, "body: %s", body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p problemBody
	require.NoError(t, json.Unmarshal(body, &p))
	require.Equal(t, status, p.Status)
	require.Equal(t, code, p.Code)
	require.NotEmpty(t, p.Detail)
	return p
}

func (b *testBundle) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

// requireNothingStored checks that no document row, no object and no
// unfinished multipart upload exists.
func (b *testBundle) requireNothingStored(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	require.Zero(t, b.count(t, "SELECT count(*) FROM documents"), "no document row")
	require.Zero(t, b.count(t, "SELECT count(*) FROM river_job WHERE kind = 'parse'"), "no parse job")
	out, err := b.bucket.Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.bucket.Name})
	require.NoError(t, err)
	require.Empty(t, out.Contents, "no object")
	uploads, err := b.bucket.Store.ListUploads(ctx, "")
	require.NoError(t, err)
	require.Empty(t, uploads, "no unfinished multipart upload")
}

func (b *testBundle) object(t *testing.T, key string) []byte {
	t.Helper()
	obj, err := b.bucket.Store.Get(context.Background(), key)
	require.NoError(t, err)
	defer obj.Close()
	data, err := io.ReadAll(obj)
	require.NoError(t, err)
	return data
}

func (b *testBundle) s3Key(t *testing.T, id string) string {
	t.Helper()
	var key string
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), "SELECT s3_key FROM documents WHERE id = $1", id).Scan(&key))
	return key
}

// sequence waits until every committed event has its log position (it
// sequences too, as the hub's next poll would; the hub may be at it): for
// tests that read positions right after a write.
func (b *testBundle) sequence(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := events.Sequence(context.Background(), b.db.Pool)
		require.NoError(t, err)
		return b.count(t, `SELECT count(*) FROM document_events WHERE pos IS NULL`) == 0
	}, 10*time.Second, 5*time.Millisecond)
}
