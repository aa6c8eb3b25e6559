// Package admin is Folio's operator surface on its own listener
// (FOLIO_ADMIN_ADDR): River's web UI at /admin/river/ (jobs by state,
// kind and queue; retry, cancel and delete; queues paused, resumed and
// resized), behind admin authentication. Nothing here is mounted on the
// public API listener.
//
// An admin is the holder of the admin token (FOLIO_ADMIN_TOKEN, or
// _FILE), or of a token the API's verifier accepts whose claim
// FOLIO_ADMIN_CLAIM holds FOLIO_ADMIN_CLAIM_VALUE (as identity providers
// issue roles). Scripts send it as a bearer token; a browser signs in at
// /admin/login, which opens a server-side session (the table
// admin_sessions, which this package owns): the cookie holds a random
// session id, never the token; the session ends at FOLIO_ADMIN_SESSION_TTL
// (or the token's own expiry) or when the admin signs out. The cookie is
// HttpOnly, SameSite=Strict, scoped to /admin, and Secure when the page
// was served over TLS (or a trusted proxy says it was). A request that
// changes something with that cookie must also come from the admin's own
// origin (Sec-Fetch-Site or Origin): the cookie is never enough on its own
// (CSRF). Sign-in attempts and requests without valid credentials are
// limited per client address; the listener answers only to loopback
// names, IP addresses and FOLIO_ADMIN_HOSTS (DNS rebinding).
package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/backup"
	"github.com/foliohq/folio/internal/clientaddr"
	"github.com/foliohq/folio/webhooks"
)

// cookieName holds a signed-in admin's credential.
const cookieName = "folio_admin"

// Prefix is where River UI is mounted.
const Prefix = "/admin/river"

// Config is who is an admin, and the limits of the admin listener.
type Config struct {
	// Token is the admin token; empty: none.
	Token string
	// Verifier checks JWTs (the API's); nil: tokens are not accepted.
	Verifier *auth.Verifier
	// Claim and Value: a verified JWT is an admin's when its claim Claim
	// (a dotted path) holds Value.
	Claim, Value string
	// Pool holds the sessions (admin_sessions).
	Pool *pgxpool.Pool
	// SessionTTL bounds a browser sign-in (12 h when zero).
	SessionTTL time.Duration
	// Hosts are the host names the listener answers to besides loopback
	// names and IP addresses.
	Hosts []string
	// ClientAddr finds a request's client address (trusted proxies).
	ClientAddr clientaddr.Resolver
	// LoginLimit caps sign-in attempts per minute per client address (10
	// when zero); FailureLimit, requests without valid credentials (60).
	LoginLimit, FailureLimit int
	// Ledger records the erasures of the documents the quarantine API
	// deletes (a restore applies them again); nil: not recorded.
	Ledger *backup.Ledger
	// Webhooks are the settings of webhook endpoint management.
	Webhooks WebhookConfig
}

// WebhookConfig is the guard that checks endpoint addresses, and how long
// a rotated-out secret keeps signing (24 h when zero).
type WebhookConfig struct {
	Guard           *webhooks.Guard
	RotationOverlap time.Duration
}

// Server is the admin listener's handler.
type Server struct {
	cfg      Config
	logger   *slog.Logger
	ui       *riverui.Handler
	mux      *http.ServeMux
	logins   *clientaddr.Limiter
	failures *clientaddr.Limiter
	river    *river.Client[pgx.Tx]
}

