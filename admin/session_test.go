package admin_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/admin"
	"github.com/foliohq/folio/internal/clientaddr"
)

// signIn posts the sign-in form as the admin's own page does.
func signIn(t *testing.T, base, tok, next string, header map[string]string) *http.Response {
	t.Helper()
	form := url.Values{"token": {tok}, "next": {next}}
	req, err := http.NewRequest(http.MethodPost, base+"/admin/login", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "folio_admin" {
			return c
		}
	}
	t.Fatalf("no session cookie (status %d)", resp.StatusCode)
	return nil
}

func withCookie(t *testing.T, method, u string, c *http.Cookie) int {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	req.AddCookie(c)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestAdminSessionIsServerSide: the cookie holds a session id, never the
// token; signing out revokes it (a copy of the cookie no longer works); a
// session opened with a JWT ends with the JWT; the cookie is Secure when
// a trusted proxy says the page was served over TLS.
func TestAdminSessionIsServerSide(t *testing.T) {
	t.Parallel()
	base := setup(t, func(c *admin.Config) {
		c.ClientAddr = clientaddr.Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	})
	cookie := sessionCookie(t, signIn(t, base, adminToken, "", nil))
	require.NotContains(t, cookie.Value, adminToken)
	require.False(t, cookie.Secure, "served over plain HTTP")
	require.True(t, cookie.Expires.After(time.Now().Add(11*time.Hour)), "FOLIO_ADMIN_SESSION_TTL's 12 h")
	require.Equal(t, http.StatusOK, withCookie(t, http.MethodGet, base+"/admin/river/api/queues", cookie))

	forged := &http.Cookie{Name: "folio_admin", Value: adminToken}
	require.Equal(t, http.StatusUnauthorized, withCookie(t, http.MethodGet, base+"/admin/river/api/queues", forged),
		"the token itself is no session")

	require.Equal(t, http.StatusSeeOther, withCookie(t, http.MethodPost, base+"/admin/logout", cookie))
	require.Equal(t, http.StatusUnauthorized, withCookie(t, http.MethodGet, base+"/admin/river/api/queues", cookie),
		"signed out: the cookie kept elsewhere is dead")

	short := jwtWith(t, map[string]any{"realm_access": map[string]any{"roles": []string{"folio-admin"}}})
	c := sessionCookie(t, signIn(t, base, short, "", map[string]string{"X-Forwarded-Proto": "https"}))
	require.True(t, c.Secure, "behind a TLS proxy")
	require.True(t, c.Expires.Before(time.Now().Add(61*time.Minute)), "no longer than the JWT it was opened with")
}

// TestAdminSignInIsThrottled: sign-in attempts per client address are
// limited (429 with Retry-After), whatever the token; another address is
// not held back. Requests with bad credentials are limited the same way.
func TestAdminSignInIsThrottled(t *testing.T) {
	t.Parallel()
	base := setup(t, func(c *admin.Config) {
		c.LoginLimit, c.FailureLimit = 5, 8
		c.ClientAddr = clientaddr.Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	})
	from := func(addr string) map[string]string { return map[string]string{"X-Forwarded-For": addr} }
	for range 5 {
		require.Equal(t, http.StatusUnauthorized, signIn(t, base, "wrong", "", from("203.0.113.5")).StatusCode)
	}
	resp := signIn(t, base, adminToken, "", from("203.0.113.5"))
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "even the right token waits")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Equal(t, http.StatusSeeOther, signIn(t, base, adminToken, "", from("198.51.100.9")).StatusCode, "another address")

	for range 8 {
		require.Equal(t, http.StatusUnauthorized, get(t, base+"/admin/river/api/queues", "bad-token", from("203.0.113.6")).StatusCode)
	}
	require.Equal(t, http.StatusTooManyRequests, get(t, base+"/admin/river/api/queues", "bad-token", from("203.0.113.6")).StatusCode)
}

// TestAdminAnswersOnlyItsHosts: a Host that is not loopback, an IP address
// or FOLIO_ADMIN_HOSTS is refused (DNS rebinding), before any credential.
func TestAdminAnswersOnlyItsHosts(t *testing.T) {
	t.Parallel()
	base := setup(t, func(c *admin.Config) { c.Hosts = []string{"admin.internal.example"} })
	for host, want := range map[string]int{
		"evil.example":                http.StatusMisdirectedRequest,
		"evil.example:8082":           http.StatusMisdirectedRequest,
		"localhost:8082":              http.StatusOK,
		"127.0.0.1:8082":              http.StatusOK,
		"[::1]:8082":                  http.StatusOK,
		"10.1.2.3":                    http.StatusOK,
		"admin.internal.example":      http.StatusOK,
		"ADMIN.internal.example.:443": http.StatusOK,
	} {
		req, err := http.NewRequest(http.MethodGet, base+"/admin/river/api/queues", nil)
		require.NoError(t, err)
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, host)
	}
}

// TestAdminNextStaysUnderAdmin: whatever next= says, a sign-in lands on a
// clean path under /admin/.
func TestAdminNextStaysUnderAdmin(t *testing.T) {
	t.Parallel()
	base := setup(t)
	for next, want := range map[string]string{
		"/admin/river/jobs?state=failed": "/admin/river/jobs?state=failed",
		"/admin/../metrics":              "/admin/river/",
		"/admin/river/%2e%2e/%2e%2e/x":   "/admin/river/",
		"//evil.example/admin/":          "/admin/river/",
		"https://evil.example/admin/":    "/admin/river/",
		"/admin/\\evil":                  "/admin/river/",
		"/admin/river/\r\nSet-Cookie:x":  "/admin/river/",
		"/admin/river/\x00":              "/admin/river/",
		"javascript:alert(1)":            "/admin/river/",
		"/elsewhere":                     "/admin/river/",
	} {
		resp := signIn(t, base, adminToken, next, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, next)
		require.Equal(t, want, resp.Header.Get("Location"), "next=%q", next)
	}
}
