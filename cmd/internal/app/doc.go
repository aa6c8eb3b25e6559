// Package app is the plumbing Folio's processes share: it reads flags and
// configuration, opens the Postgres pools and the S3 store, serves HTTP with
// a graceful stop, and maps signals and outcomes to exit codes. It knows
// neither the API nor the worker: cmd/internal/apiserver and
// cmd/internal/worker run those on an App, and `folio dev` runs both.
package app