// New builds the admin handler around a River client (insert-only is
// enough: River UI reads and changes jobs and queues through it). Start
// must run before it serves.
func New(cfg Config, client *river.Client[pgx.Tx], logger *slog.Logger) (*Server, error) {
	if cfg.Pool == nil {
		return nil, errors.New("admin: no database for sessions")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Webhooks.Guard == nil {
		cfg.Webhooks.Guard = &webhooks.Guard{}
	}
	if cfg.Webhooks.RotationOverlap <= 0 {
		cfg.Webhooks.RotationOverlap = 24 * time.Hour
	}
	if cfg.LoginLimit <= 0 {
		cfg.LoginLimit = 10
	}
	if cfg.FailureLimit <= 0 {
		cfg.FailureLimit = 60
	}
	if cfg.Token == "" && (cfg.Verifier == nil || cfg.Claim == "" || cfg.Value == "") {
		return nil, errors.New("admin: set FOLIO_ADMIN_TOKEN (or _FILE), or FOLIO_ADMIN_CLAIM and FOLIO_ADMIN_CLAIM_VALUE with token verification")
	}
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(client, nil),
		Logger:    logger,
		Prefix:    Prefix,
	})
	if err != nil {
		return nil, fmt.Errorf("error creating River UI: %w", err)
	}
	s := &Server{cfg: cfg, logger: logger, ui: ui, mux: http.NewServeMux(),
		logins: clientaddr.NewLimiter(cfg.LoginLimit, time.Minute), failures: clientaddr.NewLimiter(cfg.FailureLimit, time.Minute),
		river: client}
	s.mux.HandleFunc("GET /admin/login", s.loginForm)
	s.mux.HandleFunc("POST /admin/login", s.login)
	s.mux.HandleFunc("POST /admin/logout", s.logout)
	s.mux.Handle(Prefix+"/", s.authorized(ui))
	s.mux.Handle("GET /admin/api/quarantine", s.authorized(http.HandlerFunc(s.quarantineList)))
	s.mux.Handle("POST /admin/api/documents/{id}/release", s.authorized(http.HandlerFunc(s.quarantineAction)))
	s.mux.Handle("POST /admin/api/documents/{id}/rescan", s.authorized(http.HandlerFunc(s.quarantineAction)))
	s.mux.Handle("DELETE /admin/api/documents/{id}", s.authorized(http.HandlerFunc(s.quarantineAction)))
	for pattern, h := range map[string]http.HandlerFunc{
		"GET /admin/api/webhooks":                        s.webhookList,
		"POST /admin/api/webhooks":                       s.webhookAdd,
		"GET /admin/api/webhooks/{id}":                   s.webhookGet,
		"PATCH /admin/api/webhooks/{id}":                 s.webhookUpdate,
		"DELETE /admin/api/webhooks/{id}":                s.webhookRemove,
		"POST /admin/api/webhooks/{id}/{action}":         s.webhookAction,
		"GET /admin/api/webhooks/{id}/deliveries":        s.webhookDeliveries,
		"POST /admin/api/webhook-deliveries/{id}/replay": s.webhookReplayOne,
	} {
		s.mux.Handle(pattern, s.authorized(h))
	}
	s.mux.Handle("GET /admin/{$}", http.RedirectHandler(Prefix+"/", http.StatusFound))
	s.mux.Handle("GET /{$}", http.RedirectHandler(Prefix+"/", http.StatusFound))
	return s, nil
}

// Start starts River UI's background services; they stop when ctx ends.
func (s *Server) Start(ctx context.Context) error { return s.ui.Start(ctx) }

// ServeHTTP serves the admin surface.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if !s.hostAllowed(r.Host) {
		// A page on evil.example whose name now resolves to this listener
		// (DNS rebinding) reaches it with Host: evil.example.
		writeProblem(w, http.StatusMisdirectedRequest, "host_not_allowed",
			"The admin listener answers to loopback names, IP addresses and FOLIO_ADMIN_HOSTS only.")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// hostAllowed: an IP address, a loopback name, or one of Hosts.
func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	for _, h := range s.cfg.Hosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	return false
}

// credential is the request's admin credential: a bearer token, else the
// sign-in cookie's session id; fromCookie says which.
func credential(r *http.Request) (tok string, fromCookie bool) {
	if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(t), false
	}
	if c, err := r.Cookie(cookieName); err == nil {
		return c.Value, true
	}
	return "", false
}

// check says whether tok is an admin's: status 0 when it is, 401 when it
// is no valid credential, 403 when it is a valid token of someone who is
// not an admin. expires is when it stops being valid (zero: never).
func (s *Server) check(ctx context.Context, tok string) (status int, expires time.Time) {
	if tok == "" {
		return http.StatusUnauthorized, time.Time{}
	}
	if s.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) == 1 {
		return 0, time.Time{}
	}
	if s.cfg.Verifier == nil {
		return http.StatusUnauthorized, time.Time{}
	}
	id, err := s.cfg.Verifier.Verify(ctx, tok)
	if err != nil {
		return http.StatusUnauthorized, time.Time{}
	}
	if s.cfg.Claim == "" || !id.HasClaim(s.cfg.Claim, s.cfg.Value) {
		return http.StatusForbidden, time.Time{}
	}
	return 0, id.Expires
}

