package storage_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/storage"
)

// With versioning on, an overwrite and a delete keep what was there: a
// delete leaves a marker, listing and reading see the key gone; removing
// the marker brings the key back.
func TestVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testenv.S3(t)
	on, err := b.Store.Versioned(ctx)
	require.NoError(t, err)
	require.False(t, on)
	require.NoError(t, b.Store.EnableVersioning(ctx))

	const key = "originals/a/k"
	put := func(body string) {
		t.Helper()
		_, err := b.Store.Put(ctx, key, bytes.NewReader([]byte(body)), storage.PutOptions{})
		require.NoError(t, err)
	}
	versions := func() []storage.Version {
		t.Helper()
		var all []storage.Version
		require.NoError(t, b.Store.EachVersion(ctx, "originals/", func(vs []storage.Version) error {
			all = append(all, vs...)
			return nil
		}))
		return all
	}
	put("one")
	require.Len(t, versions(), 1)
	put("two")
	require.NoError(t, b.Store.Delete(ctx, key))
	_, err = b.Store.Get(ctx, key)
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.Empty(t, b.Keys(t, "originals/"), "a deleted key is not listed")

	all := versions()
	require.Len(t, all, 3)
	var marker storage.Version
	for _, v := range all {
		if v.DeleteMarker {
			require.True(t, v.Latest, "the delete marker is the current version")
			marker = v
		}
	}
	require.NotEmpty(t, marker.VersionID)

	require.NoError(t, b.Store.DeleteVersion(ctx, key, marker.VersionID))
	require.Equal(t, "two", string(readAll(t, b.Store, key)), "without the marker, the last version is current")
	require.Len(t, versions(), 2, "one and two")
}

// ExpireVersions deletes versions noncurrent since before the cutoff, and
// a delete marker left alone; nothing newer.
func TestExpireVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testenv.S3(t)
	require.NoError(t, b.Store.EnableVersioning(ctx))
	for _, body := range []string{"one", "two"} {
		_, err := b.Store.Put(ctx, "originals/a/k", bytes.NewReader([]byte(body)), storage.PutOptions{})
		require.NoError(t, err)
	}
	_, err := b.Store.Put(ctx, "originals/a/current", bytes.NewReader([]byte("kept")), storage.PutOptions{})
	require.NoError(t, err)
	require.NoError(t, b.Store.Delete(ctx, "originals/a/k"))
	count := func() int {
		n := 0
		require.NoError(t, b.Store.EachVersion(ctx, "originals/", func(vs []storage.Version) error { n += len(vs); return nil }))
		return n
	}
	require.Equal(t, 4, count())

	n, err := b.Store.ExpireVersions(ctx, "originals/", time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "nothing is older than the cutoff")
	require.Equal(t, 4, count())

	n, err = b.Store.ExpireVersions(ctx, "originals/", time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 3, n, "one, two, and the delete marker left alone")
	require.Equal(t, 1, count())
	require.Equal(t, "kept", string(readAll(t, b.Store, "originals/a/current")), "a current version never expires")
}
