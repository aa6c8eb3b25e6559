package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foliohq/folio/internal/pgbackrest"
)

// BackupStanza is the pgBackRest stanza (the backed-up cluster's name) the
// dev stack uses.
const BackupStanza = "folio"

// BackupOptions turns on continuous backup of a local cluster with
// pgBackRest: WAL archiving (archive_command = pgbackrest archive-push)
// into a repository directory, and base backups on demand (Backup).
type BackupOptions struct {
	// Dir holds pgBackRest's configuration, repository (Dir/repo), logs,
	// locks and the cluster's Unix socket (pgBackRest connects through it).
	Dir string
	// ArchiveTimeout forces a WAL segment switch after this long with
	// writes, bounding how much committed work only the live data
	// directory holds (the RPO); 60 s when zero.
	ArchiveTimeout time.Duration
	// RetentionFull is how many full backups (and the WAL they need) the
	// repository keeps; 2 when zero.
	RetentionFull int
}

// ErrNoPgBackRest means the pgbackrest binary is not installed.
var ErrNoPgBackRest = errors.New("pgbackrest is not installed: run scripts/install-pgbackrest.sh (Debian: apt-get install pgbackrest)")

// PgBackRestBin finds pgbackrest on PATH.
func PgBackRestBin() (string, error) {
	p, err := exec.LookPath("pgbackrest")
	if err != nil {
		return "", ErrNoPgBackRest
	}
	return p, nil
}

// backupConfig is the pgBackRest side of a cluster with backups on.
type backupConfig struct {
	opts   BackupOptions
	bin    string
	conf   string
	socket string
}

func newBackupConfig(opts BackupOptions) (*backupConfig, error) {
	bin, err := PgBackRestBin()
	if err != nil {
		return nil, err
	}
	if opts.ArchiveTimeout == 0 {
		opts.ArchiveTimeout = time.Minute
	}
	if opts.RetentionFull == 0 {
		opts.RetentionFull = 2
	}
	return &backupConfig{opts: opts, bin: bin, conf: filepath.Join(opts.Dir, "pgbackrest.conf"),
		socket: filepath.Join(opts.Dir, "socket")}, nil
}

// write (re)writes the configuration for a cluster in dataDir on port, and
// creates the directories pgBackRest uses, owned by the service user.
func (b *backupConfig) write(as asUser, dataDir string, port int) error {
	for _, d := range []string{b.opts.Dir, filepath.Join(b.opts.Dir, "repo"), filepath.Join(b.opts.Dir, "log"),
		filepath.Join(b.opts.Dir, "lock"), filepath.Join(b.opts.Dir, "spool"), b.socket} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if err := as.chown(d); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf(`# Written by folio dev at every start; edits are lost.
[global]
repo1-path=%s
repo1-retention-full=%d
log-path=%s
lock-path=%s
spool-path=%s
log-level-console=warn
log-level-file=info
start-fast=y
compress-type=zst

[%s]
pg1-path=%s
pg1-port=%d
pg1-socket-path=%s
pg1-user=folio
`, filepath.Join(b.opts.Dir, "repo"), b.opts.RetentionFull, filepath.Join(b.opts.Dir, "log"),
		filepath.Join(b.opts.Dir, "lock"), filepath.Join(b.opts.Dir, "spool"),
		BackupStanza, dataDir, port, b.socket)
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		return err
	}
	return as.chown(b.conf)
}

// serverArgs are the postgres settings that archive WAL through pgBackRest.
func (b *backupConfig) serverArgs() []string {
	return []string{
		"-c", "archive_mode=on",
		"-c", fmt.Sprintf("archive_command=%s --config=%s --stanza=%s archive-push %%p", b.bin, b.conf, BackupStanza),
		"-c", "archive_timeout=" + strconv.Itoa(int(b.opts.ArchiveTimeout.Seconds())),
		"-c", "unix_socket_directories=" + b.socket,
		"-c", "wal_level=replica",
	}
}

// command runs pgbackrest with the dev configuration as the service user
// and returns its standard output.
func (b *backupConfig) command(ctx context.Context, as asUser, args ...string) ([]byte, error) {
	return pgbackrest.Run(ctx, b.bin, func(c *exec.Cmd) { c.SysProcAttr = as.sysProcAttr() },
		append([]string{"--config=" + b.conf, "--stanza=" + BackupStanza}, args...)...)
}

// Backups reports whether continuous backup is on for this cluster.
func (p *Postgres) Backups() bool { return p.backup != nil }

// BackupConfig is the path of the pgBackRest configuration ("" when
// backups are off): `pgbackrest --config=PATH --stanza=folio info`.
func (p *Postgres) BackupConfig() string {
	if p.backup == nil {
		return ""
	}
	return p.backup.conf
}

