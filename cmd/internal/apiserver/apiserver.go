// Package apiserver wires and runs the API process: the HTTP API, its
// event hub, the resumable-upload locks, the admin listener, and the drain
// of a rolling deploy. cmd/api and `folio dev` run it; the worker binary
// does not link it (nor the API, admin, River UI, tusd or websockets).
package apiserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/foliohq/folio/admin"
	"github.com/foliohq/folio/api"
	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/backup"
	"github.com/foliohq/folio/cmd/internal/app"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/clientaddr"
	"github.com/foliohq/folio/internal/startstop"
	"github.com/foliohq/folio/internal/tesseract"
	"github.com/foliohq/folio/webhooks"
)

// apiDeps are what the API and admin handlers share: token verification
// and an insert-only River client.
type apiDeps struct {
	verifier *auth.Verifier
	river    *river.Client[pgx.Tx]
}

func newDeps(ctx context.Context, a *app.App) (apiDeps, error) {
	cfg := a.Config
	if err := cfg.RequireAuth(); err != nil {
		return apiDeps{}, err
	}
	verifier, err := auth.New(ctx, auth.Config{
		Secret: []byte(cfg.AuthJWTSecret), JWKSURL: cfg.AuthJWKSURL, Issuer: cfg.AuthIssuer, Audience: cfg.AuthAudience,
	})
	if err != nil {
		return apiDeps{}, fmt.Errorf("error setting up token verification: %w", err)
	}
	inserter, err := river.NewClient(riverpgxv5.New(a.Pool), &river.Config{Logger: a.Logger})
	if err != nil {
		return apiDeps{}, fmt.Errorf("error creating River client: %w", err)
	}
	return apiDeps{verifier: verifier, river: inserter}, nil
}

// Options are what `folio dev` adds to the API; cmd/api leaves them zero.
type Options struct {
	// Dev hands out dev tokens from the API.
	Dev *api.DevMode
	// Web serves the demo app at /.
	Web http.Handler
}

// ocrLanguages are the languages uploads may choose: the setting, else
// what this machine's tesseract has (`folio dev`, and an API image that
// carries the worker's), else the default's alone.
func ocrLanguages(a *app.App) api.OCRLanguages {
	l := api.OCRLanguages{Default: a.Config.OCRLanguages, Available: a.Config.OCRAvailableLanguages}
	if len(l.Available) == 0 {
		if path, err := exec.LookPath("tesseract"); err == nil {
			l.Available, _, _ = tesseract.Languages(path)
		}
	}
	if len(l.Available) == 0 {
		l.Available = strings.Split(l.Default, "+")
	}
	a.Logger.Info("ocr: languages uploads may choose", "default", l.Default, "available", strings.Join(l.Available, " "))
	return l
}

// newAPI builds the API handler around hub (which its owner runs), with
// the limits from Config.
func newAPI(a *app.App, hub *events.Hub, deps apiDeps, opts Options) *api.Server {
	cfg := a.Config
	if cfg.Scan == "clamd" {
		a.Logger.Info("scan: uploads are scanned for malware before their parse (FOLIO_SCAN=clamd)")
		if cfg.MaxUploadBytes > cfg.ScanMaxBytes && cfg.ScanTooLarge == "quarantine" {
			a.Logger.Warn("scan: uploads may be larger than the scanner reads: those are quarantined (raise FOLIO_SCAN_MAX_BYTES and clamd's StreamMaxLength, or set FOLIO_SCAN_TOO_LARGE=pass)",
				"max_upload_bytes", cfg.MaxUploadBytes, "scan_max_bytes", cfg.ScanMaxBytes)
		}
	}
	verifier, inserter := deps.verifier, deps.river
	return api.New(api.Deps{
		Hub:      hub,
		Logger:   a.Logger,
		Health:   a.Health,
		Metrics:  a.Metrics,
		Pool:     a.Pool,
		LockPool: a.LockPool,
		Store:    a.Store,
		River:    inserter,
		Verifier: verifier,
		OCR:      ocrLanguages(a),
		Limits: api.Limits{
			MaxUploadBytes:       cfg.MaxUploadBytes,
			UploadRateLimit:      cfg.UploadRateLimit,
			UploadRateWindow:     cfg.UploadRateWindow,
			UploadMinRate:        cfg.UploadMinRate,
			UploadGrace:          cfg.UploadGrace,
			OwnerQuotaBytes:      cfg.OwnerQuotaBytes,
			Scan:                 cfg.Scan == "clamd",
			PresignTTL:           cfg.PresignTTL,
			ReparseRateLimit:     cfg.ReparseRateLimit,
			TicketRateLimit:      cfg.TicketRateLimit,
			MaxStreamsPerOwner:   cfg.MaxStreamsPerOwner,
			RenderWait:           cfg.RenderWait,
			RenderMaxQueued:      cfg.RenderMaxQueued,
			ResumableExpiry:      cfg.ResumableExpiry,
			ResumableMaxPartials: cfg.ResumableMaxPartials,
			DirectMaxPending:     cfg.DirectMaxPending,
			AuthFailureLimit:     cfg.AuthFailureLimit,
			MaxRequestsPerOwner:  cfg.MaxRequestsPerOwner,
		},
		AllowedOrigins: cfg.AllowedOrigins,
		ClientAddr:     clientaddr.Resolver{Trusted: cfg.TrustedProxies},
		Dev:            opts.Dev,
		Web:            opts.Web,
	})
}

