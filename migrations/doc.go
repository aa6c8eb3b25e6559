// Package migrations holds Folio's SQL schema as embedded goose migrations and
// runs them together with River's own migrations (rivermigrate).
//
// Up takes a Postgres session advisory lock for the whole run, so any number
// of processes may run it at once (every release step of a rolling deploy,
// say): one migrates, the others wait and then find nothing left to do.
//
// Migrations are never run implicitly by the API or the worker in production;
// the release step `folio migrate` runs them. Rolling deploys follow the
// expand/contract rule described in docs/operations.md.
package migrations
