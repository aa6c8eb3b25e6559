// Command worker runs Folio's River jobs (parsing, sweeping) and serves
// /healthz, /readyz and /metrics on FOLIO_HEALTH_ADDR. Configuration is read
// from the environment (see README.md).
package main

import (
	"context"
	"os"

	"github.com/foliohq/folio/cmd/internal/app"
	"github.com/foliohq/folio/cmd/internal/worker"
	"github.com/foliohq/folio/internal/sandbox"
)

func main() {
	sandbox.Main() // the parse sandbox re-executes this binary
	os.Exit(app.Main("worker", os.Args[1:], os.Stderr, func(ctx context.Context, a *app.App) error {
		ln, err := a.ListenHealth(ctx)
		if err != nil {
			return err
		}
		return worker.Run(ctx, a, ln)
	}))
}
