package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/internal/testenv"
)

// sha256 is the hex SHA-256 of the file.
func (f blockFile) sha256(t *testing.T) string {
	t.Helper()
	h := sha256.New()
	_, err := io.Copy(h, io.NewSectionReader(f, 0, f.size))
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// balancer is a load balancer in front of API processes: every request
// goes to the first process whose /readyz says ready (so a draining one
// gets no new requests), as a proxy with health checks does.
type balancer struct {
	backends []*url.URL
	ready    []atomic.Bool
}

func newBalancer(t *testing.T, addrs ...string) *httptest.Server {
	t.Helper()
	b := &balancer{ready: make([]atomic.Bool, len(addrs))}
	for _, a := range addrs {
		u, err := url.Parse("http://" + a)
		require.NoError(t, err)
		b.backends = append(b.backends, u)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			for i, u := range b.backends {
				b.ready[i].Store(status(u.String()+"/readyz") == http.StatusOK)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			target := b.backends[len(b.backends)-1]
			for i, u := range b.backends {
				if b.ready[i].Load() {
					target = u
					break
				}
			}
			pr.SetURL(target)
		},
		ErrorLog: log.New(io.Discard, "", 0), // backends killed on purpose
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv
}

// bigUploadMiB sizes the uploads of the tests that move many bytes
// (TestResumableUploadRollingDeploy, TestCLIUploadResume). make test uses
// the default, which proves the same behaviour in seconds; make chaos
// moves a GiB.
var bigUploadMiB = flag.Int64("upload.mib", 256, "size of the big uploads of the rolling-deploy and resume tests, in MiB (make chaos: 1024)")

// TestResumableUploadRollingDeploy: a big upload through tus (the Go
// client) behind a load balancer, to three API processes. The one
// receiving it is SIGTERM'd (it drains: the upload stops where it is,
// every byte received is kept, the client is told the offset and goes on
// elsewhere); then the next one is killed with SIGKILL mid-upload (the
// client resumes from the last part recorded). The upload completes on
// the third, byte-identical, one document, without starting over: what
// was sent twice is at most the parts in flight and the tail.
func TestResumableUploadRollingDeploy(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	const partSize, inFlight = 8 << 20, 2
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret,
		"FOLIO_SHUTDOWN_DELAY=200ms", "FOLIO_SHUTDOWN_TIMEOUT=10s", "FOLIO_MAX_UPLOAD_BYTES=2GiB",
		"FOLIO_UPLOAD_PART_SIZE=8MiB", "FOLIO_UPLOAD_PARTS_IN_FLIGHT=2")
	var addrs []string
	var apis []*proc
	for range 3 {
		addr := freeAddr(t)
		p := start(t, append(env, "FOLIO_HTTP_ADDR="+addr, "FOLIO_HEALTH_ADDR="+freeAddr(t)), "api", "--migrate")
		waitStatus(t, p, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second)
		addrs, apis = append(addrs, addr), append(apis, p)
	}
	lb := newBalancer(t, addrs...)
	tok, err := auth.Sign([]byte(testSecret), "deployer", time.Hour)
	require.NoError(t, err)

	// Paced so that the upload lasts about 8 s on any machine, and held at
	// a gate while the second process is killed: the kill lands mid-upload
	// however fast the machine moves bytes.
	file := &pacedFile{blockFile: blockFile{size: *bigUploadMiB << 20}, open: make(chan struct{})}
	file.rate, file.start = float64(file.size)/8, time.Now()
	want := file.sha256(t)
	var stats client.UploadStats
	type result struct {
		doc *client.Document
		err error
	}
	done := make(chan result, 1)
	began := time.Now()
	go func() {
		doc, err := client.New(tok, lb.URL).UploadResumable(ctx, "release.pdf", file, file.size, client.UploadOptions{Stats: &stats})
		done <- result{doc, err}
	}()
	offset := func() int64 {
		var off int64
		_ = db.Pool.QueryRow(ctx, `SELECT coalesce(max("offset"), 0) FROM uploads`).Scan(&off)
		return off
	}
	require.Eventually(t, func() bool { return offset() >= file.size/4 }, 2*time.Minute, 5*time.Millisecond, "a quarter arrived at A")
	atTerm := offset()
	apis[0].signal(t, syscall.SIGTERM)
	require.Equal(t, 0, apis[0].wait(t, time.Minute), apis[0].stderr.String())
	atDrain := offset() // by now on B
	resentAtDrain := stats.Resent.Load()

	// The client stops reading at the gate until B is dead: B holds every
	// whole part before it when it is killed.
	gate := max(atDrain+(file.size-atDrain)/2, file.pos.Load()+3*partSize)
	require.Less(t, gate, file.size-partSize, "the upload was near its end before B got it: pace it more")
	file.gate.Store(gate)
	killAt := gate - 2*partSize
	require.Eventually(t, func() bool { return offset() >= killAt }, 2*time.Minute, 5*time.Millisecond, "half the rest arrived, at B")
	apis[1].signal(t, syscall.SIGKILL)
	apis[1].wait(t, time.Minute)
	atKill := offset()
	close(file.open)
	require.Less(t, atKill, file.size, "killed mid-upload")

	got := <-done
	elapsed := time.Since(began)
	require.NoError(t, got.err)
	require.Equal(t, want, got.doc.SHA256, "byte-identical")
	require.Equal(t, file.size, got.doc.SizeBytes)
	var docs, leftovers int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM documents`).Scan(&docs))
	require.Equal(t, 1, docs, "one document")
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM uploads WHERE document_id IS NULL`).Scan(&leftovers))
	require.Zero(t, leftovers)
	list, err := bucket.Store.ListUploads(ctx, "")
	require.NoError(t, err)
	require.Empty(t, list, "no multipart upload left")

	resent := stats.BytesSent.Load() - file.size
	require.Equal(t, resent, stats.Resent.Load(), "the client's count of bytes sent twice adds up")
	resentAtKill := resent - resentAtDrain
	t.Logf("%d MiB through a drain (SIGTERM at %d MiB recorded) and a SIGKILL (at %d MiB recorded): %s, %d resumes; sent twice: %.1f MiB at the drain, %.1f MiB at the kill",
		file.size>>20, atTerm>>20, atKill>>20, elapsed.Round(100*time.Millisecond), stats.Resumes.Load(), float64(resentAtDrain)/(1<<20), float64(resentAtKill)/(1<<20))
	// The drain keeps every byte the API read: sent twice is only what
	// sat in socket and proxy buffers (two connections, client → proxy →
	// API, each with a send and a receive buffer that Linux may grow to
	// tcp_wmem's and tcp_rmem's maximum). The kill loses the parts in
	// flight and the tail ((PartsInFlight + 1) parts) and those buffers.
	buffers := 2 * (tcpBufferMax(t, "tcp_rmem") + tcpBufferMax(t, "tcp_wmem"))
	require.LessOrEqual(t, resentAtDrain, buffers, "the drain loses nothing the API read")
	require.LessOrEqual(t, resentAtKill, int64((inFlight+1)*partSize)+buffers, "the kill costs the parts in flight, no start over")
}

