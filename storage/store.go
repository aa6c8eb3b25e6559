package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"
)

// S3API is the part of the S3 client that Store uses.
type S3API interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, opts ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	CreateBucket(ctx context.Context, in *s3.CreateBucketInput, opts ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, opts ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	PutBucketCors(ctx context.Context, in *s3.PutBucketCorsInput, opts ...func(*s3.Options)) (*s3.PutBucketCorsOutput, error)
	PutBucketVersioning(ctx context.Context, in *s3.PutBucketVersioningInput, opts ...func(*s3.Options)) (*s3.PutBucketVersioningOutput, error)
	GetBucketVersioning(ctx context.Context, in *s3.GetBucketVersioningInput, opts ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, opts ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	CopyObject(ctx context.Context, in *s3.CopyObjectInput, opts ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// ErrNotFound is returned when an object does not exist.
var ErrNotFound = errors.New("storage: object not found")

const (
	// MinPartSize is S3's smallest allowed part (all but the last).
	MinPartSize = 5 << 20
	// maxParts is S3's largest part number.
	maxParts = 10_000
	// partTimeout bounds one part's upload once its request ended.
	partTimeout = 5 * time.Minute
	// cleanupTimeout bounds the aborts and deletes done after a failure,
	// on a context that outlives the request's.
	cleanupTimeout = 30 * time.Second
)

// Options tune a Store. Memory per Put is at most PartSize × (PartsInFlight+1).
type Options struct {
	// PartSize is the multipart part size; at least MinPartSize.
	PartSize int
	// PartsInFlight is how many parts of one Put upload at once.
	PartsInFlight int
	// UnsignedPayload sends upload bodies with SigV4's UNSIGNED-PAYLOAD
	// instead of their SHA-256 (which the SDK computes over plain HTTP):
	// one pass over every byte less in the API.
	UnsignedPayload bool
}

// Store keeps objects in one bucket.
type Store struct {
	client  S3API
	presign *s3.PresignClient
	// clientOptions are the client's (credentials, region), for what the
	// SDK does not presign.
	clientOptions s3.Options
	bucket        string
	partSize      int
	inFlight      int
	buffers       sync.Pool
	// payloadOpts are the options of calls that carry upload bytes.
	payloadOpts []func(*s3.Options)
}

// New returns a Store on bucket. Zero options get defaults (5 MiB parts,
// two in flight).
func New(client S3API, bucket string, opts Options) *Store {
	if opts.PartSize < MinPartSize {
		opts.PartSize = MinPartSize
	}
	if opts.PartsInFlight < 1 {
		opts.PartsInFlight = 2
	}
	s := &Store{client: client, bucket: bucket, partSize: opts.PartSize, inFlight: opts.PartsInFlight}
	if c, ok := client.(*s3.Client); ok {
		s.presign = s3.NewPresignClient(c)
		s.clientOptions = c.Options()
	}
	s.buffers.New = func() any { b := make([]byte, s.partSize); return &b }
	if opts.UnsignedPayload {
		s.payloadOpts = []func(*s3.Options){s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)}
	}
	return s
}

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// MaxObjectSize is the largest object Put can store with this part size.
func (s *Store) MaxObjectSize() int64 { return int64(s.partSize) * maxParts }

// Ping checks that the bucket is reachable with the configured credentials.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		return fmt.Errorf("error reaching bucket %s: %w", s.bucket, err)
	}
	return nil
}

// EnsureBucket creates the bucket unless it exists (dev and tests).
func (s *Store) EnsureBucket(ctx context.Context) error {
	if s.Ping(ctx) == nil {
		return nil
	}
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("error creating bucket %s: %w", s.bucket, err)
	}
	return nil
}

// PutOptions describe the object being stored.
type PutOptions struct {
	ContentType        string
	ContentDisposition string
	Metadata           map[string]string
}

// Put streams r to key and returns the number of bytes stored. A body that
// fits in one part goes up in a single PutObject; a larger one as a
// multipart upload with at most PartsInFlight parts in flight, so memory
// stays bounded whatever the size. If reading r fails, ctx ends or S3 fails,
// the multipart upload is aborted (on a context that outlives ctx) and the
// error is returned wrapped: errors.Is finds r's own error in it.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (int64, error) {
	first := s.getBuffer()
	n, err := io.ReadFull(r, *first)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		defer s.buffers.Put(first)
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:             &s.bucket,
			Key:                &key,
			Body:               bytes.NewReader((*first)[:n]),
			ContentLength:      aws.Int64(int64(n)),
			ContentType:        nonEmpty(opts.ContentType),
			ContentDisposition: nonEmpty(opts.ContentDisposition),
			Metadata:           opts.Metadata,
		}, s.payloadOpts...)
		if err != nil {
			return 0, fmt.Errorf("error putting object %s: %w", key, err)
		}
		return int64(n), nil
	case err != nil:
		s.buffers.Put(first)
		return 0, fmt.Errorf("error reading upload body: %w", err)
	}
	return s.putMultipart(ctx, key, r, first, opts)
}

