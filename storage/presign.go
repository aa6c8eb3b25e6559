package storage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Multipart operations PresignMultipart signs.
const (
	OpCreate   = "create"   // POST key?uploads
	OpPart     = "part"     // PUT key?partNumber=N&uploadId=U
	OpList     = "list"     // GET key?uploadId=U
	OpComplete = "complete" // POST key?uploadId=U
	OpAbort    = "abort"    // DELETE key?uploadId=U
)

// PresignMultipart returns a URL that performs one multipart operation on
// key (and uploadID) for ttl, for a client sending the bytes to S3
// itself: create, list, complete or abort (parts: PresignPart). The SDK
// presigns only upload-part; these are signed the same way (SigV4 query
// signing, unsigned payload).
func (s *Store) PresignMultipart(ctx context.Context, op, key, uploadID string, part int32, ttl time.Duration) (string, error) {
	if s.presign == nil {
		return "", errors.New("storage: presigning needs an *s3.Client")
	}
	if op == OpPart {
		return "", errors.New("storage: parts are presigned with PresignPart")
	}
	// The object's URL as the SDK addresses it (endpoint, path style).
	base, err := s.presign.PresignHeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return "", fmt.Errorf("error addressing %s: %w", key, err)
	}
	u, err := url.Parse(base.URL)
	if err != nil {
		return "", err
	}
	q := url.Values{}
	method := http.MethodPost
	switch op {
	case OpCreate:
		q.Set("uploads", "")
	case OpList:
		method = http.MethodGet
		q.Set("uploadId", uploadID)
	case OpComplete:
		q.Set("uploadId", uploadID)
	case OpAbort:
		method = http.MethodDelete
		q.Set("uploadId", uploadID)
	default:
		return "", fmt.Errorf("storage: no multipart operation %q", op)
	}
	q.Set("X-Amz-Expires", strconv.Itoa(int(ttl/time.Second)))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return "", err
	}
	creds, err := s.clientOptions.Credentials.Retrieve(ctx)
	if err != nil {
		return "", fmt.Errorf("error reading S3 credentials: %w", err)
	}
	signed, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", s.clientOptions.Region, time.Now().UTC())
	if err != nil {
		return "", fmt.Errorf("error presigning %s of %s: %w", op, key, err)
	}
	return signed, nil
}

// PresignPart returns a URL that uploads part number part of uploadID, of
// exactly size bytes: Content-Length is signed, so S3 refuses a body of
// any other length, and a client can store no more than it was signed for.
func (s *Store) PresignPart(ctx context.Context, key, uploadID string, part int32, size int64, ttl time.Duration) (string, error) {
	if s.presign == nil {
		return "", errors.New("storage: presigning needs an *s3.Client")
	}
	req, err := s.presign.PresignUploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.bucket, Key: &key, UploadId: &uploadID, PartNumber: aws.Int32(part), ContentLength: aws.Int64(size),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("error presigning a part of %s: %w", key, err)
	}
	return req.URL, nil
}

// HasMultipart reports whether uploadID is an unfinished multipart upload
// of key.
func (s *Store) HasMultipart(ctx context.Context, key, uploadID string) (bool, error) {
	uploads, err := s.ListUploads(ctx, key)
	if err != nil {
		return false, err
	}
	for _, u := range uploads {
		if u.Key == key && u.UploadID == uploadID {
			return true, nil
		}
	}
	return false, nil
}

// ReadHead returns the first n bytes of key (fewer if it is shorter).
func (s *Store) ReadHead(ctx context.Context, key string, n int) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key, Range: aws.String(fmt.Sprintf("bytes=0-%d", n-1))})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("error reading %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("error reading %s: %w", key, err)
	}
	defer out.Body.Close()
	buf := make([]byte, n)
	m, err := readFull(out.Body, buf)
	return buf[:m], err
}

// AllowBrowserUploads sets the bucket's CORS rules so that pages on
// origins can send multipart uploads straight to it (and read the ETag
// of each part).
func (s *Store) AllowBrowserUploads(ctx context.Context, origins []string) error {
	if len(origins) == 0 {
		return nil
	}
	_, err := s.client.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &s.bucket, CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{
			AllowedOrigins: origins,
			AllowedMethods: []string{"GET", "PUT", "POST", "DELETE", "HEAD"},
			AllowedHeaders: []string{"*"},
			ExposeHeaders:  []string{"ETag"},
			MaxAgeSeconds:  aws.Int32(3000),
		}},
	}})
	if err != nil {
		return fmt.Errorf("error setting the CORS rules of %s: %w", s.bucket, err)
	}
	return nil
}