// Backup takes a base backup (typ "full", "diff" or "incr"; pgBackRest
// makes the first one full whatever is asked) and returns it.
func (p *Postgres) Backup(ctx context.Context, typ string) (pgbackrest.Backup, error) {
	if p.backup == nil {
		return pgbackrest.Backup{}, errors.New("backups are off for this cluster")
	}
	if _, err := p.backup.command(ctx, p.as, "--type="+typ, "backup"); err != nil {
		return pgbackrest.Backup{}, err
	}
	infos, err := p.BackupInfo(ctx)
	if err != nil {
		return pgbackrest.Backup{}, err
	}
	if len(infos) == 0 {
		return pgbackrest.Backup{}, errors.New("pgbackrest backup succeeded but info lists no backup")
	}
	return infos[len(infos)-1], nil
}

// BackupInfo lists the repository's base backups, oldest first.
func (p *Postgres) BackupInfo(ctx context.Context) ([]pgbackrest.Backup, error) {
	if p.backup == nil {
		return nil, errors.New("backups are off for this cluster")
	}
	out, err := p.backup.command(ctx, p.as, "--output=json", "info")
	if err != nil {
		return nil, err
	}
	return pgbackrest.ParseInfo(out)
}

// Crash kills the server at once (SIGKILL to its process group, no
// shutdown checkpoint), as a machine failure would.
func (p *Postgres) Crash() {
	_ = syscall.Kill(-p.proc.cmd.Process.Pid, syscall.SIGKILL)
	<-p.proc.done
}

// RestoreOptions configures RestorePostgres.
type RestoreOptions struct {
	// To is the recovery target time; zero recovers every archived WAL
	// segment (the latest state the archive holds).
	To time.Time
}

// RestorePostgres recreates opts.Dir from the newest base backup that
// precedes the target and the archived WAL (pgBackRest restore; the
// directory's previous contents are removed), starts the cluster, and
// waits until recovery has reached the target and the server is promoted
// (accepting writes). backup must be the BackupOptions the cluster was
// backed up with.
func RestorePostgres(ctx context.Context, opts PostgresOptions, restore RestoreOptions) (*Postgres, error) {
	if opts.Backup == nil {
		return nil, errors.New("restore needs the cluster's BackupOptions")
	}
	b, err := newBackupConfig(*opts.Backup)
	if err != nil {
		return nil, err
	}
	as, err := serviceUser()
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(opts.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := as.chown(opts.Dir); err != nil {
		return nil, err
	}
	if err := b.write(as, opts.Dir, opts.Port); err != nil {
		return nil, err
	}
	args := []string{"--type=default"}
	if !restore.To.IsZero() {
		args = []string{"--type=time", "--target-action=promote", "--target=" + restore.To.UTC().Format("2006-01-02 15:04:05.000000-07")}
	}
	if _, err := b.command(ctx, as, append(args, "restore")...); err != nil {
		return nil, err
	}
	pg, err := StartPostgres(ctx, opts)
	if err != nil {
		return nil, err
	}
	// The checkpointer went to sleep for checkpoint_timeout while the
	// server was recovering, when archive_timeout does not apply; until it
	// wakes, new WAL is not switched out to the archive. A checkpoint
	// wakes it (seen with PostgreSQL 15: without it, writes after a
	// restore waited up to five minutes to be archived).
	conn, err := pgx.Connect(ctx, pg.URL)
	if err == nil {
		_, err = conn.Exec(ctx, "CHECKPOINT")
		conn.Close(context.WithoutCancel(ctx))
	}
	if err != nil {
		_ = pg.Stop()
		return nil, err
	}
	return pg, nil
}

// WaitArchived waits until the archive holds every WAL record written
// before the call: the segment holding the current write position has
// been archived (the server switches segments after ArchiveTimeout).
func (p *Postgres) WaitArchived(ctx context.Context) error {
	lsn, err := p.WALPosition(ctx)
	if err != nil {
		return err
	}
	return p.WaitArchivedPast(ctx, lsn)
}

// WALPosition is the server's current WAL write position (an LSN).
func (p *Postgres) WALPosition(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var lsn string
	err = conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn)
	return lsn, err
}

// WaitArchivedPast waits until the WAL segment holding lsn has been
// archived (and with it every record written before lsn).
func (p *Postgres) WaitArchivedPast(ctx context.Context, lsn string) error {
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var want string
	if err := conn.QueryRow(ctx, `SELECT pg_walfile_name($1::pg_lsn)`, lsn).Scan(&want); err != nil {
		return err
	}
	for {
		var last, failed *string
		if err := conn.QueryRow(ctx, `SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver`).Scan(&last, &failed); err != nil {
			return err
		}
		// Segment names sort in WAL order (a .history or .partial file
		// has another length).
		if last != nil && len(*last) == len(want) && *last >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("WAL segment %s not archived (last archived %v, last failed %v; see %s): %w",
				want, deref(last), deref(failed), filepath.Join(p.backup.opts.Dir, "log"), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}
