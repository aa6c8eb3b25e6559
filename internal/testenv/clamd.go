package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/foliohq/folio/internal/devstack"
)

// Clamd starts a real clamd for the test, loading Folio's test signatures
// (clamd.TestSignatures; version 1), on a free loopback port, and stops
// it afterwards. Without clamd installed the test is skipped (a failure
// under CI=true: .ci/run installs it).
func Clamd(t testing.TB) *devstack.Clamd {
	t.Helper()
	return ClamdWith(t, devstack.ClamdOptions{})
}

// ClamdWith is Clamd with options (Bin and Dir are filled in).
func ClamdWith(t testing.TB, opts devstack.ClamdOptions) *devstack.Clamd {
	t.Helper()
	bin, err := devstack.ClamdBin()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testenv: %v (a failure under CI=true)", err)
		}
		t.Skipf("testenv: %v", err)
	}
	opts.Bin = bin
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := devstack.StartClamd(ctx, opts)
	if err != nil {
		t.Fatalf("testenv: starting clamd: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}
