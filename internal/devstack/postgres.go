package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions configures StartPostgres.
type PostgresOptions struct {
	// Dir holds the cluster's data directory; it is created with initdb
	// when it does not hold one yet, and reused when it does.
	Dir string
	// Port to listen on (127.0.0.1 only); 0 picks a free one.
	Port int
	// Database is created if missing; "folio" when empty.
	Database string
	// Ephemeral trades durability for speed (fsync off): for tests.
	Ephemeral bool
	// Backup, when set, archives WAL and allows base backups with
	// pgBackRest (see BackupOptions).
	Backup *BackupOptions
}

// Postgres is a running local cluster.
type Postgres struct {
	// URL connects to Database as the cluster's superuser "folio".
	URL    string
	Port   int
	proc   *process
	as     asUser
	backup *backupConfig
}

// ErrNoPostgres means no PostgreSQL server binaries were found.
var ErrNoPostgres = errors.New("no PostgreSQL server binaries found (initdb, postgres): install them with `apt-get install postgresql` (Debian/Ubuntu), `brew install postgresql` (macOS), or set FOLIO_PG_BIN to the folder that holds them; or set DATABASE_URL to use a running server")

// PostgresBinDir finds the folder holding initdb and postgres: FOLIO_PG_BIN,
// then the newest /usr/lib/postgresql/<v>/bin, then pg_config --bindir,
// then PATH.
func PostgresBinDir() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("FOLIO_PG_BIN"); dir != "" {
		if has(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("FOLIO_PG_BIN=%s holds no initdb and postgres", dir)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	if out, err := exec.CommandContext(context.Background(), "pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); has(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", ErrNoPostgres
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// StartPostgres starts (initialising if needed) a cluster in opts.Dir and
// waits until it accepts connections and the database exists.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	as, err := serviceUser()
	if err != nil {
		return nil, err
	}
	if opts.Database == "" {
		opts.Database = "folio"
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("error creating %s: %w", opts.Dir, err)
	}
	if err := as.chown(opts.Dir); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		err := as.run(ctx, filepath.Join(bin, "initdb"), "-D", opts.Dir, "-U", "folio", "--auth=trust",
			"--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions")
		if err != nil {
			return nil, fmt.Errorf("error initialising a PostgreSQL cluster in %s: %w", opts.Dir, err)
		}
	}

	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	var backup *backupConfig
	if opts.Backup != nil {
		if backup, err = newBackupConfig(*opts.Backup); err != nil {
			return nil, err
		}
		if err := backup.write(as, opts.Dir, port); err != nil {
			return nil, err
		}
	}
	args := []string{"-D", opts.Dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=300", "-c", "shared_buffers=128MB"}
	if backup != nil {
		args = append(args, backup.serverArgs()...)
	} else {
		args = append(args, "-c", "unix_socket_directories=")
	}
	if opts.Ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	proc, err := as.start("postgres", []string{"LC_ALL=C.UTF-8", "TZ=UTC"}, filepath.Join(bin, "postgres"), args...)
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Port: port, proc: proc, as: as, backup: backup}
	admin := fmt.Sprintf("postgres://folio@127.0.0.1:%d/postgres?sslmode=disable", port)
	ready := time.Minute
	if backup != nil {
		ready = 30 * time.Minute // a restored cluster replays its WAL first
	}
	err = waitFor(proc, ready, func() error {
		pingCtx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		conn, err := pgx.Connect(pingCtx, admin)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		// A restored cluster answers read-only while it replays WAL: ready
		// is promoted.
		var recovering bool
		if err := conn.QueryRow(pingCtx, "SELECT pg_is_in_recovery()").Scan(&recovering); err != nil {
			return err
		}
		if recovering {
			return errors.New("still recovering")
		}
		return ensureDatabase(pingCtx, conn, opts.Database)
	})
	if err == nil && backup != nil {
		// Idempotent: creates the repository's stanza the first time, and
		// checks it matches this cluster every other time.
		_, err = backup.command(ctx, as, "stanza-create")
	}
	if err != nil {
		_ = pg.Stop()
		return nil, err
	}
	pg.URL = fmt.Sprintf("postgres://folio@127.0.0.1:%d/%s?sslmode=disable", port, opts.Database)
	return pg, nil
}

func ensureDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// Stop shuts the cluster down (fast shutdown: open sessions are ended).
func (p *Postgres) Stop() error { return p.proc.stop(syscall.SIGINT, 30*time.Second) }

// Done is closed when the server process has exited.
func (p *Postgres) Done() <-chan struct{} { return p.proc.done }

func freePort() (int, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("error finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
