package backup

import (
	"context"

	"github.com/foliohq/folio/storage"
)

// ObjectsResult counts what Revive did.
type ObjectsResult struct {
	// Named: objects the restored database names; Revived: those a delete
	// marker hid (deleted after the time restored to), current again;
	// Missing: those with no version at all (Report.MissingOriginals
	// names the documents among them).
	Named   int `json:"named"`
	Revived int `json:"revived"`
	Missing int `json:"missing"`
}

// Revive makes every key of named current again where a delete marker
// hides it, under each of prefixes: the key's delete markers are removed,
// so its newest version is current. Folio writes each key once (an
// original per document, an image per page, width and turn), so that
// version is the one the restored database knew.
//
// Why the database decides, and not the versions' dates: a restore to T
// brings back exactly the objects the database at T names, and sweeps
// the rest (Restorer.Restore); and some S3 servers (versitygw) date a
// noncurrent version by when it stopped being current, not when it was
// written, so "the version current at T" cannot be read from the dates
// everywhere.
func Revive(ctx context.Context, store *storage.Store, named map[string]bool, prefixes ...string) (ObjectsResult, error) {
	res := ObjectsResult{Named: len(named)}
	on, err := store.Versioned(ctx)
	if err != nil {
		return res, err
	}
	if !on {
		return res, storage.ErrNotVersioned
	}
	seen := 0
	for _, prefix := range prefixes {
		err := store.EachKeyVersions(ctx, prefix, func(key string, versions []storage.Version) error {
			if !named[key] {
				return nil
			}
			hasData := false
			for _, v := range versions {
				hasData = hasData || !v.DeleteMarker
			}
			if !hasData {
				return nil
			}
			seen++
			current := versions[0]
			for _, v := range versions {
				if v.Latest {
					current = v
				}
			}
			if !current.DeleteMarker {
				return nil
			}
			for _, v := range versions {
				if v.DeleteMarker {
					if err := store.DeleteVersion(ctx, key, v.VersionID); err != nil {
						return err
					}
				}
			}
			res.Revived++
			return nil
		})
		if err != nil {
			return res, err
		}
	}
	res.Missing = res.Named - seen
	return res, nil
}
