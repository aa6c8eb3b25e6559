package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
)

const secret = "0123456789abcdef0123456789abcdef"

func claims(sub string, ttl time.Duration) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{Subject: sub, ExpiresAt: jwt.NewNumericDate(time.Now().Add(ttl))}
}

func TestHS256(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v, err := auth.New(ctx, auth.Config{Secret: []byte(secret)})
	require.NoError(t, err)

	tok, err := auth.Sign([]byte(secret), "alice", time.Hour)
	require.NoError(t, err)
	id, err := v.Verify(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, "alice", id.Subject)
	require.WithinDuration(t, time.Now().Add(time.Hour), id.Expires, time.Minute, "the token's expiry")

	bad := map[string]jwt.Claims{
		"expired":    claims("alice", -time.Hour),
		"no expiry":  jwt.RegisteredClaims{Subject: "alice"},
		"no subject": claims("", time.Hour),
		// Subjects no owner can be: Postgres refuses NUL and invalid UTF-8.
		"NUL in the subject":     claims("a\x00b", time.Hour),
		"control characters":     claims("a\nb", time.Hour),
		"subject over 255 bytes": claims(strings.Repeat("x", 256), time.Hour),
		"blank subject":          claims("  ", time.Hour),
	}
	for name, c := range bad {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
		require.NoError(t, err)
		_, err = v.Verify(ctx, tok)
		require.ErrorIs(t, err, auth.ErrUnauthorized, name)
	}

	wrong, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("alice", time.Hour)).SignedString([]byte(strings.Repeat("x", 32)))
	require.NoError(t, err)
	_, err = v.Verify(ctx, wrong)
	require.ErrorIs(t, err, auth.ErrUnauthorized)

	_, err = auth.New(ctx, auth.Config{Secret: []byte("short")})
	require.Error(t, err)
	_, err = auth.New(ctx, auth.Config{})
	require.Error(t, err)
}

func TestAlgNoneIsRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v, err := auth.New(ctx, auth.Config{Secret: []byte(secret)})
	require.NoError(t, err)

	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims("alice", time.Hour)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	_, err = v.Verify(ctx, tok)
	require.ErrorIs(t, err, auth.ErrUnauthorized)
}

// jwksServer serves one RSA key as a JWKS.
func jwksServer(t *testing.T, key *rsa.PublicKey) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	set := map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	url := jwksServer(t, &key.PublicKey)

	v, err := auth.New(ctx, auth.Config{JWKSURL: url, Issuer: "https://idp.example/", Audience: "folio"})
	require.NoError(t, err)

	sign := func(c jwt.Claims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		return s
	}
	good := jwt.RegisteredClaims{Subject: "carol", Issuer: "https://idp.example/", Audience: jwt.ClaimStrings{"folio"},
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}
	id, err := v.Verify(ctx, sign(good))
	require.NoError(t, err)
	require.Equal(t, "carol", id.Subject)

	wrongIss := good
	wrongIss.Issuer = "https://other.example/"
	_, err = v.Verify(ctx, sign(wrongIss))
	require.ErrorIs(t, err, auth.ErrUnauthorized)

	wrongAud := good
	wrongAud.Audience = jwt.ClaimStrings{"someone-else"}
	_, err = v.Verify(ctx, sign(wrongAud))
	require.ErrorIs(t, err, auth.ErrUnauthorized)

	// Algorithm confusion: an HS256 token whose "secret" is the public key
	// the JWKS publishes. With only a JWKS configured, HS256 is not
	// accepted at all.
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	confused := jwt.NewWithClaims(jwt.SigningMethodHS256, good)
	confused.Header["kid"] = "k1"
	forged, err := confused.SignedString(pemKey)
	require.NoError(t, err)
	_, err = v.Verify(ctx, forged)
	require.ErrorIs(t, err, auth.ErrUnauthorized)

	// With both a secret and a JWKS, HS256 is checked against the secret
	// only, never against a JWKS key.
	both, err := auth.New(ctx, auth.Config{Secret: []byte(secret), JWKSURL: url, Issuer: "https://idp.example/", Audience: "folio"})
	require.NoError(t, err)
	_, err = both.Verify(ctx, forged)
	require.ErrorIs(t, err, auth.ErrUnauthorized)
	_, err = both.Verify(ctx, sign(good))
	require.NoError(t, err)
}

// TestAdminClaims: an identity provider's roles come as an array, a
// space-separated string (scope) or a plain string, at the top level or
// nested (Keycloak's realm_access.roles).
func TestAdminClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v, err := auth.New(ctx, auth.Config{Secret: []byte(secret)})
	require.NoError(t, err)
	verify := func(extra jwt.MapClaims) auth.Identity {
		t.Helper()
		c := jwt.MapClaims{"sub": "ops", "exp": time.Now().Add(time.Hour).Unix()}
		for k, val := range extra {
			c[k] = val
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
		require.NoError(t, err)
		id, err := v.Verify(ctx, tok)
		require.NoError(t, err)
		return id
	}
	require.True(t, verify(jwt.MapClaims{"roles": []string{"reader", "folio-admin"}}).HasClaim("roles", "folio-admin"))
	require.True(t, verify(jwt.MapClaims{"scope": "openid folio-admin"}).HasClaim("scope", "folio-admin"))
	require.True(t, verify(jwt.MapClaims{"role": "folio-admin"}).HasClaim("role", "folio-admin"))
	require.True(t, verify(jwt.MapClaims{"realm_access": map[string]any{"roles": []string{"folio-admin"}}}).
		HasClaim("realm_access.roles", "folio-admin"))
	require.False(t, verify(jwt.MapClaims{"roles": []string{"folio-admin-ish"}}).HasClaim("roles", "folio-admin"))
	require.False(t, verify(jwt.MapClaims{"roles": []string{"reader"}}).HasClaim("roles", "folio-admin"))
	require.False(t, verify(nil).HasClaim("realm_access.roles", "folio-admin"), "no such claim")
	require.False(t, verify(jwt.MapClaims{"realm_access": "folio-admin"}).HasClaim("realm_access.roles", "folio-admin"))
}
