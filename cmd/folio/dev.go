package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/foliohq/folio/api"
	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/cmd/internal/apiserver"
	"github.com/foliohq/folio/cmd/internal/app"
	"github.com/foliohq/folio/cmd/internal/worker"
	"github.com/foliohq/folio/internal/config"
	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/internal/telemetry"
	"github.com/foliohq/folio/internal/tracing"
	"github.com/foliohq/folio/internal/webui"
	"github.com/foliohq/folio/migrations"
	"github.com/foliohq/folio/storage"
)

// devOptions are folio dev's flags.
type devOptions struct {
	dir       string
	pgPort    int
	s3Port    int
	clamdPort int
	web       string
	// backup: archive WAL and take base backups with pgBackRest, keep the
	// bucket's old versions; every backupEvery an incremental backup.
	backup      bool
	backupEvery time.Duration
	// restoreTo: restore the local stack to this time before starting
	// (PostgreSQL with pgBackRest, then the bucket: folio restore).
	restoreTo string
	// Listeners, each on loopback unless told otherwise (a flag, else its
	// variable): two stacks can run side by side on other ports.
	httpAddr, healthAddr, adminAddr string
}

func dev(args []string, stdout, stderr io.Writer) int {
	opts, err := parseDevFlags(args, stderr)
	if err != nil {
		return app.ExitUsage
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintf(stderr, "folio dev: %v\n", err)
		return app.ExitUsage
	}
	logger := telemetry.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat).With("process", "dev")
	ctx, stop := app.SignalContext(logger)
	defer stop()
	flushTraces, err := tracing.Setup(ctx, "folio-dev", logger)
	if err != nil {
		fmt.Fprintf(stderr, "folio dev: %v\n", err)
		return app.ExitUsage
	}
	defer flushTraces()

	if err := runDev(ctx, cfg, opts, logger, stdout); err != nil {
		fmt.Fprintf(stderr, "folio dev: %v\n", err)
		return app.ExitFailed
	}
	return app.ExitOK
}

