package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclocalstack "github.com/testcontainers/testcontainers-go/modules/localstack"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"

	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/storage"
)

// LocalStack 4.14.0 is reported as the last tag that starts without an auth
// token.
const (
	postgresImage   = "postgres:16-alpine"
	localstackImage = "localstack/localstack:4.14.0"
)

// dockerAnswers reports whether a Docker engine is reachable. testcontainers
// panics in places when none is, so the probe recovers.
func dockerAnswers(ctx context.Context) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	provider, err := testcontainers.ProviderDefault.GetProvider()
	if err != nil {
		return false
	}
	defer provider.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return provider.Health(ctx) == nil
}

func startContainers(ctx context.Context, b *backend, wantPG, wantS3 bool) error {
	if wantPG {
		pg, err := tcpostgres.Run(ctx, postgresImage,
			tcpostgres.WithDatabase("folio"), tcpostgres.WithUsername("folio"), tcpostgres.WithPassword("folio"),
			tcpostgres.BasicWaitStrategies())
		if err != nil {
			return fmt.Errorf("starting %s: %w", postgresImage, err)
		}
		b.stop = append(b.stop, func() { _ = testcontainers.TerminateContainer(pg) })
		if b.adminURL, err = pg.ConnectionString(ctx, "sslmode=disable"); err != nil {
			return err
		}
	}
	if wantS3 {
		ls, err := tclocalstack.Run(ctx, localstackImage)
		if err != nil {
			return fmt.Errorf("starting %s: %w", localstackImage, err)
		}
		b.stop = append(b.stop, func() { _ = testcontainers.TerminateContainer(ls) })
		host, err := ls.Host(ctx)
		if err != nil {
			return err
		}
		port, err := ls.MappedPort(ctx, "4566/tcp")
		if err != nil {
			return err
		}
		b.s3 = storage.ClientOptions{Endpoint: fmt.Sprintf("http://%s:%s", host, port.Port()), PathStyle: true,
			Region: "us-east-1", AccessKey: "test", SecretKey: "test"}
	}
	return nil
}

func startLocal(ctx context.Context, b *backend, wantPG, wantS3 bool) error {
	dir, err := os.MkdirTemp("", "folio-testenv-")
	if err != nil {
		return err
	}
	b.stop = append(b.stop, func() { _ = os.RemoveAll(dir) })
	// The cluster runs as the postgres user when we are root: it must be
	// able to reach its data directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	if wantPG {
		pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: filepath.Join(dir, "pg"), Ephemeral: true})
		if err != nil {
			return err
		}
		b.stop = append(b.stop, func() { _ = pg.Stop() })
		b.adminURL = pg.URL
	}
	if wantS3 {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		root, err := devstack.Root(wd)
		if err != nil {
			return err
		}
		bin, err := devstack.VersityBin(ctx, root)
		if err != nil {
			return err
		}
		s3srv, err := devstack.StartS3(ctx, devstack.S3Options{Bin: bin, Dir: filepath.Join(dir, "s3")})
		if err != nil {
			return err
		}
		b.stop = append(b.stop, func() { _ = s3srv.Stop() })
		b.s3 = storage.ClientOptions{Endpoint: s3srv.Endpoint, PathStyle: true, Region: devstack.S3Region,
			AccessKey: devstack.S3AccessKey, SecretKey: devstack.S3SecretKey}
	}
	return nil
}
