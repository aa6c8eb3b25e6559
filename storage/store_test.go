package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/storage"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func readAll(t *testing.T, s *storage.Store, key string) []byte {
	t.Helper()
	obj, err := s.Get(context.Background(), key)
	require.NoError(t, err)
	defer obj.Close()
	b, err := io.ReadAll(obj)
	require.NoError(t, err)
	require.Equal(t, int64(len(b)), obj.Size)
	return b
}

func TestPutGetDeleteSmall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testenv.S3(t)

	body := []byte("%PDF-1.7 small body")
	n, err := b.Store.Put(ctx, "originals/alice/doc1", bytes.NewReader(body),
		storage.PutOptions{ContentType: "application/pdf", Metadata: map[string]string{"filename": "a.pdf"}})
	require.NoError(t, err)
	require.Equal(t, int64(len(body)), n)
	require.Equal(t, body, readAll(t, b.Store, "originals/alice/doc1"))

	head, err := b.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.Name, Key: aws.String("originals/alice/doc1")})
	require.NoError(t, err)
	require.Equal(t, "application/pdf", aws.ToString(head.ContentType))
	require.Equal(t, "a.pdf", head.Metadata["filename"])

	require.NoError(t, b.Store.Delete(ctx, "originals/alice/doc1"))
	_, err = b.Store.Get(ctx, "originals/alice/doc1")
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.NoError(t, b.Store.Delete(ctx, "originals/alice/doc1"), "deleting twice is fine")
}

func TestPutMultipart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testenv.S3(t)
	store := storage.New(b.Client, b.Name, storage.Options{PartSize: 6 << 20, PartsInFlight: 3})

	for _, size := range []int{
		6 << 20,         // exactly one full part: still multipart, one part
		6<<20 + 1,       // one full part and a 1-byte last part
		3*(6<<20) + 777, // parts larger than the 5 MiB minimum, a short last one
	} {
		body := randomBytes(t, size)
		key := "originals/alice/big"
		n, err := store.Put(ctx, key, bytes.NewReader(body), storage.PutOptions{})
		require.NoError(t, err)
		require.Equal(t, int64(size), n)
		require.True(t, bytes.Equal(body, readAll(t, store, key)), "round trip of %d bytes", size)
	}
	uploads, err := store.ListUploads(ctx, "originals/")
	require.NoError(t, err)
	require.Empty(t, uploads)
}

// failingReader returns its bytes and then an error, like a client that
// disconnects mid-upload.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestPutAbortsOnReadError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testenv.S3(t)

	errGone := errors.New("client went away")
	body := &failingReader{r: bytes.NewReader(randomBytes(t, 12<<20)), err: errGone}
	_, err := b.Store.Put(ctx, "originals/alice/cut", body, storage.PutOptions{})
	require.ErrorIs(t, err, errGone)

	uploads, err := b.Store.ListUploads(ctx, "originals/")
	require.NoError(t, err)
	require.Empty(t, uploads, "the multipart upload must be aborted")
	_, err = b.Store.Get(ctx, "originals/alice/cut")
	require.ErrorIs(t, err, storage.ErrNotFound)
}

func TestPutAbortsOnCanceledContext(t *testing.T) {
	t.Parallel()
	b := testenv.S3(t)
	ctx, cancel := context.WithCancel(context.Background())

	// Cancel once the second part is being read: the upload is under way.
	r := &cancelAfter{r: bytes.NewReader(randomBytes(t, 16<<20)), after: 6 << 20, cancel: cancel}
	_, err := b.Store.Put(ctx, "originals/alice/canceled", r, storage.PutOptions{})
	require.ErrorIs(t, err, context.Canceled)

	uploads, err := b.Store.ListUploads(context.Background(), "originals/")
	require.NoError(t, err)
	require.Empty(t, uploads)
}

type cancelAfter struct {
	r      io.Reader
	read   int
	after  int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	if c.read >= c.after {
		c.cancel()
	}
	return n, err
}

func TestListAndAbortUploads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testenv.S3(t)

	_, err := b.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b.Name, Key: aws.String("originals/bob/stale")})
	require.NoError(t, err)
	_, err = b.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b.Name, Key: aws.String("elsewhere/x")})
	require.NoError(t, err)

	uploads, err := b.Store.ListUploads(ctx, "originals/")
	require.NoError(t, err)
	require.Len(t, uploads, 1)
	require.Equal(t, "originals/bob/stale", uploads[0].Key)
	require.False(t, uploads[0].Initiated.IsZero())

	require.NoError(t, b.Store.AbortUpload(ctx, uploads[0]))
	uploads, err = b.Store.ListUploads(ctx, "originals/")
	require.NoError(t, err)
	require.Empty(t, uploads)
}

func TestBucketsAreIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, c := testenv.S3(t), testenv.S3(t)
	require.NotEqual(t, a.Name, c.Name)

	_, err := a.Store.Put(ctx, "originals/x/1", bytes.NewReader([]byte("only in a")), storage.PutOptions{})
	require.NoError(t, err)
	_, err = c.Store.Get(ctx, "originals/x/1")
	require.ErrorIs(t, err, storage.ErrNotFound)
}
