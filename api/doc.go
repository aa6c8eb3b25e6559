// Package api is Folio's HTTP API: routing, health and metrics endpoints,
// and (as they land) the documents, events and auth handlers. Errors reach
// clients as RFC 9457 problem+json, mapped from domain errors in one place.
package api
