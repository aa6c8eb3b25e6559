package admin_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/admin"
	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	secret     = "0123456789abcdef0123456789abcdef-admin-test"
	adminToken = "admin-token-0123456789abcdef0123456789"
)

func setup(t *testing.T, opts ...func(*admin.Config)) string {
	t.Helper()
	u, _, _ := setupWith(t, opts...)
	return u
}

// setupWith is setup that also returns the database and the River client.
func setupWith(t *testing.T, opts ...func(*admin.Config)) (string, *testenv.DB, *river.Client[pgx.Tx]) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	db := testenv.Postgres(t)
	client, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{})
	require.NoError(t, err)
	verifier, err := auth.New(ctx, auth.Config{Secret: []byte(secret)})
	require.NoError(t, err)
	cfg := admin.Config{Token: adminToken, Verifier: verifier, Claim: "realm_access.roles", Value: "folio-admin", Pool: db.Pool}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := admin.New(cfg, client, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, srv.Start(ctx))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL, db, client
}

func jwtWith(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	claims["sub"] = "someone"
	claims["exp"] = time.Now().Add(time.Hour).Unix()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	require.NoError(t, err)
	return tok
}

func get(t *testing.T, u, bearer string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestAdminNeedsAnAdmin: without credentials every admin route answers 401
// (a browser is sent to sign in); a valid token of someone who is not an
// admin gets 403; the admin token and an admin's JWT get River UI.
func TestAdminNeedsAnAdmin(t *testing.T) {
	t.Parallel()
	base := setup(t)
	for _, path := range []string{"/admin/river/api/queues", "/admin/river/api/jobs?state=failed", "/admin/river/", "/admin/river/queues"} {
		resp := get(t, base+path, "", nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, path)
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		resp = get(t, base+path, "not-a-token", nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, path)
	}
	page := get(t, base+"/admin/river/queues", "", map[string]string{"Accept": "text/html"})
	require.Equal(t, http.StatusSeeOther, page.StatusCode)
	require.Equal(t, "/admin/login?next=%2Fadmin%2Friver%2Fqueues", page.Header.Get("Location"))

	user := jwtWith(t, jwt.MapClaims{"realm_access": map[string]any{"roles": []string{"reader"}}})
	require.Equal(t, http.StatusForbidden, get(t, base+"/admin/river/api/queues", user, nil).StatusCode, "a user is not an admin")
	expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "x", "exp": time.Now().Add(-time.Hour).Unix(),
		"realm_access": map[string]any{"roles": []string{"folio-admin"}}}).SignedString([]byte(secret))
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, get(t, base+"/admin/river/api/queues", expired, nil).StatusCode)

	for name, tok := range map[string]string{
		"the admin token": adminToken,
		"an admin's JWT":  jwtWith(t, jwt.MapClaims{"realm_access": map[string]any{"roles": []string{"reader", "folio-admin"}}}),
	} {
		resp := get(t, base+"/admin/river/api/queues", tok, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, name)
		var body struct {
			Data []any `json:"data"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), name)
	}
	require.Equal(t, http.StatusOK, get(t, base+"/admin/river/", adminToken, nil).StatusCode, "the UI itself")
}

// TestAdminSignInIsCSRFSafe: a browser signs in with a form; the cookie is
// HttpOnly, SameSite=Strict and scoped to /admin; a change made with it
// must come from the admin's own origin.
func TestAdminSignInIsCSRFSafe(t *testing.T) {
	t.Parallel()
	base := setup(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values, header map[string]string, cookies ...*http.Cookie) *http.Response {
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	sameSite := map[string]string{"Sec-Fetch-Site": "same-origin"}

	require.Equal(t, http.StatusForbidden, post("/admin/login", url.Values{"token": {adminToken}}, map[string]string{"Sec-Fetch-Site": "cross-site"}).StatusCode,
		"no sign-in from another site")
	require.Equal(t, http.StatusUnauthorized, post("/admin/login", url.Values{"token": {"wrong"}}, sameSite).StatusCode)
	resp := post("/admin/login", url.Values{"token": {adminToken}, "next": {"https://evil.example/"}}, sameSite)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/admin/river/", resp.Header.Get("Location"), "never redirected off the admin surface")
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "folio_admin" {
			cookie = c
		}
	}
	require.NotNil(t, cookie)
	require.True(t, cookie.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	require.Equal(t, "/admin", cookie.Path)

	req, err := http.NewRequest(http.MethodGet, base+"/admin/river/api/queues", nil)
	require.NoError(t, err)
	req.AddCookie(cookie)
	got, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	got.Body.Close()
	require.Equal(t, http.StatusOK, got.StatusCode, "the cookie reads")

	retry := url.Values{}
	require.Equal(t, http.StatusForbidden, post("/admin/river/api/jobs/retry", retry, nil, cookie).StatusCode,
		"a change with only the cookie (a cross-site form) is refused")
	require.Equal(t, http.StatusForbidden, post("/admin/river/api/jobs/retry", retry, map[string]string{"Origin": "https://evil.example"}, cookie).StatusCode)
	require.NotEqual(t, http.StatusForbidden, post("/admin/river/api/jobs/retry", retry, sameSite, cookie).StatusCode,
		"from the admin's own page it reaches River UI")
}
