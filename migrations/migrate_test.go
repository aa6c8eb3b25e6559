package migrations_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/migrations"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func tableExists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&ok))
	return ok
}

func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.EmptyPostgres(t)

	rep, err := migrations.Up(ctx, db.Pool, nil)
	require.NoError(t, err)
	require.NotEmpty(t, rep.River, "River's migrations run first")
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, rep.Folio)
	require.True(t, tableExists(t, db.Pool, "documents"))
	require.True(t, tableExists(t, db.Pool, "river_job"))

	rep, err = migrations.Up(ctx, db.Pool, nil)
	require.NoError(t, err)
	require.Empty(t, rep.River, "a second run has nothing to do")
	require.Empty(t, rep.Folio)

	status, riverPending, err := migrations.StatusOf(ctx, db.Pool)
	require.NoError(t, err)
	require.Empty(t, riverPending)
	require.Len(t, status, 19)
	require.True(t, status[0].Applied)
	require.Equal(t, "00001_documents.sql", status[0].Name)
	require.Equal(t, "00002_upload.sql", status[1].Name)
	require.Equal(t, "00003_parse.sql", status[2].Name)
	require.Equal(t, "00004_events.sql", status[3].Name)
	require.Equal(t, "00005_heartbeats.sql", status[4].Name)
	require.Equal(t, "00006_hardening.sql", status[5].Name)
	require.Equal(t, "00007_worker_claims.sql", status[6].Name)
	require.Equal(t, "00008_event_sequencer.sql", status[7].Name)
	require.Equal(t, "00009_ocr.sql", status[8].Name)
	require.Equal(t, "00010_cjk_search.sql", status[9].Name)
	require.Equal(t, "00011_page_images.sql", status[10].Name)
	require.Equal(t, "00012_resumable_uploads.sql", status[11].Name)
	require.Equal(t, "00013_admin_sessions.sql", status[12].Name)
	require.Equal(t, "00014_fair_share.sql", status[13].Name)
	require.Equal(t, "00019_webhooks.sql", status[18].Name)

	rep, err = migrations.DownTo(ctx, db.Pool, 0, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, rep.Folio, "undone newest first")
	require.False(t, tableExists(t, db.Pool, "documents"))
	require.True(t, tableExists(t, db.Pool, "river_job"), "River's tables are not ours to drop")

	status, _, err = migrations.StatusOf(ctx, db.Pool)
	require.NoError(t, err)
	require.False(t, status[0].Applied)

	rep, err = migrations.Up(ctx, db.Pool, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, rep.Folio)
	require.True(t, tableExists(t, db.Pool, "documents"))
}

// TestConcurrentUp runs Up from several pools at once, as several release
// steps of a rolling deploy would: exactly one applies each migration.
func TestConcurrentUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.EmptyPostgres(t)

	const n = 3
	reports := make([]*migrations.Report, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		pool, err := pgxpool.New(ctx, db.URL)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		wg.Go(func() { reports[i], errs[i] = migrations.Up(ctx, pool, nil) })
	}
	wg.Wait()

	var river, folio int
	for i := range n {
		require.NoError(t, errs[i])
		river += len(reports[i].River)
		folio += len(reports[i].Folio)
	}
	require.Equal(t, migrations.RiverVersion(), river, "each River migration applied exactly once")
	require.Equal(t, 19, folio, "each Folio migration applied exactly once")
}

// TestEventSequencerMigrationRoundTrip: events written before 00008 keep
// their positions through it; events that no sequencer had numbered when
// it is undone get positions the way writers gave them before, gap-free
// per owner after what was there.
func TestEventSequencerMigrationRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.Postgres(t)
	_, err := migrations.DownTo(ctx, db.Pool, 7, nil)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `UPDATE event_clock SET pos = 2;
		INSERT INTO document_events (pos, document_id, owner, seq, type) VALUES
		(1, '00000000-0000-0000-0000-000000000001', 'a', 1, 'document.queued'),
		(2, '00000000-0000-0000-0000-000000000002', 'b', 1, 'document.queued')`)
	require.NoError(t, err)

	_, err = migrations.Up(ctx, db.Pool, nil)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `INSERT INTO document_events (document_id, owner, seq, type) VALUES
		('00000000-0000-0000-0000-000000000001', 'a', 2, 'parse.started'),
		('00000000-0000-0000-0000-000000000003', 'a', 1, 'document.queued')`)
	require.NoError(t, err)

	_, err = migrations.DownTo(ctx, db.Pool, 7, nil)
	require.NoError(t, err)
	type row struct {
		Pos, OwnerPos int64
		Owner         string
		Seq           int
	}
	rows, err := db.Pool.Query(ctx, `SELECT pos, owner_pos, owner, seq FROM document_events ORDER BY pos`)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	require.NoError(t, err)
	base := int64(1) << 52
	require.Equal(t, []row{{1, base + 1, "a", 1}, {2, base + 1, "b", 1}, {3, base + 2, "a", 2}, {4, base + 3, "a", 1}}, got)
}
