package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/foliohq/folio/storage"
)

// Bucket is a test's own bucket on a real S3 server.
type Bucket struct {
	Name    string
	Store   *storage.Store
	Client  *s3.Client
	Options storage.ClientOptions // how to reach the server (for child processes)
}

// S3 gives the test its own, empty bucket and removes it (and anything left
// in it) afterwards.
func S3(t testing.TB) *Bucket {
	t.Helper()
	b := get(t)
	ctx := context.Background()
	client, err := storage.NewClient(ctx, b.s3)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	name := "test-" + strings.ToLower(randomHex(8))
	store := storage.New(client, name, storage.Options{})
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { removeBucket(client, name) })
	return &Bucket{Name: name, Store: store, Client: client, Options: b.s3}
}

// Keys lists the keys under prefix.
func (b *Bucket) Keys(t testing.TB, prefix string) []string {
	t.Helper()
	var keys []string
	err := b.Store.EachObject(context.Background(), prefix, func(objs []storage.ObjectInfo) error {
		for _, o := range objs {
			keys = append(keys, o.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("testenv: listing %s: %v", prefix, err)
	}
	return keys
}

func removeBucket(client *s3.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uploads, _ := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &name})
	if uploads != nil {
		for _, u := range uploads.Uploads {
			_, _ = client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &name, Key: u.Key, UploadId: u.UploadId})
		}
	}
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: &name})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			break
		}
		for _, o := range page.Contents {
			_, _ = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &name, Key: o.Key})
		}
	}
	// A bucket with versioning on keeps versions and delete markers.
	versions := &s3.ListObjectVersionsInput{Bucket: &name}
	for {
		out, err := client.ListObjectVersions(ctx, versions)
		if err != nil {
			break
		}
		for _, v := range out.Versions {
			_, _ = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &name, Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range out.DeleteMarkers {
			_, _ = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &name, Key: m.Key, VersionId: m.VersionId})
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		versions.KeyMarker, versions.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	_, _ = client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
}
