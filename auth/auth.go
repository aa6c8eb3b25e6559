package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

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

// Verify checks token and returns its subject.
func (v *Verifier) Verify(ctx context.Context, token string) (string, error) {
	var claims jwt.RegisteredClaims
	_, err := v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
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
		return "", fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	if strings.TrimSpace(claims.Subject) == "" {
		return "", fmt.Errorf("%w: token has no subject", ErrUnauthorized)
	}
	return claims.Subject, nil
}

// FromRequest verifies the request's "Authorization: Bearer" token.
func (v *Verifier) FromRequest(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", fmt.Errorf("%w: missing bearer token", ErrUnauthorized)
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
