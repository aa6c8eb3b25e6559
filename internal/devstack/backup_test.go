package devstack_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/internal/devstack"
)

// A cluster backed up with pgBackRest, crashed and its data directory
// destroyed, comes back at the time asked for: what was committed before
// it, nothing after.
func TestRestoreToAPointInTime(t *testing.T) {
	if _, err := devstack.PgBackRestBin(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if _, err := devstack.PostgresBinDir(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Not t.TempDir: the server runs as the postgres user when we are
	// root, and must reach its directories.
	root, err := os.MkdirTemp("", "folio-backup-test-")
	require.NoError(t, err)
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(root)
		}
	})
	require.NoError(t, os.Chmod(root, 0o755))
	opts := devstack.PostgresOptions{Dir: root + "/data", Backup: &devstack.BackupOptions{Dir: root + "/backup", ArchiveTimeout: time.Second}}
	pg, err := devstack.StartPostgres(ctx, opts)
	require.NoError(t, err)
	defer func() { _ = pg.Stop() }()
	opts.Port = pg.Port

	exec := func(pg *devstack.Postgres, sql string, args ...any) {
		t.Helper()
		conn, err := pgx.Connect(ctx, pg.URL)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	exec(pg, `CREATE TABLE drill (n int PRIMARY KEY)`)
	exec(pg, `INSERT INTO drill VALUES (1)`)
	full, err := pg.Backup(ctx, "full")
	require.NoError(t, err)
	require.Equal(t, "full", full.Type)
	// pgBackRest picks the newest backup that stopped before the target,
	// and records stop times to the second.
	for time.Now().Before(full.Stop.Add(time.Second)) {
		time.Sleep(50 * time.Millisecond)
	}
	exec(pg, `INSERT INTO drill VALUES (2)`)
	at := time.Now()
	exec(pg, `INSERT INTO drill VALUES (3)`)
	require.NoError(t, pg.WaitArchived(ctx))

	pg.Crash()
	require.NoError(t, os.RemoveAll(opts.Dir))

	restored, err := devstack.RestorePostgres(ctx, opts, devstack.RestoreOptions{To: at})
	require.NoError(t, err)
	defer func() { _ = restored.Stop() }()
	conn, err := pgx.Connect(ctx, restored.URL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT n FROM drill ORDER BY n`)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, got, "restored to the time between the second and the third insert")
	// The restored cluster takes writes and archives them again.
	exec(restored, `INSERT INTO drill VALUES (4)`)
	require.NoError(t, restored.WaitArchived(ctx))
}
