// Package api is Folio's public HTTP API: routing (one table, which the
// OpenAPI test reads), authentication, uploads, the documents and search
// endpoints, and the websocket and SSE event streams. Handlers decode a
// request, call the package that owns the change or the data (documents,
// events, storage; never SQL of their own) and encode the answer. Errors
// reach clients as RFC 9457 problem+json; domain errors become statuses in
// one place (problemFor). The admin surface is not here: it has its own
// listener (package admin).
package api
