// Package devstack starts the real services Folio depends on from the
// machine's own binaries, with no Docker: a PostgreSQL cluster (initdb and
// postgres from the installed server packages) and versitygw, an S3 gateway
// written in Go, built from the pinned tools module and serving a local
// directory through its posix backend.
//
// `folio dev` and the test harness (internal/testenv) both use it. Children
// run in their own process group and are killed if this process dies
// (Linux parent-death signal), so nothing is left running behind it.
package devstack
