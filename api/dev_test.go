package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/api"
	"github.com/foliohq/folio/internal/webui"
)

func withDev(o *setupOpts) { o.dev = &api.DevMode{Secret: []byte(testSecret), TTL: time.Hour} }

func TestDevTokenOnlyInDevMode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.do(t, http.MethodPost, "/v1/dev/token", "", strings.NewReader(`{"sub":"alice"}`), nil)
	requireProblem(t, resp, http.StatusNotFound, "no_such_endpoint")
}

func TestDevToken(t *testing.T) {
	t.Parallel()
	b := setup(t, withDev)
	resp := b.do(t, http.MethodPost, "/v1/dev/token", "", strings.NewReader(`{"sub":"alice"}`),
		map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	got := decode[struct {
		Token     string    `json:"token"`
		Sub       string    `json:"sub"`
		ExpiresAt time.Time `json:"expires_at"`
	}](t, resp)
	require.Equal(t, "alice", got.Sub)
	require.WithinDuration(t, time.Now().Add(time.Hour), got.ExpiresAt, time.Minute)

	// The token is alice's: it uploads as alice, and bob does not see it.
	up := b.do(t, http.MethodPost, "/v1/documents?filename=a.pdf", "", bytesReader(pdfBytes(t, 100)),
		map[string]string{"Content-Type": "application/pdf", "Authorization": "Bearer " + got.Token})
	require.Equal(t, http.StatusCreated, up.StatusCode)
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM documents WHERE owner = 'alice'"))

	// No body: the user "dev".
	resp = b.do(t, http.MethodPost, "/v1/dev/token", "", nil, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, "dev", decode[struct{ Sub string }](t, resp).Sub)

	for _, body := range []string{`{"sub":"a b"}`, `{"sub":"` + strings.Repeat("x", 65) + `"}`, `{"sub":"<script>"}`} {
		requireProblem(t, b.do(t, http.MethodPost, "/v1/dev/token", "", strings.NewReader(body), nil), http.StatusBadRequest, "bad_subject")
	}
	requireProblem(t, b.do(t, http.MethodPost, "/v1/dev/token", "", strings.NewReader(`{"sub":`), nil), http.StatusBadRequest, "bad_json")
}

// TestDevTokenOnlyForThisMachine: whoever reaches the endpoint would get a
// token for anybody, so only loopback clients get one, and only when they
// ask by a loopback name: a page whose own name was rebound to 127.0.0.1
// (DNS rebinding) sends its own name as Host.
func TestDevTokenOnlyForThisMachine(t *testing.T) {
	t.Parallel()
	b := setup(t, withDev)
	for _, tt := range []struct {
		addr, host string
		want       int
	}{
		{"192.0.2.10:5555", "localhost:8080", http.StatusForbidden},
		{"[2001:db8::1]:5555", "localhost:8080", http.StatusForbidden},
		{"127.0.0.1:5555", "localhost:8080", http.StatusCreated},
		{"[::1]:5555", "[::1]:8080", http.StatusCreated},
		{"[::ffff:127.0.0.1]:1", "127.0.0.1:8080", http.StatusCreated},
		{"127.0.0.1:5555", "LOCALHOST", http.StatusCreated},
		{"127.0.0.1:5555", "evil.example:8080", http.StatusForbidden},
		{"127.0.0.1:5555", "localhost.evil.example", http.StatusForbidden},
		{"127.0.0.1:5555", "", http.StatusForbidden},
	} {
		req := httptest.NewRequest(http.MethodPost, "/v1/dev/token", strings.NewReader(`{"sub":"alice"}`))
		req.RemoteAddr, req.Host = tt.addr, tt.host
		rec := httptest.NewRecorder()
		b.server.ServeHTTP(rec, req)
		require.Equal(t, tt.want, rec.Code, "from %s as %q: %s", tt.addr, tt.host, rec.Body)
		if tt.want == http.StatusForbidden {
			require.Contains(t, rec.Body.String(), `"code":"dev_token_local_only"`)
		}
	}
}

func TestWebAppServedOutsideTheAPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "assets"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><title>demo</title>"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "assets", "app-1234.js"), []byte("console.log(1)"), 0o644))
	b := setup(t, func(o *setupOpts) { o.web = webui.Handler(dir) })

	for _, path := range []string{"/", "/documents/123"} {
		resp := b.do(t, http.MethodGet, path, "", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
	}
	resp := b.do(t, http.MethodGet, "/assets/app-1234.js", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Cache-Control"), "immutable")
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/assets/gone.js", "", nil, nil).StatusCode)

	// The API's own answers are untouched.
	requireProblem(t, b.do(t, http.MethodGet, "/v1/nothing", "alice", nil, nil), http.StatusNotFound, "no_such_endpoint")
	requireProblem(t, b.do(t, http.MethodPost, "/", "", nil, nil), http.StatusNotFound, "no_such_endpoint")
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/healthz", "", nil, nil).StatusCode)
}

func TestWebAppNotBuilt(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.web = webui.Handler(t.TempDir()) })
	resp := b.do(t, http.MethodGet, "/", "", nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), "make web")
}
