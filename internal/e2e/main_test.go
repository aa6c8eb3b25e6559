package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/internal/testbin"
	"github.com/foliohq/folio/internal/testenv"
)

// testSecret signs the tokens of tests that start the API.
const testSecret = "e2e-secret-0123456789abcdef0123456789"

// binDir holds the binaries built once for this test process.
var binDir string

func TestMain(m *testing.M) {
	dir, err := testbin.Build("folio", "api", "worker")
	if err == nil {
		err = testbin.WarmRenderer() // once, before any worker times a page
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binDir = dir
	stopClamd, err := startSharedClamd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	testenv.Main(m, testbin.Cleanup, stopClamd)
}

// scanEnv turns malware scanning on in every API and worker the tests
// start, with the clamd TestMain started (the scan stage is in place for
// every test: drain, rescue, chaos and the rest run through it). Empty
// where clamd is not installed outside CI.
var scanEnv []string

// startSharedClamd starts the clamd the tests share (test signatures).
func startSharedClamd() (func(), error) {
	bin, err := devstack.ClamdBin()
	if err != nil {
		if os.Getenv("CI") == "true" {
			return nil, err
		}
		fmt.Fprintln(os.Stderr, "e2e: uploads are not scanned in these tests:", err)
		return func() {}, nil
	}
	dir, err := os.MkdirTemp("", "folio-e2e-clamd-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := devstack.StartClamd(ctx, devstack.ClamdOptions{Bin: bin, Dir: dir})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	scanEnv = []string{"FOLIO_SCAN=clamd", "FOLIO_CLAMD_ADDRESS=" + c.Address, "FOLIO_SCAN_RETRY=1s"}
	return func() { _ = c.Stop(); os.RemoveAll(dir) }, nil
}

// proc is a started binary.
type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
}

func start(t testing.TB, env []string, name string, args ...string) *proc {
	t.Helper()
	return startIn(t, "", env, name, args...)
}

// startIn starts a binary in directory dir ("": this one).
func startIn(t testing.TB, dir string, env []string, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	p := &proc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", name, p.stdout, name, p.stderr)
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("%s still running after %s", p.cmd.Path, timeout)
		return -1
	}
}

func (p *proc) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
}

// baseEnv is the environment without anything that would point a binary at
// another database or S3 server than the test's.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "DATABASE_URL", strings.HasPrefix(k, "FOLIO_") && k != "FOLIO_PG_BIN" && k != "FOLIO_VERSITYGW_BIN", strings.HasPrefix(k, "AWS_"):
			continue
		}
		env = append(env, kv)
	}
	// Page images are off unless a test turns them on (FOLIO_RENDER=on
	// after this): on two cores, every test's worker rendering every page
	// would slow the tests that measure something else.
	// Every worker loads PDFium from the cache TestMain filled.
	env = append(env, scanEnv...)
	return append(env, "FOLIO_LOG_FORMAT=json", "FOLIO_RENDER=off", "FOLIO_RENDER_CACHE_DIR="+testbin.RenderCache())
}

// s3Env points a binary at the test's bucket.
func s3Env(b *testenv.Bucket) []string {
	return []string{
		"AWS_ENDPOINT_URL_S3=" + b.Options.Endpoint,
		"AWS_REGION=" + b.Options.Region,
		"AWS_ACCESS_KEY_ID=" + b.Options.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + b.Options.SecretKey,
		"FOLIO_S3_PATH_STYLE=true",
		"FOLIO_S3_BUCKET=" + b.Name,
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func freePort(t testing.TB) string {
	_, port, _ := net.SplitHostPort(freeAddr(t))
	return port
}

// status GETs url and returns the status code, or 0 if nothing answers.
func status(url string) int {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitStatus waits until url answers want, or the process exits, or timeout.
func waitStatus(t testing.TB, p *proc, url string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := status(url)
		if got == want {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("process exited (code %d) before %s answered %d\nstderr:\n%s", p.cmd.ProcessState.ExitCode(), url, want, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s answered %d, not %d, within %s", url, got, want, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
