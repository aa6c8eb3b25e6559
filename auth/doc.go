// Package auth verifies the bearer tokens (JWTs) that identify callers. The
// token's "sub" claim is the owner of everything the caller creates.
//
// Two ways to verify, either or both:
//
//   - a shared HS256 secret (FOLIO_AUTH_JWT_SECRET), for development and
//     simple installations; `folio token` signs with it;
//   - a JWKS URL (FOLIO_AUTH_JWKS_URL) with issuer and audience checks, for
//     identity providers such as Cognito, Auth0 or Keycloak (RS256, ES256,
//     PS256, EdDSA, …), keys refreshed in the background.
//
// Tokens must carry "exp". Unsigned tokens ("alg": "none") and algorithm
// confusion (an HS256 token signed with a public key) are rejected: each
// algorithm family is only ever checked against its own key source.
package auth
