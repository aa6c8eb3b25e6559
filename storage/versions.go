package storage

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// EnableVersioning turns on the bucket's versioning, so that an overwrite
// or a delete keeps the previous version (a delete leaves a delete marker)
// until it expires, and checks that the server says it is on.
func (s *Store) EnableVersioning(ctx context.Context) error {
	if on, err := s.Versioned(ctx); err == nil && on {
		return nil
	}
	_, err := s.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &s.bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	if err != nil {
		return fmt.Errorf("error turning versioning on for bucket %s: %w", s.bucket, err)
	}
	on, err := s.Versioned(ctx)
	if err != nil {
		return err
	}
	if !on {
		return fmt.Errorf("bucket %s: versioning asked for, but the server does not report it on", s.bucket)
	}
	return nil
}

// Versioned reports whether the bucket's versioning is on.
func (s *Store) Versioned(ctx context.Context) (bool, error) {
	out, err := s.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &s.bucket})
	if err != nil {
		return false, fmt.Errorf("error reading the versioning of bucket %s: %w", s.bucket, err)
	}
	return out.Status == types.BucketVersioningStatusEnabled, nil
}

// Version is one version of a key, or a delete marker.
type Version struct {
	Key          string
	VersionID    string
	LastModified time.Time
	Size         int64
	DeleteMarker bool
	Latest       bool
}

// EachVersion calls fn with every version and delete marker under prefix,
// a page at a time; within a key, newest first (S3's order).
func (s *Store) EachVersion(ctx context.Context, prefix string, fn func([]Version) error) error {
	in := &s3.ListObjectVersionsInput{Bucket: &s.bucket, Prefix: &prefix}
	for {
		out, err := s.client.ListObjectVersions(ctx, in)
		if err != nil {
			return fmt.Errorf("error listing object versions under %q: %w", prefix, err)
		}
		page := make([]Version, 0, len(out.Versions)+len(out.DeleteMarkers))
		for _, v := range out.Versions {
			page = append(page, Version{Key: aws.ToString(v.Key), VersionID: aws.ToString(v.VersionId),
				LastModified: aws.ToTime(v.LastModified), Size: aws.ToInt64(v.Size), Latest: aws.ToBool(v.IsLatest)})
		}
		for _, m := range out.DeleteMarkers {
			page = append(page, Version{Key: aws.ToString(m.Key), VersionID: aws.ToString(m.VersionId),
				LastModified: aws.ToTime(m.LastModified), DeleteMarker: true, Latest: aws.ToBool(m.IsLatest)})
		}
		if err := fn(page); err != nil {
			return err
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
}

// DeleteVersion deletes one version (or delete marker) of key for good.
func (s *Store) DeleteVersion(ctx context.Context, key, id string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key, VersionId: &id})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("error deleting version %s of %s: %w", id, key, err)
	}
	return nil
}

// ErrNotVersioned is returned by operations that need a versioned bucket.
var ErrNotVersioned = errors.New("storage: the bucket's versioning is off")

// EachKeyVersions calls fn with each key under prefix and all its versions
// and delete markers, newest first (at equal times, to the second on some
// servers, the current one first).
func (s *Store) EachKeyVersions(ctx context.Context, prefix string, fn func(key string, versions []Version) error) error {
	var key string
	var versions []Version
	flush := func() error {
		if key == "" {
			return nil
		}
		sort.SliceStable(versions, func(i, j int) bool {
			if !versions[i].LastModified.Equal(versions[j].LastModified) {
				return versions[i].LastModified.After(versions[j].LastModified)
			}
			return versions[i].Latest && !versions[j].Latest
		})
		return fn(key, versions)
	}
	err := s.EachVersion(ctx, prefix, func(page []Version) error {
		// A page holds a key's versions together (versions, then delete
		// markers), and a key may go on into the next page.
		sort.SliceStable(page, func(i, j int) bool { return page[i].Key < page[j].Key })
		for _, v := range page {
			if v.Key != key {
				if err := flush(); err != nil {
					return err
				}
				key, versions = v.Key, nil
			}
			versions = append(versions, v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// ExpireVersions deletes, under prefix, the versions that stopped being
// current before cutoff, and delete markers left with no version behind
// them (what a bucket lifecycle rule with NoncurrentVersionExpiration and
// ExpiredObjectDeleteMarker does, for servers without lifecycle rules). It
// returns how many versions and markers it deleted.
func (s *Store) ExpireVersions(ctx context.Context, prefix string, cutoff time.Time) (int, error) {
	deleted := 0
	err := s.EachKeyVersions(ctx, prefix, func(key string, versions []Version) error {
		kept := 0
		for i, v := range versions {
			// A version stops being current when the next one is written.
			if i == 0 || !versions[i-1].LastModified.Before(cutoff) {
				kept++
				continue
			}
			if err := s.DeleteVersion(ctx, key, v.VersionID); err != nil {
				return err
			}
			deleted++
		}
		if kept == 1 && versions[0].DeleteMarker && versions[0].LastModified.Before(cutoff) {
			if err := s.DeleteVersion(ctx, key, versions[0].VersionID); err != nil {
				return err
			}
			deleted++
		}
		return nil
	})
	return deleted, err
}
