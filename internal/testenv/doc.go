// Package testenv gives tests real infrastructure: each test its own
// migrated Postgres database and its own S3 bucket.
//
// Where they come from, in order:
//
//  1. TEST_DATABASE_URL and TEST_S3_ENDPOINT, when set (credentials and
//     region for the endpoint come from the standard AWS variables, or
//     default to LocalStack's test/test);
//  2. testcontainers-go (postgres, and LocalStack 4.14.0, the last tag that
//     runs without an auth token), when a Docker engine answers;
//  3. the machine's own PostgreSQL binaries and versitygw, started once per
//     test process (see internal/devstack) and stopped by Main.
//
// Each package that uses testenv has
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// With CI=true a backend that cannot be had fails the test; elsewhere the
// test is skipped with the reason.
package testenv
