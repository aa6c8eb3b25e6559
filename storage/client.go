package storage

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ClientOptions adjust the S3 client beyond what the SDK reads from the
// environment.
type ClientOptions struct {
	// PathStyle addresses buckets as host/bucket (FOLIO_S3_PATH_STYLE).
	PathStyle bool
	// Endpoint, Region and static credentials override the SDK's sources
	// when set (tests and `folio dev`).
	Endpoint, Region, AccessKey, SecretKey string
	// MaxConns bounds the connections to S3 this process opens at once
	// (FOLIO_S3_MAX_CONNS): requests beyond wait for one, so that no
	// request, however many objects it touches, starves the rest or
	// the S3 server. 0: unbounded.
	MaxConns int
}

// NewClient builds an S3 client from the SDK's standard sources plus opts.
func NewClient(ctx context.Context, opts ClientOptions) (*s3.Client, error) {
	var loadOpts []func(*awsconfig.LoadOptions) error
	if opts.Region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(opts.Region))
	}
	if opts.AccessKey != "" {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(aws.CredentialsProviderFunc(
			func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: opts.AccessKey, SecretAccessKey: opts.SecretKey, Source: "folio"}, nil
			})))
	}
	if opts.MaxConns > 0 {
		loadOpts = append(loadOpts, awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.MaxConnsPerHost = opts.MaxConns
			tr.MaxIdleConnsPerHost = min(opts.MaxConns, 100)
		})))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("error loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = opts.PathStyle
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}
