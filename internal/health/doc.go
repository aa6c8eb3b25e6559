// Package health serves a process's liveness and readiness:
// /healthz answers 200 while the process runs; /readyz answers 200 only
// while every dependency check passes and the process is not draining, and
// 503 with the failing checks otherwise.
package health
