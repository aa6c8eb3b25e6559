package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
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
// with its defaults: 8 MiB parts, 5 at once, a CRC32 checksum of every
// part) straight to S3, the peer; method=sdk-nocrc the same without the
// checksums, as Folio's own S3 calls are; method=tus goes through a real api
// process with the Go client's resumable upload (one PATCH of the whole
// file); method=post through the one-request upload. MB/s is the figure;
// tus ÷ sdk is the ratio docs/benchmarks.md reports. It also reports the
// CPU seconds each process spent per upload (client, api, S3 server). Run
// it several times with -count 1 rather than once with -count N, so that
// the methods take turns (make bench does):
//
//	for i in 1 2 3 4 5 6; do go test -run '^$' -bench UploadThroughput -benchtime 1x -count 1 ./internal/e2e; done
func BenchmarkUploadThroughput(b *testing.B) {
	const size = 1 << 30
	db, bucket := testenv.Postgres(b), testenv.S3(b)
	file := blockFile{size: size}
	for _, method := range []string{"sdk", "sdk-nocrc", "tus", "post"} {
		b.Run("method="+method, func(b *testing.B) {
			var api *uploadBenchAPI
			if !strings.HasPrefix(method, "sdk") {
				api = startUploadBenchAPI(b, db, bucket)
			}
			uploader := transfermanager.New(bucket.Client, func(o *transfermanager.Options) {
				if method == "sdk-nocrc" { // as Folio's S3 calls: no CRC32 of every part
					o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
				}
			})
			apiPid := 0
			if api != nil {
				apiPid = api.proc.cmd.Process.Pid
			}
			cpu0 := cpuNow(b, apiPid)
			b.SetBytes(size)
			b.ResetTimer()
			for i := range b.N {
				var err error
				switch method {
				case "sdk", "sdk-nocrc":
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
			// Where the CPU went, per upload (one GiB): this process (the
			// client), the api and the S3 server. On two cores the three
			// share them: a path that costs more CPU per byte is slower.
			cpu := cpuNow(b, apiPid).sub(cpu0)
			b.ReportMetric(cpu.client.Seconds()/float64(b.N), "client-cpu-s")
			b.ReportMetric(cpu.api.Seconds()/float64(b.N), "api-cpu-s")
			b.ReportMetric(cpu.s3.Seconds()/float64(b.N), "s3-cpu-s")
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

// cpuTimes are CPU seconds (user + system) used so far.
type cpuTimes struct{ client, api, s3 time.Duration }

func (c cpuTimes) sub(o cpuTimes) cpuTimes {
	return cpuTimes{client: c.client - o.client, api: c.api - o.api, s3: c.s3 - o.s3}
}

// cpuNow reads this process's CPU time, the api's (pid; 0: none) and the
// S3 servers' (every versitygw process).
func cpuNow(b *testing.B, apiPid int) cpuTimes {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	c := cpuTimes{client: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	if apiPid != 0 {
		c.api = procCPU(apiPid)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && strings.Contains(string(cmd), "versitygw") {
			c.s3 += procCPU(pid)
		}
	}
	return c
}

// procCPU is a process's user + system CPU time (/proc/<pid>/stat fields
// 14 and 15, in clock ticks of 1/100 s).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// blockFile is a PDF header and then benchBlock (1 MiB of random bytes,
// the same for the whole test process) over and over, as an io.ReaderAt:
// a large file without holding it, at the cost of a copy. Every method of
// the throughput benchmark reads it (the one-request upload's generated
// body is the same bytes).
type blockFile struct{ size int64 }

func (f blockFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off+int64(n) < f.size {
		pos := off + int64(n)
		c := copy(p[n:], benchBlock[pos%int64(len(benchBlock)):])
		if rest := f.size - pos; int64(c) > rest {
			c = int(rest)
		}
		n += c
	}
	const head = "%PDF-1.7\n"
	if off < int64(len(head)) {
		copy(p, head[off:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