// authorized lets only admins through. Browsers without a credential are
// sent to the sign-in page; a change made with the cookie must come from
// this origin.
func (s *Server) authorized(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := s.cfg.ClientAddr.Of(r)
		if over, wait := s.failures.Over(addr); over {
			writeTooMany(w, wait)
			return
		}
		tok, fromCookie := credential(r)
		var status int
		if fromCookie {
			status = s.session(r.Context(), tok)
		} else {
			status, _ = s.check(r.Context(), tok)
		}
		if status == http.StatusUnauthorized && tok != "" {
			s.failures.Count(addr)
		}
		switch {
		case status == http.StatusUnauthorized && r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html"):
			http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		case status == http.StatusServiceUnavailable:
			writeProblem(w, status, "database_unavailable", "The session could not be checked; try again shortly.")
			return
		case status != 0:
			writeError(w, status)
			return
		case fromCookie && unsafeMethod(r.Method) && !sameOrigin(r):
			writeError(w, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// sameOrigin reports whether a browser says the request comes from this
// origin (Sec-Fetch-Site, else Origin against Host).
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	u, err := url.Parse(r.Header.Get("Origin"))
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

func writeError(w http.ResponseWriter, status int) {
	code, detail := "unauthorized", "Admin credentials are required: the admin token or an admin's token, as a bearer token or by signing in at /admin/login."
	if status == http.StatusForbidden {
		code, detail = "forbidden", "These credentials are not an admin's, or the request did not come from the admin's own page."
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="folio-admin"`)
	}
	writeProblem(w, status, code, detail)
}

func writeTooMany(w http.ResponseWriter, wait time.Duration) {
	secs := int(wait.Seconds()) + 1
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeProblem(w, http.StatusTooManyRequests, "too_many_failures",
		fmt.Sprintf("Too many sign-in attempts or requests without valid credentials from your address; wait %d s.", secs))
}

func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":"urn:folio:problem:%s","title":%q,"status":%d,"detail":%q,"code":%q}`+"\n",
		code, http.StatusText(status), status, detail, code)
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Folio admin: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Folio admin</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/admin/login">
<input type="hidden" name="next" value="{{.Next}}">
<label for="token">Admin token, or an admin's access token</label><br>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus size="60">
<button type="submit">Sign in</button>
</form></main></body></html>
`))

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, http.StatusOK, safeNext(r.URL.Query().Get("next")), "")
}

func (s *Server) renderLogin(w http.ResponseWriter, status int, next, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, map[string]string{"Next": next, "Error": msg})
}

// login checks the token a browser posted and opens a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden)
		return
	}
	if ok, wait := s.logins.Allow(s.cfg.ClientAddr.Of(r)); !ok {
		writeTooMany(w, wait)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, http.StatusBadRequest, Prefix+"/", "The form could not be read.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	tok := strings.TrimSpace(r.PostForm.Get("token"))
	status, expires := s.check(r.Context(), tok)
	if status != 0 {
		msg := "That is not the admin token or a valid admin's token."
		if status == http.StatusForbidden {
			msg = "That token is valid, but not an admin's."
		}
		s.renderLogin(w, status, next, msg)
		return
	}
	until := time.Now().Add(s.cfg.SessionTTL)
	if !expires.IsZero() && expires.Before(until) {
		until = expires
	}
	subject := "admin-token"
	if s.cfg.Token == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) != 1 {
		if id, err := s.cfg.Verifier.Verify(r.Context(), tok); err == nil {
			subject = id.Subject
		}
	}
	sid, err := openSession(r.Context(), s.cfg.Pool, subject, until)
	if err != nil {
		s.logger.Error("admin: opening a session", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "database_unavailable", "The sign-in could not be recorded; try again shortly.")
		return
	}
	s.logger.Info("admin: signed in", "subject", subject, "expires_at", until.UTC().Format(time.RFC3339))
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: sid, Path: "/admin", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.overTLS(r), Expires: until})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// overTLS: the page was served over TLS, here or (a trusted proxy says) in
// front of this listener.
func (s *Server) overTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	peer, _ := netip.ParseAddrPort(r.RemoteAddr)
	for _, p := range s.cfg.ClientAddr.Trusted {
		if p.Contains(peer.Addr().Unmap()) {
			return strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
		}
	}
	return false
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden)
		return
	}
	if sid, fromCookie := credential(r); fromCookie {
		if err := closeSession(r.Context(), s.cfg.Pool, sid); err != nil {
			s.logger.Error("admin: closing a session", "err", err)
			writeProblem(w, http.StatusServiceUnavailable, "database_unavailable", "The sign-out could not be recorded; try again shortly.")
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/admin", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.overTLS(r)})
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

// session says whether a session id is an open session: 0 when it is,
// 401 otherwise (or 503 when the database cannot say).
func (s *Server) session(ctx context.Context, sid string) int {
	ok, err := sessionOpen(ctx, s.cfg.Pool, sid)
	switch {
	case err != nil:
		s.logger.Error("admin: reading a session", "err", err)
		return http.StatusServiceUnavailable
	case !ok:
		return http.StatusUnauthorized
	}
	return 0
}

// safeNext keeps a post-sign-in redirect on this server: a path under
// /admin/, cleaned, with no scheme, host, backslash, control character or
// "..", else River UI.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		strings.ContainsAny(next, "\\") || strings.IndexFunc(next, unicode.IsControl) >= 0 {
		return Prefix + "/"
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	if !strings.HasPrefix(clean, "/admin/") || strings.Contains(u.Path, "..") {
		return Prefix + "/"
	}
	out := &url.URL{Path: clean, RawQuery: u.RawQuery}
	return out.String()
}
