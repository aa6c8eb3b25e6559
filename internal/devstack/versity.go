package devstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The dev stack's S3 credentials. They guard a gateway bound to 127.0.0.1
// that serves a scratch directory; they are not secrets.
const (
	S3AccessKey = "folio-dev"
	S3SecretKey = "folio-dev-secret"
	S3Region    = "us-east-1"
)

// S3Options configures StartS3.
type S3Options struct {
	// Bin is the versitygw binary (see VersityBin).
	Bin string
	// Dir holds the objects (Dir/data), their metadata (Dir/meta) and the
	// old versions of objects in buckets with versioning on (Dir/versions).
	Dir string
	// Port to listen on (127.0.0.1 only); 0 picks a free one.
	Port int
}

// S3 is a running versitygw.
type S3 struct {
	Endpoint string // http://127.0.0.1:port
	proc     *process
}

// StartS3 starts versitygw's posix backend on opts.Dir and waits until it
// answers HTTP.
func StartS3(ctx context.Context, opts S3Options) (*S3, error) {
	data, meta, versions := filepath.Join(opts.Dir, "data"), filepath.Join(opts.Dir, "meta"), filepath.Join(opts.Dir, "versions")
	for _, d := range []string{data, meta, versions} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("error creating %s: %w", d, err)
		}
	}
	port := opts.Port
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// Run as ourselves: no credential change, but the same process-group and
	// parent-death handling as the other children.
	proc, err := asUser{}.start("versitygw", []string{"HOME=" + opts.Dir}, opts.Bin,
		"--access", S3AccessKey, "--secret", S3SecretKey, "--region", S3Region,
		"--port", addr, "--quiet",
		// Versioning is then a bucket's setting (PutBucketVersioning).
		"posix", "--sidecar", meta, "--versioning-dir", versions, data)
	if err != nil {
		return nil, err
	}
	s := &S3{Endpoint: "http://" + addr, proc: proc}
	client := &http.Client{Timeout: time.Second}
	err = waitFor(proc, 30*time.Second, func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint, nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil // any HTTP answer (403 without credentials) means it is up
	})
	if err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// Stop stops the gateway.
func (s *S3) Stop() error { return s.proc.stop(syscall.SIGTERM, 10*time.Second) }

// Done is closed when the gateway process has exited.
func (s *S3) Done() <-chan struct{} { return s.proc.done }

// VersityBin returns the path of the versitygw binary under root/.folio/bin,
// building it from the pinned tools module (root/tools/go.mod) when it is
// missing. FOLIO_VERSITYGW_BIN overrides the path.
func VersityBin(ctx context.Context, root string) (string, error) {
	if p := os.Getenv("FOLIO_VERSITYGW_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("FOLIO_VERSITYGW_BIN: %w", err)
		}
		return p, nil
	}
	bin := filepath.Join(root, ".folio", "bin", "versitygw")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("versitygw is not built and no go toolchain is on PATH to build it: run `make tools`")
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	// Build to a temporary name and rename, so a concurrent build never
	// leaves a half-written binary behind.
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", tmp, "github.com/versity/versitygw/cmd/versitygw")
	cmd.Dir = filepath.Join(root, "tools")
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("error building versitygw: %w: %s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// Root finds the Folio source tree: the nearest folder at or above dir whose
// go.mod declares the module github.com/foliohq/folio.
func Root(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && modulePath(b) == "github.com/foliohq/folio" {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no Folio source tree at or above %s", dir)
		}
	}
}

func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return f[1]
		}
	}
	return ""
}
