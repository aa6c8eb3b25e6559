// Package telemetry builds the process's structured logger and its
// Prometheus metrics: Go runtime and process collectors, and HTTP request
// counts and latencies by route pattern and status.
package telemetry
