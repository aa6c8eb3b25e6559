// Package webhooks tells an application's backend what happens to
// documents: signed HTTP POSTs to the endpoints an operator registered,
// in the Standard Webhooks 1.0 format (webhook-id, webhook-timestamp,
// webhook-signature; HMAC-SHA256 with whsec_ secrets; two signatures
// during a rotation).
//
// The outbox is the event log itself (docs/architecture.md, "Webhooks"):
// Fanout reads committed, sequenced events past each endpoint's cursor
// and records one delivery per endpoint and event, moving the cursors in
// the same transaction; a Deliverer sends what is due, each endpoint with
// its own attempts in flight, retrying on Standard Webhooks' schedule
// until a 2xx, dead-lettering after the last retry. Guard keeps every
// connection away from loopback, private, link-local, multicast and
// metadata addresses, checked on the address dialled.
package webhooks
