// Package e2e holds end-to-end tests that build and start Folio's real
// binaries (folio, api, worker) against real Postgres and S3, and break
// things on purpose: signals, concurrent runs, bad configuration.
package e2e
