package backup_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/backup"
	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/storage"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Revive brings back the keys the database names that were deleted
// since, with their bytes; leaves alone those it does not name and those
// not deleted; counts those that never existed; a second run changes
// nothing.
func TestRevive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testenv.S3(t)
	_, err := backup.Revive(ctx, b.Store, nil, "originals/")
	require.ErrorIs(t, err, storage.ErrNotVersioned)
	require.NoError(t, b.Store.EnableVersioning(ctx))
	put := func(key, body string) {
		t.Helper()
		_, err := b.Store.Put(ctx, key, bytes.NewReader([]byte(body)), storage.PutOptions{})
		require.NoError(t, err)
	}
	put("originals/a/kept", "kept")
	put("originals/a/deleted", "deleted later")
	put("originals/a/unnamed", "not in the database")
	require.NoError(t, b.Store.Delete(ctx, "originals/a/deleted"))
	require.NoError(t, b.Store.Delete(ctx, "originals/a/unnamed"))
	require.NoError(t, b.Store.Delete(ctx, "originals/a/deleted")) // twice: two markers

	named := map[string]bool{"originals/a/kept": true, "originals/a/deleted": true, "originals/a/never": true}
	res, err := backup.Revive(ctx, b.Store, named, "originals/")
	require.NoError(t, err)
	require.Equal(t, backup.ObjectsResult{Named: 3, Revived: 1, Missing: 1}, res)
	require.ElementsMatch(t, []string{"originals/a/kept", "originals/a/deleted"}, b.Keys(t, "originals/"))
	require.Equal(t, "deleted later", read(t, b.Store, "originals/a/deleted"))

	again, err := backup.Revive(ctx, b.Store, named, "originals/")
	require.NoError(t, err)
	require.Equal(t, backup.ObjectsResult{Named: 3, Missing: 1}, again, "a second run changes nothing")
}

func read(t *testing.T, s *storage.Store, key string) string {
	t.Helper()
	obj, err := s.Get(context.Background(), key)
	require.NoError(t, err)
	defer obj.Close()
	b, err := io.ReadAll(obj)
	require.NoError(t, err)
	return string(b)
}
