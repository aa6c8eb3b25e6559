// Command api serves Folio's HTTP API: uploads, documents, live status,
// health and metrics. Configuration is read from the environment (see
// README.md); `api --migrate` applies migrations first (development only).
package main

import (
	"context"
	"os"

	"github.com/foliohq/folio/cmd/internal/apiserver"
	"github.com/foliohq/folio/cmd/internal/app"
	"github.com/foliohq/folio/internal/config"
)

func main() {
	os.Exit(app.Main("api", os.Args[1:], os.Stderr, func(ctx context.Context, a *app.App) error {
		ln, err := a.Listen(ctx)
		if err != nil {
			return err
		}
		return apiserver.Run(ctx, a, ln, apiserver.Options{})
	}, (*config.Config).RequireAuth, (*config.Config).RequireAdmin))
}
