// Package app wires Folio's processes: it opens the Postgres pool and the
// S3 store from a Config and runs the API server or the River worker until
// its context ends, then shuts them down in order. cmd/api, cmd/worker,
// `folio dev` and the end-to-end tests all start processes through it.
package app
