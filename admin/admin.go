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
// /admin/login, which keeps it in an HttpOnly, SameSite=Strict cookie
// scoped to /admin. A request that changes something with that cookie must
// also come from the admin's own origin (Sec-Fetch-Site or Origin): the
// cookie is never enough on its own (CSRF).
package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/foliohq/folio/auth"
)

// cookieName holds a signed-in admin's credential.
const cookieName = "folio_admin"

// Prefix is where River UI is mounted.
const Prefix = "/admin/river"

// Config is who is an admin.
type Config struct {
	// Token is the admin token; empty: none.
	Token string
	// Verifier checks JWTs (the API's); nil: tokens are not accepted.
	Verifier *auth.Verifier
	// Claim and Value: a verified JWT is an admin's when its claim Claim
	// (a dotted path) holds Value.
	Claim, Value string
}

// Server is the admin listener's handler.
type Server struct {
	cfg    Config
	logger *slog.Logger
	ui     *riverui.Handler
	mux    *http.ServeMux
}

// New builds the admin handler around a River client (insert-only is
// enough: River UI reads and changes jobs and queues through it). Start
// must run before it serves.
func New(cfg Config, client *river.Client[pgx.Tx], logger *slog.Logger) (*Server, error) {
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
	s := &Server{cfg: cfg, logger: logger, ui: ui, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /admin/login", s.loginForm)
	s.mux.HandleFunc("POST /admin/login", s.login)
	s.mux.HandleFunc("POST /admin/logout", s.logout)
	s.mux.Handle(Prefix+"/", s.authorized(ui))
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
	s.mux.ServeHTTP(w, r)
}

// credential is the request's admin credential: a bearer token, else the
// sign-in cookie; fromCookie says which.
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
		tok, fromCookie := credential(r)
		status, _ := s.check(r.Context(), tok)
		switch {
		case status == http.StatusUnauthorized && r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html"):
			http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
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
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="folio-admin"`)
	}
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

// login checks the token a browser posted and keeps it in the cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden)
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
	c := &http.Cookie{Name: cookieName, Value: tok, Path: "/admin", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"}
	if !expires.IsZero() {
		c.Expires = expires
	}
	http.SetCookie(w, c)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/admin", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

// safeNext keeps a post-sign-in redirect on this server, under /admin.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/admin/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") {
		return next
	}
	return Prefix + "/"
}