func (s *Store) putMultipart(ctx context.Context, key string, r io.Reader, first *[]byte, opts PutOptions) (int64, error) {
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:             &s.bucket,
		Key:                &key,
		ContentType:        nonEmpty(opts.ContentType),
		ContentDisposition: nonEmpty(opts.ContentDisposition),
		Metadata:           opts.Metadata,
	})
	if err != nil {
		s.buffers.Put(first)
		return 0, fmt.Errorf("error starting multipart upload of %s: %w", key, err)
	}
	uploadID := created.UploadId

	var (
		mu    sync.Mutex
		parts []types.CompletedPart
		total int64
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.inFlight)
	uploadPart := func(num int32, buf *[]byte, n int) {
		// Go blocks while PartsInFlight parts are uploading: that is the
		// back-pressure that bounds memory.
		g.Go(func() error {
			defer s.buffers.Put(buf)
			// A part on its way is let finish even when ctx ends, so that
			// the abort below comes after it: an S3 server may otherwise
			// store a part that arrives after the abort and bring the
			// upload back (seen with versitygw).
			pctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), partTimeout)
			defer cancel()
			out, err := s.client.UploadPart(pctx, &s3.UploadPartInput{
				Bucket:        &s.bucket,
				Key:           &key,
				UploadId:      uploadID,
				PartNumber:    aws.Int32(num),
				Body:          bytes.NewReader((*buf)[:n]),
				ContentLength: aws.Int64(int64(n)),
			}, s.payloadOpts...)
			if err != nil {
				return fmt.Errorf("error uploading part %d of %s: %w", num, key, err)
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
			mu.Unlock()
			return nil
		})
	}

	buf, n := first, len(*first)
	var readErr error
	for num := int32(1); ; num++ {
		if num > maxParts {
			s.buffers.Put(buf)
			readErr = fmt.Errorf("object %s is larger than %d parts of %d bytes", key, maxParts, s.partSize)
			break
		}
		total += int64(n)
		uploadPart(num, buf, n)
		if n < s.partSize || gctx.Err() != nil {
			break
		}
		buf = s.getBuffer()
		n, readErr = io.ReadFull(r, *buf)
		if errors.Is(readErr, io.EOF) { // the previous part was the last
			s.buffers.Put(buf)
			readErr = nil
			break
		}
		if errors.Is(readErr, io.ErrUnexpectedEOF) { // a short last part
			readErr = nil
			continue
		}
		if readErr != nil {
			s.buffers.Put(buf)
			readErr = fmt.Errorf("error reading upload body: %w", readErr)
			break
		}
	}
	upErr := g.Wait()
	if err := errors.Join(readErr, upErr, ctx.Err()); err != nil {
		s.abort(ctx, key, uploadID)
		return 0, err
	}

	sortParts(parts)
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &s.bucket,
		Key:             &key,
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		// It may have completed after all: the key is ours alone, so
		// deleting it is always safe.
		s.abort(ctx, key, uploadID)
		s.cleanupDelete(ctx, key)
		return 0, fmt.Errorf("error completing multipart upload of %s: %w", key, err)
	}
	return total, nil
}

func (s *Store) getBuffer() *[]byte {
	return s.buffers.Get().(*[]byte)
}

// PartBuffer lends a buffer of PartSize bytes from the store's pool (the
// one Put uses); give it back with ReleasePartBuffer.
func (s *Store) PartBuffer() *[]byte { return s.getBuffer() }

// ReleasePartBuffer returns a buffer PartBuffer lent.
func (s *Store) ReleasePartBuffer(b *[]byte) { s.buffers.Put(b) }

func (s *Store) abort(ctx context.Context, key string, uploadID *string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	// A failed abort leaves parts for the sweeper and the bucket's lifecycle
	// rule; there is nobody better to tell.
	_, _ = s.client.AbortMultipartUpload(cctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: uploadID})
}

func (s *Store) cleanupDelete(ctx context.Context, key string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = s.Delete(cctx, key)
}

// Object is an object being read. Close it.
type Object struct {
	io.ReadCloser
	Size        int64
	ContentType string
}

// Get opens key for reading.
func (s *Store) Get(ctx context.Context, key string) (*Object, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("error getting %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("error getting %s: %w", key, err)
	}
	return &Object{ReadCloser: out.Body, Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType)}, nil
}

// PresignGet returns a URL that downloads key for ttl, served with the given
// Content-Disposition.
func (s *Store) PresignGet(ctx context.Context, key, contentDisposition string, ttl time.Duration) (string, error) {
	if s.presign == nil {
		return "", errors.New("storage: presigning needs an *s3.Client")
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket:                     &s.bucket,
		Key:                        &key,
		ResponseContentDisposition: nonEmpty(contentDisposition),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("error presigning %s: %w", key, err)
	}
	return req.URL, nil
}

// Delete removes key. Deleting a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}); err != nil && !isNotFound(err) {
		return fmt.Errorf("error deleting %s: %w", key, err)
	}
	return nil
}

