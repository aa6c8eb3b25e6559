// Package storage keeps Folio's bytes in S3 (or any S3-compatible server):
// streaming multipart puts with bounded memory, gets, deletes, and the
// listing and aborting of unfinished multipart uploads that the sweeper
// needs.
//
// Keys are always Folio's own (originals/<owner>/<document id>), never a
// client's file name.
//
// # Permissions
//
// The credentials Folio runs with need, on the bucket and the keys under it:
//
//	s3:PutObject, s3:GetObject, s3:DeleteObject,
//	s3:AbortMultipartUpload, s3:ListMultipartUploadParts,
//	s3:ListBucket, s3:ListBucketMultipartUploads
//
// (CreateMultipartUpload, UploadPart and CompleteMultipartUpload are covered
// by s3:PutObject.) Creating the bucket (s3:CreateBucket) is needed only by
// `folio dev` and the tests; in production the bucket is made by the
// deployment.
//
// # Configuration
//
// Endpoint, region and credentials come from the AWS SDK's own sources
// (AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// profiles, IMDS, …). Request and response checksums are computed only when
// an operation requires them: the SDK's default CRC32 trailers break several
// S3-compatible servers.
package storage
