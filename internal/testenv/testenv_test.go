package testenv_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/storage"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const insertDoc = `INSERT INTO documents (id, owner, filename, size_bytes, sha256, s3_key, status)
	VALUES (gen_random_uuid(), 'alice', 'a.pdf', 1, repeat('a', 64), 'originals/alice/' || gen_random_uuid(), 'queued')`

func TestPostgresIsMigratedAndIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := testenv.Postgres(t), testenv.Postgres(t)
	require.NotEqual(t, a.Name, b.Name)

	_, err := a.Pool.Exec(ctx, insertDoc)
	require.NoError(t, err, "the template carries Folio's tables")

	var n int
	require.NoError(t, a.Pool.QueryRow(ctx, "SELECT count(*) FROM documents").Scan(&n))
	require.Equal(t, 1, n)
	require.NoError(t, b.Pool.QueryRow(ctx, "SELECT count(*) FROM documents").Scan(&n))
	require.Equal(t, 0, n, "another test's database does not see the row")
	require.NoError(t, b.Pool.QueryRow(ctx, "SELECT count(*) FROM river_job").Scan(&n), "River's tables are there too")
}

func TestS3IsIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := testenv.S3(t), testenv.S3(t)

	_, err := a.Store.Put(ctx, "k", bytes.NewReader([]byte("x")), storage.PutOptions{})
	require.NoError(t, err)
	_, err = b.Store.Get(ctx, "k")
	require.ErrorIs(t, err, storage.ErrNotFound)
}
