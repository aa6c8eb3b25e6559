package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// MinSecretBytes is the shortest HS256 secret accepted.
const MinSecretBytes = 32

// ErrUnauthorized is wrapped by every verification failure.
var ErrUnauthorized = errors.New("unauthorized")

// Config says how tokens are verified.
type Config struct {
	Secret   []byte // HS256 shared secret
	JWKSURL  string // asymmetric keys
	Issuer   string // required "iss", when set
	Audience string // required "aud", when set
}

// Verifier checks tokens.
type Verifier struct {
	secret []byte
	jwks   keyfunc.Keyfunc
	parser *jwt.Parser
}

var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// New returns a Verifier. With a JWKS URL it fetches the key set now and
// refreshes it in the background until ctx ends.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	v := &Verifier{secret: cfg.Secret}
	var methods []string
	if len(cfg.Secret) > 0 {
		if len(cfg.Secret) < MinSecretBytes {
			return nil, fmt.Errorf("the HS256 secret must be at least %d bytes", MinSecretBytes)
		}
		methods = append(methods, "HS256")
	}
	if cfg.JWKSURL != "" {
		k, err := keyfunc.NewDefaultCtx(ctx, []string{cfg.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("error loading JWKS from %s: %w", cfg.JWKSURL, err)
		}
		v.jwks = k
		methods = append(methods, asymmetric...)
	}
	if len(methods) == 0 {
		return nil, errors.New("no way to verify tokens: set a secret or a JWKS URL")
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithExpirationRequired(), jwt.WithLeeway(30 * time.Second)}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Identity is who a verified token speaks for, and until when.
type Identity struct {
	Subject string    // the owner
	Expires time.Time // the token's expiry: a stream it opened ends then
	claims  jwt.MapClaims
}

// HasClaim reports whether the token's claim name (a dotted path into
// nested objects, as "realm_access.roles") holds value: equal to it, an
// array with it, or a space-separated list with it (as "scope").
func (id Identity) HasClaim(name, value string) bool {
	var v any = map[string]any(id.claims)
	for part := range strings.SplitSeq(name, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		v = m[part]
	}
	switch c := v.(type) {
	case string:
		return c == value || slices.Contains(strings.Fields(c), value)
	case []any:
		for _, e := range c {
			if e == value {
				return true
			}
		}
	}
	return false
}

// Verify checks token and returns its identity.
func (v *Verifier) Verify(ctx context.Context, token string) (Identity, error) {
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if t.Method.Alg() == "HS256" {
			if v.secret == nil {
				return nil, errors.New("HS256 tokens are not accepted")
			}
			return v.secret, nil
		}
		if v.jwks == nil {
			return nil, fmt.Errorf("%s tokens are not accepted", t.Method.Alg())
		}
		return v.jwks.KeyfuncCtx(ctx)(t)
	})
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	sub, _ := claims.GetSubject()
	if err := checkSubject(sub); err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return Identity{}, fmt.Errorf("%w: token has no expiry", ErrUnauthorized)
	}
	return Identity{Subject: sub, Expires: exp.Time, claims: claims}, nil
}

// MaxSubjectBytes bounds a token's subject (OpenID Connect: at most 255
// ASCII characters).
const MaxSubjectBytes = 255

// checkSubject refuses subjects Folio cannot use as an owner: empty, too
// long, not UTF-8, or holding control characters (NUL cannot be stored
// in Postgres text at all).
func checkSubject(sub string) error {
	switch {
	case strings.TrimSpace(sub) == "":
		return errors.New("token has no subject")
	case len(sub) > MaxSubjectBytes:
		return fmt.Errorf("token subject is longer than %d bytes", MaxSubjectBytes)
	case !utf8.ValidString(sub):
		return errors.New("token subject is not UTF-8")
	case strings.IndexFunc(sub, unicode.IsControl) >= 0:
		return errors.New("token subject holds control characters")
	}
	return nil
}

// FromRequest verifies the request's "Authorization: Bearer" token.
func (v *Verifier) FromRequest(r *http.Request) (Identity, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return Identity{}, fmt.Errorf("%w: missing bearer token", ErrUnauthorized)
	}
	return v.Verify(r.Context(), strings.TrimSpace(token))
}

// Sign makes an HS256 token for sub that expires after ttl: what
// `folio token` prints for development.
func Sign(secret []byte, sub string, ttl time.Duration) (string, error) {
	if len(secret) < MinSecretBytes {
		return "", fmt.Errorf("the HS256 secret must be at least %d bytes", MinSecretBytes)
	}
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Subject:   sub,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}