// Run serves the API on ln until ctx ends, then drains: /readyz turns
// 503 and the server goes on serving (streams included, with live events)
// for Config.ShutdownDelay, then stops accepting; streams get 1012;
// in-flight requests (uploads) get Config.ShutdownTimeout to finish.
//
// The event hub feeds the streams, so it runs on a context of its own and
// stops only after the last stream has closed.
func Run(ctx context.Context, a *app.App, ln net.Listener, opts Options) error {
	if a.Config.S3Versioning {
		// Restores roll the bucket back through its versions.
		if err := a.Store.EnableVersioning(ctx); err != nil {
			return fmt.Errorf("FOLIO_S3_VERSIONING: %w", err)
		}
	}
	hub := events.NewHub(a.Pool, a.Logger)
	a.Metrics.Registry.MustRegister(hub.Collectors()...)
	hubSvc := startstop.Start(context.WithoutCancel(ctx), "events hub", hub.Run)
	defer func() { _ = hubSvc.Stop() }()
	deps, err := newDeps(ctx, a)
	if err != nil {
		return err
	}
	handler := newAPI(a, hub, deps, opts)
	locks := startstop.Start(context.WithoutCancel(ctx), "upload locks", handler.RunUploads)
	defer func() { _ = locks.Stop() }()
	if a.Config.AdminAddr != "" {
		adminSvc, err := startAdmin(ctx, a, deps)
		if err != nil {
			return err
		}
		defer func() { _ = adminSvc.Stop() }()
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	a.Logger.Info("api listening", "addr", ln.Addr().String())

	// The drain: on ctx's end, not ready at once; after the delay (load
	// balancers take that long to stop sending), streams are told to
	// reconnect elsewhere and the server stops.
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	drain := startstop.Start(serveCtx, "drain timer", func(svcCtx context.Context) error {
		select {
		case <-ctx.Done():
		case <-svcCtx.Done():
			return nil
		}
		a.Health.Drain()
		a.Logger.Info("draining: not ready; still serving", "shutdown_delay", a.Config.ShutdownDelay.String())
		select {
		case <-time.After(a.Config.ShutdownDelay):
		case <-svcCtx.Done():
		}
		handler.CloseStreams()
		// Resumable uploads stop at their next part boundary and tell
		// their clients the offset: they resume on another process.
		handler.StopUploads()
		stopServing()
		return nil
	})
	defer func() { _ = drain.Stop() }()
	err = app.Serve(serveCtx, srv, ln, a.Config.ShutdownTimeout, handler.CutOffUploads)
	// Hijacked websockets are not the server's to wait for: wait for them
	// to have said 1012 before the hub and the process go.
	waitCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	handler.CloseStreams()
	handler.WaitStreams(waitCtx)
	return err
}

// listenAdmin opens the admin listener (FOLIO_ADMIN_ADDR).
func listenAdmin(ctx context.Context, a *app.App) (net.Listener, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", a.Config.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("error listening on FOLIO_ADMIN_ADDR=%s: %w", a.Config.AdminAddr, err)
	}
	return ln, nil
}

// startAdmin serves the admin surface (River UI behind admin auth) on its
// own listener until the returned service is stopped.
func startAdmin(ctx context.Context, a *app.App, deps apiDeps) (*startstop.Service, error) {
	cfg := a.Config
	srv, err := admin.New(admin.Config{Token: cfg.AdminToken, Verifier: deps.verifier,
		Claim: cfg.AdminClaim, Value: cfg.AdminClaimValue, Pool: a.Pool, SessionTTL: cfg.AdminSessionTTL,
		Hosts: cfg.AdminHosts, ClientAddr: clientaddr.Resolver{Trusted: cfg.TrustedProxies},
		LoginLimit: cfg.AdminLoginLimit, FailureLimit: cfg.AuthFailureLimit, Ledger: &backup.Ledger{Store: a.Store},
		Webhooks: admin.WebhookConfig{Guard: &webhooks.Guard{Allow: cfg.WebhookAllowNets}, RotationOverlap: cfg.WebhookRotationOverlap}},
		deps.river, a.Logger)
	if err != nil {
		return nil, err
	}
	ln, err := listenAdmin(ctx, a)
	if err != nil {
		return nil, err
	}
	a.Logger.Info("admin listening", "addr", ln.Addr().String(), "river_ui", admin.Prefix+"/")
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	return startstop.Start(context.WithoutCancel(ctx), "admin server", func(svcCtx context.Context) error {
		if err := srv.Start(svcCtx); err != nil {
			return err
		}
		return app.Serve(svcCtx, httpSrv, ln, 5*time.Second, nil)
	}), nil
}
