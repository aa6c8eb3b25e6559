package api

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/foliohq/folio/auth"
)

// DevMode is what `folio dev` turns on and the api binary never does: the
// API hands out tokens for any user it is asked for, so that the demo app
// can sign in without an identity provider.
type DevMode struct {
	Secret []byte        // the HS256 secret the API verifies tokens with
	TTL    time.Duration // how long a dev token is valid
}

// devSubject is what a dev user may be called: something a person types.
var devSubject = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// devToken handles POST /v1/dev/token: {"sub": "alice"} → a token for
// alice. Outside dev mode the endpoint does not exist.
func (s *Server) devToken(w http.ResponseWriter, r *http.Request) {
	if s.Dev == nil {
		writeProblem(w, problem(http.StatusNotFound, "no_such_endpoint",
			"There is no endpoint at "+r.URL.Path+": dev tokens exist only under `folio dev`."))
		return
	}
	// Anyone who reaches this endpoint may be anybody: keep it to this machine.
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err != nil || !isLoopback(host) || !loopbackHost(r.Host) {
		// The Host check stops DNS rebinding: a page on evil.example whose
		// name now resolves to 127.0.0.1 reaches this machine with
		// Host: evil.example.
		writeProblem(w, problem(http.StatusForbidden, "dev_token_local_only",
			"Dev tokens are handed out only to clients on the machine running `folio dev`, asking for it by a loopback name (localhost, 127.0.0.1, [::1])."))
		return
	}
	var body struct {
		Sub string `json:"sub"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		writeProblem(w, problem(http.StatusBadRequest, "bad_json", "The body must be a JSON object like {\"sub\": \"alice\"}."))
		return
	}
	if body.Sub == "" {
		body.Sub = "dev"
	}
	if !devSubject.MatchString(body.Sub) {
		writeProblem(w, problem(http.StatusBadRequest, "bad_subject",
			"A dev user name is 1 to 64 letters, digits, '.', '_', '@' or '-'."))
		return
	}
	ttl := s.Dev.TTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	tok, err := auth.Sign(s.Dev.Secret, body.Sub, ttl)
	if err != nil {
		s.Logger.Error("signing a dev token", "err", err)
		writeProblem(w, problem(http.StatusInternalServerError, "internal", "Could not sign a token."))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"token": tok, "sub": body.Sub, "expires_at": time.Now().Add(ttl).UTC().Truncate(time.Second),
	})
}

// loopbackHost reports whether a Host header names this machine:
// localhost or a loopback address, with or without a port.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.EqualFold(host, "localhost") || isLoopback(host)
}

func isLoopback(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
