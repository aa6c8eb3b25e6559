package e2e

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"

	"github.com/foliohq/folio/internal/testenv"
	"github.com/foliohq/folio/storage"
)

// BenchmarkUploadThroughput uploads the same 1 GiB file to the same S3
// server three ways, in one run: method=sdk is the AWS SDK's own
// multipart uploader (feature/s3/transfermanager, manager's successor,
// with its defaults: 8 MiB parts, 5 at once) straight to S3, the peer; method=tus goes through a real api
// process with the Go client's resumable upload (one PATCH of the whole
// file); method=post through the one-request upload. MB/s is the figure;
// tus ÷ sdk is the ratio docs/benchmarks.md reports.
//
//	go test -run '^$' -bench UploadThroughput -benchtime 1x -count 6 ./internal/e2e
func BenchmarkUploadThroughput(b *testing.B) {
	const size = 1 << 30
	db, bucket := testenv.Postgres(b), testenv.S3(b)
	file := patternFile{size: size}
	for _, method := range []string{"sdk", "tus", "post"} {
		b.Run("method="+method, func(b *testing.B) {
			var api *uploadBenchAPI
			if method != "sdk" {
				api = startUploadBenchAPI(b, db, bucket)
			}
			uploader := transfermanager.New(bucket.Client)
			b.SetBytes(size)
			b.ResetTimer()
			for i := range b.N {
				var err error
				switch method {
				case "sdk":
					_, err = uploader.UploadObject(context.Background(), &transfermanager.UploadObjectInput{
						Bucket: aws.String(bucket.Name), Key: aws.String("sdk/" + time.Now().Format(time.RFC3339Nano)),
						Body: io.NewSectionReader(file, 0, size), ContentType: aws.String("application/pdf"),
					})
				default:
					err = benchUpload(method, api.addr, api.token, size)
				}
				if err != nil {
					b.Fatal(i, err)
				}
				b.StopTimer()
				emptyBucket(b, db, bucket)
				clearPrefix(b, bucket, "sdk/")
				b.StartTimer()
			}
			b.StopTimer()
			if api != nil {
				b.ReportMetric(float64(vmHWM(b, api.proc.cmd.Process.Pid))/(1<<20), "peak-RSS-MiB")
				api.requireNoFiles(b)
				_ = api.proc.cmd.Process.Kill() // the next method gets its own
				<-api.proc.done
			}
		})
	}
}

func clearPrefix(b *testing.B, bucket *testenv.Bucket, prefix string) {
	b.Helper()
	ctx := context.Background()
	var keys []string
	if err := bucket.Store.EachObject(ctx, prefix, func(objs []storage.ObjectInfo) error {
		for _, o := range objs {
			keys = append(keys, o.Key)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for _, k := range keys {
		if err := bucket.Store.Delete(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
}