// parseDevFlags reads folio dev's flags; each defaults to its variable,
// else to loopback.
func parseDevFlags(args []string, stderr io.Writer) (devOptions, error) {
	fs := flag.NewFlagSet("folio dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts devOptions
	fs.StringVar(&opts.dir, "dir", "", "state folder (default: .folio at the root of the source tree, else in the current folder)")
	fs.IntVar(&opts.pgPort, "pg-port", envInt("FOLIO_DEV_PG_PORT", 54329), "port of the local Postgres (when DATABASE_URL is unset)")
	fs.IntVar(&opts.s3Port, "s3-port", envInt("FOLIO_DEV_S3_PORT", 7070), "port of the local versitygw (when AWS_ENDPOINT_URL_S3 is unset)")
	fs.IntVar(&opts.clamdPort, "clamd-port", envInt("FOLIO_DEV_CLAMD_PORT", 3311), "port of the local clamd (when FOLIO_SCAN is unset)")
	fs.BoolVar(&opts.backup, "backup", os.Getenv("FOLIO_DEV_BACKUP") == "on",
		"back the local stack up (FOLIO_DEV_BACKUP=on): WAL archived with pgBackRest into .folio/backup, a base backup at start and every --backup-every, the bucket's versions kept")
	fs.DurationVar(&opts.backupEvery, "backup-every", time.Hour, "with --backup: how often to take an incremental base backup")
	fs.StringVar(&opts.restoreTo, "restore-to", "", "with --backup: first restore the local stack to this time (RFC 3339), or to \"latest\"; then start")
	fs.StringVar(&opts.web, "web", "", "folder of the built demo app served at / (default: web/demo/dist in the source tree)")
	fs.StringVar(&opts.httpAddr, "http-addr", envOr("FOLIO_HTTP_ADDR", "127.0.0.1:8080"), "the API's and the demo's address")
	fs.StringVar(&opts.healthAddr, "health-addr", envOr("FOLIO_HEALTH_ADDR", "127.0.0.1:8081"), "the worker's health and metrics address")
	fs.StringVar(&opts.adminAddr, "admin-addr", envOr("FOLIO_ADMIN_ADDR", "127.0.0.1:8082"), "the admin listener's address (River UI)")
	if err := fs.Parse(args); err != nil {
		return opts, err
	}
	if opts.restoreTo != "" && !opts.backup {
		fmt.Fprintln(stderr, "folio dev: --restore-to restores from the backups --backup takes: give both")
		return opts, errors.New("--restore-to without --backup")
	}
	return opts, nil
}

func runDev(ctx context.Context, cfg *config.Config, opts devOptions, logger *slog.Logger, stdout io.Writer) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, rootErr := devstack.Root(wd)
	opts.dir = stateDir(opts.dir)
	if os.Getenv("FOLIO_SHUTDOWN_DELAY") == "" {
		cfg.ShutdownDelay = 0 // no load balancer to wait for on a laptop
	}
	if os.Getenv("FOLIO_WEBHOOK_ALLOW_NETS") == "" {
		// Webhooks to a receiver on this machine (loopback is refused
		// elsewhere).
		cfg.WebhookAllowNets = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	if err := os.MkdirAll(opts.dir, 0o755); err != nil {
		return err
	}
	devToken := ""
	if cfg.AuthJWTSecret == "" && cfg.AuthJWKSURL == "" {
		if cfg.AuthJWTSecret, err = devSecret(opts.dir); err != nil {
			return err
		}
	}
	if cfg.AuthJWTSecret != "" {
		if devToken, err = auth.Sign([]byte(cfg.AuthJWTSecret), "dev", 24*time.Hour); err != nil {
			return err
		}
	}
	// Every listener on loopback unless moved (flags, variables). The
	// admin surface (River UI) is on in folio dev, with an admin token
	// kept next to the dev secret.
	cfg.HTTPAddr, cfg.HealthAddr, cfg.AdminAddr = opts.httpAddr, opts.healthAddr, opts.adminAddr
	if cfg.AdminAddr != "" && cfg.AdminToken == "" && cfg.AdminClaimValue == "" {
		if cfg.AdminToken, err = stateSecret(opts.dir, devAdminTokenFile); err != nil {
			return err
		}
	}

	restoreTo, err := parseRestoreTo(opts.restoreTo)
	if err != nil {
		return err
	}
	var pg *devstack.Postgres
	if cfg.DatabaseURL == "" {
		if pg, err = startDevPostgres(ctx, opts, restoreTo, logger); err != nil {
			return err
		}
		defer stopLogged(logger, "postgres", pg.Stop)
		cfg.DatabaseURL = pg.URL
	} else if opts.backup {
		return errors.New("--backup backs up the local Postgres folio dev starts: unset DATABASE_URL")
	}
	if opts.backup {
		cfg.S3Versioning = true
	}

	s3opts := storage.ClientOptions{PathStyle: cfg.S3PathStyle}
	if os.Getenv("AWS_ENDPOINT_URL_S3") == "" {
		bin, err := versityBin(ctx, root, rootErr)
		if err != nil {
			return err
		}
		logger.Info("starting local S3 (versitygw)", "dir", filepath.Join(opts.dir, "s3"), "port", opts.s3Port)
		s3srv, err := devstack.StartS3(ctx, devstack.S3Options{Bin: bin, Dir: filepath.Join(opts.dir, "s3"), Port: opts.s3Port})
		if err != nil {
			return err
		}
		defer stopLogged(logger, "versitygw", s3srv.Stop)
		s3opts = storage.ClientOptions{Endpoint: s3srv.Endpoint, PathStyle: true, Region: devstack.S3Region,
			AccessKey: devstack.S3AccessKey, SecretKey: devstack.S3SecretKey}
	}

	scanner := ""
	if os.Getenv("FOLIO_SCAN") == "" {
		c, err := startDevClamd(ctx, cfg, opts, logger)
		if err != nil {
			return err
		}
		if c != nil {
			defer stopLogged(logger, "clamd", c.Stop)
			scanner = c.Address
		}
	}

	a, err := app.Open(ctx, cfg, logger, s3opts)
	if err != nil {
		return err
	}
	defer a.Close()
	var apiOpts apiserver.Options
	if cfg.AuthJWTSecret != "" {
		apiOpts.Dev = &api.DevMode{Secret: []byte(cfg.AuthJWTSecret), TTL: 24 * time.Hour}
	}
	if opts.web == "" && rootErr == nil {
		opts.web = filepath.Join(root, "web", "demo", "dist")
	}
	if opts.web != "" {
		// The demo's Uppy page sends files straight to S3: its origin
		// must be one the page may connect to.
		apiOpts.Web = webui.Handler(opts.web, originOf(endpointOf(s3opts)))
	}
	if err := a.Store.EnsureBucket(ctx); err != nil {
		return err
	}
	if _, err := migrations.Up(ctx, a.Pool, logger); err != nil {
		return err
	}
	if opts.restoreTo != "" {
		if err := restoreDevBucket(ctx, a, stdout); err != nil {
			return err
		}
	}

	apiLn, err := a.Listen(ctx)
	if err != nil {
		return err
	}
	healthLn, err := a.ListenHealth(ctx)
	if err != nil {
		apiLn.Close()
		return err
	}
	// Direct uploads from the demo (and FOLIO_ALLOWED_ORIGINS): the
	// bucket's CORS rules let those pages send multipart uploads to it.
	if err := a.Store.AllowBrowserUploads(ctx, append(localOrigins(apiLn.Addr().String()), cfg.AllowedOrigins...)); err != nil {
		logger.Warn("direct uploads from the browser will fail: the bucket's CORS rules could not be set", "err", err)
	}
	fmt.Fprint(stdout, "\nFolio is running.\n")
	if apiOpts.Web != nil {
		fmt.Fprintf(stdout, "  App:      %s/   (the demo: sign in with any name)\n", httpURL(apiLn.Addr().String()))
	}
	fmt.Fprintf(stdout, "  API:      %s\n  Postgres: %s\n  S3:       %s (bucket %s)\n",
		httpURL(apiLn.Addr().String()), redact(cfg.DatabaseURL), endpointOf(s3opts), cfg.S3Bucket)
	if cfg.AdminAddr != "" {
		fmt.Fprintf(stdout, "  Admin:    %s/admin/river/   (River UI; sign in with the admin token in %s)\n",
			httpURL(cfg.AdminAddr), filepath.Join(opts.dir, devAdminTokenFile))
	}
	switch {
	case scanner != "":
		fmt.Fprintf(stdout, "  Scanner:  clamd %s\n", scanner)
		fmt.Fprint(stdout, "\n  !! The scanner loads Folio's TEST signatures only (the EICAR test file, Folio.Test.*):\n"+
			"  !! it detects no real malware. Production runs freshclam beside clamd (docs/operations.md).\n")
	case cfg.Scan == "off":
		fmt.Fprint(stdout, "  Scanner:  off (no malware scanning: FOLIO_SCAN=off, or clamd is not installed)\n")
	}
	if pg != nil && pg.Backups() {
		fmt.Fprintf(stdout, "  Backups:  WAL archived by pgBackRest (%s), a base backup every %s; the bucket keeps old versions\n"+
			"            restore: folio dev --backup --restore-to TIME (docs/operations.md)\n", pg.BackupConfig(), opts.backupEvery)
	}
	if devToken != "" {
		fmt.Fprintf(stdout, "\nA token for the dev user \"dev\" (24 h; `folio token --sub NAME` makes more):\n  export T=%s\n", devToken)
	}
	fmt.Fprint(stdout, "\nPress Ctrl-C to stop.\n\n")

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return apiserver.Run(gctx, a, apiLn, apiOpts) })
	g.Go(func() error { return worker.Run(gctx, a, healthLn) })
	if pg != nil && pg.Backups() {
		g.Go(func() error { return devBackups(gctx, pg, a, opts.backupEvery, logger) })
	}
	return g.Wait()
}