// Upload is an unfinished multipart upload.
type Upload struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// ListUploads lists the unfinished multipart uploads under prefix.
func (s *Store) ListUploads(ctx context.Context, prefix string) ([]Upload, error) {
	var uploads []Upload
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: &prefix}
	for {
		out, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("error listing multipart uploads under %q: %w", prefix, err)
		}
		for _, u := range out.Uploads {
			uploads = append(uploads, Upload{Key: aws.ToString(u.Key), UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)})
		}
		if !aws.ToBool(out.IsTruncated) {
			return uploads, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// ObjectInfo is one stored object.
type ObjectInfo struct {
	Key          string
	Size         int64
	LastModified time.Time
}

// EachObject calls fn with every object under prefix, a page at a time.
func (s *Store) EachObject(ctx context.Context, prefix string, fn func([]ObjectInfo) error) error {
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("error listing objects under %q: %w", prefix, err)
		}
		infos := make([]ObjectInfo, 0, len(page.Contents))
		for _, o := range page.Contents {
			infos = append(infos, ObjectInfo{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), LastModified: aws.ToTime(o.LastModified)})
		}
		if err := fn(infos); err != nil {
			return err
		}
	}
	return nil
}

// AbortUpload aborts one multipart upload, dropping its parts.
func (s *Store) AbortUpload(ctx context.Context, u Upload) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &u.Key, UploadId: &u.UploadID})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("error aborting upload %s of %s: %w", u.UploadID, u.Key, err)
	}
	return nil
}

func isNotFound(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchUpload":
			return true
		}
	}
	return false
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func sortParts(parts []types.CompletedPart) {
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(aws.ToInt32(a.PartNumber) - aws.ToInt32(b.PartNumber)) })
}

// Part is one stored part of a multipart upload.
type Part struct {
	Number int32  `json:"n"`
	ETag   string `json:"etag"`
	Size   int64  `json:"size"`
}

// CreateMultipart starts a multipart upload of key and returns its id.
func (s *Store) CreateMultipart(ctx context.Context, key string, opts PutOptions) (string, error) {
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:             &s.bucket,
		Key:                &key,
		ContentType:        nonEmpty(opts.ContentType),
		ContentDisposition: nonEmpty(opts.ContentDisposition),
		Metadata:           opts.Metadata,
	})
	if err != nil {
		return "", fmt.Errorf("error starting multipart upload of %s: %w", key, err)
	}
	return aws.ToString(out.UploadId), nil
}

// UploadPart stores body as part num of a multipart upload and returns the
// part's ETag. ErrUploadGone: S3 no longer knows the upload.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, num int32, body []byte) (string, error) {
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:        &s.bucket,
		Key:           &key,
		UploadId:      &uploadID,
		PartNumber:    aws.Int32(num),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	}, s.payloadOpts...)
	if err != nil {
		if isNotFound(err) {
			return "", fmt.Errorf("error uploading part %d of %s: %w", num, key, ErrUploadGone)
		}
		return "", fmt.Errorf("error uploading part %d of %s: %w", num, key, err)
	}
	return aws.ToString(out.ETag), nil
}

// CompleteMultipart joins parts (in part-number order) into the object.
// ErrUploadGone: S3 no longer knows the upload (completed or aborted
// earlier).
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) error {
	done := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		done[i] = types.CompletedPart{PartNumber: aws.Int32(p.Number), ETag: aws.String(p.ETag)}
	}
	sortParts(done)
	_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, UploadId: &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("error completing multipart upload of %s: %w", key, ErrUploadGone)
		}
		return fmt.Errorf("error completing multipart upload of %s: %w", key, err)
	}
	return nil
}

// ErrUploadGone is returned for a multipart upload S3 does not know.
var ErrUploadGone = errors.New("storage: no such multipart upload")

// PutBytes stores body at key in one request.
func (s *Store) PutBytes(ctx context.Context, key string, body []byte, opts PutOptions) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:             &s.bucket,
		Key:                &key,
		Body:               bytes.NewReader(body),
		ContentLength:      aws.Int64(int64(len(body))),
		ContentType:        nonEmpty(opts.ContentType),
		ContentDisposition: nonEmpty(opts.ContentDisposition),
		Metadata:           opts.Metadata,
	}, s.payloadOpts...)
	if err != nil {
		return fmt.Errorf("error putting object %s: %w", key, err)
	}
	return nil
}

// Head returns the size of key (ErrNotFound when there is none).
func (s *Store) Head(ctx context.Context, key string) (int64, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return 0, fmt.Errorf("error reading %s: %w", key, ErrNotFound)
		}
		return 0, fmt.Errorf("error reading %s: %w", key, err)
	}
	return aws.ToInt64(out.ContentLength), nil
}

// PartSize is the part size Put uses.
func (s *Store) PartSize() int { return s.partSize }

// PartsInFlight is how many parts of one Put upload at once.
func (s *Store) PartsInFlight() int { return s.inFlight }

func readFull(r io.Reader, buf []byte) (int, error) {
	n, err := io.ReadFull(r, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return n, nil
	}
	return n, err
}