// tcpBufferMax reads the largest a TCP socket buffer may grow to
// (net.ipv4.tcp_rmem or tcp_wmem, third field).
func tcpBufferMax(t *testing.T, name string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/" + name)
	require.NoError(t, err)
	f := strings.Fields(string(b))
	require.Len(t, f, 3)
	n, err := strconv.ParseInt(f[2], 10, 64)
	require.NoError(t, err)
	return n
}

// pacedFile is a blockFile read at about rate bytes a second, and not past
// gate (once set) until open is closed.
type pacedFile struct {
	blockFile
	rate  float64
	start time.Time
	read  atomic.Int64 // bytes read, resent ones included
	pos   atomic.Int64 // the furthest offset read
	gate  atomic.Int64
	open  chan struct{}
}

func (f *pacedFile) ReadAt(p []byte, off int64) (int, error) {
	if g := f.gate.Load(); g > 0 && off+int64(len(p)) > g {
		select {
		case <-f.open:
		default:
			if off >= g {
				<-f.open
			} else {
				p = p[:g-off]
			}
		}
	}
	n, err := f.blockFile.ReadAt(p, off)
	for end := off + int64(n); ; {
		cur := f.pos.Load()
		if end <= cur || f.pos.CompareAndSwap(cur, end) {
			break
		}
	}
	due := f.start.Add(time.Duration(float64(f.read.Add(int64(n))) / f.rate * float64(time.Second)))
	if wait := time.Until(due); wait > 0 {
		time.Sleep(wait) // pacing the reads, not waiting for a condition
	}
	return n, err
}