// startDevClamd starts clamd with Folio's test signatures and turns
// scanning on, when clamd is installed; else scanning stays off. It
// returns clamd (nil when not started).
func startDevClamd(ctx context.Context, cfg *config.Config, opts devOptions, logger *slog.Logger) (*devstack.Clamd, error) {
	bin, err := devstack.ClamdBin()
	if err != nil {
		logger.Warn("uploads are not scanned for malware", "reason", err.Error())
		cfg.Scan = "off"
		return nil, nil
	}
	dir := filepath.Join(opts.dir, "clamd")
	logger.Info("starting local clamd (test signatures only)", "dir", dir, "port", opts.clamdPort)
	c, err := devstack.StartClamd(ctx, devstack.ClamdOptions{Bin: bin, Dir: dir, Port: opts.clamdPort, StreamMaxLength: cfg.ScanMaxBytes})
	if err != nil {
		return nil, err
	}
	cfg.Scan, cfg.ClamdAddress = "clamd", c.Address
	return c, nil
}

// versityBin finds versitygw: built from the tools module inside a source
// tree, else on PATH.
func versityBin(ctx context.Context, root string, rootErr error) (string, error) {
	if rootErr == nil {
		return devstack.VersityBin(ctx, root)
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", errors.New("no versitygw: run folio dev inside the Folio source tree (it builds versitygw from tools/go.mod), put versitygw on PATH, or set AWS_ENDPOINT_URL_S3 to use another S3 server")
}

func stopLogged(logger *slog.Logger, name string, stop func() error) {
	if err := stop(); err != nil {
		logger.Warn("stopping "+name, "err", err)
		return
	}
	logger.Info("stopped " + name)
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return n
	}
	return def
}

func httpURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	return "http://" + host + ":" + port
}

func endpointOf(o storage.ClientOptions) string {
	if o.Endpoint != "" {
		return o.Endpoint
	}
	return os.Getenv("AWS_ENDPOINT_URL_S3")
}

// redact hides the password of a Postgres URL for printing.
func redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(unprintable)"
	}
	return u.Redacted()
}

// localOrigins are the origins a browser on this machine uses for the
// server at addr.
func localOrigins(addr string) []string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	return []string{"http://localhost:" + port, "http://127.0.0.1:" + port, "http://[::1]:" + port}
}

// originOf is the scheme://host[:port] of a URL ("" if it has none).
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
