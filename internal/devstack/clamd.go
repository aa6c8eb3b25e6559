package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/foliohq/folio/internal/clamd"
)

// ErrNoClamd means ClamAV's daemon is not installed.
var ErrNoClamd = errors.New("no clamd found: run scripts/install-clamav.sh (Debian: apt-get install clamav-daemon), or set FOLIO_CLAMD_BIN")

// ClamdBin finds clamd: FOLIO_CLAMD_BIN, /usr/sbin/clamd, then PATH.
func ClamdBin() (string, error) {
	if p := os.Getenv("FOLIO_CLAMD_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("FOLIO_CLAMD_BIN: %w", err)
		}
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/clamd"); err == nil {
		return "/usr/sbin/clamd", nil
	}
	if p, err := exec.LookPath("clamd"); err == nil {
		return p, nil
	}
	return "", ErrNoClamd
}

// ClamdOptions configures StartClamd.
type ClamdOptions struct {
	// Bin is clamd (ClamdBin).
	Bin string
	// Dir holds clamd.conf, the signature database (Dir/db) and the log.
	Dir string
	// Port to listen on (127.0.0.1 only); 0 picks a free one.
	Port int
	// StreamMaxLength is the longest stream clamd scans (its
	// StreamMaxLength; 512 MiB when zero, Folio's default upload limit).
	StreamMaxLength int64
	// Version is the test signature database's version (1 when zero),
	// written when Dir holds none yet (SetSignatures changes it).
	Version int
	// DisableCache turns off clamd's cache of clean files' hashes, which
	// otherwise makes a second scan of the same bytes skip the scan
	// (benchmarks: every scan is read in full).
	DisableCache bool
}

// Clamd is a running ClamAV daemon loading Folio's test signatures
// (clamd.TestSignatures): there is no freshclam without internet.
type Clamd struct {
	// Address is where Folio reaches it (tcp:127.0.0.1:port).
	Address string
	Port    int
	dir     string
	proc    *process
}

// StartClamd writes a clamd.conf into opts.Dir and starts clamd on it,
// listening on 127.0.0.1 only, and waits until it answers PING.
func StartClamd(ctx context.Context, opts ClamdOptions) (*Clamd, error) {
	db := filepath.Join(opts.Dir, "db")
	if err := os.MkdirAll(db, 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(db, "daily.cud")); errors.Is(err, os.ErrNotExist) {
		if err := writeSignatures(db, max(opts.Version, 1), nil); err != nil {
			return nil, err
		}
	}
	port := opts.Port
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	limit := opts.StreamMaxLength
	if limit <= 0 {
		limit = 512 << 20
	}
	// Scan limits above the stream's, so that what clamd accepts it scans
	// whole; AlertExceedsMax: a file that still exceeds one is reported
	// (Heuristics.Limits.Exceeded.*), never passed in silence.
	conf := fmt.Sprintf(`# Written by Folio (internal/devstack): a development scanner.
Foreground yes
DatabaseDirectory %s
TCPSocket %d
TCPAddr 127.0.0.1
StreamMaxLength %d
MaxScanSize %d
MaxFileSize %d
AlertExceedsMax yes
SelfCheck 0
LogTime yes
LogFile %s
`, db, port, limit, 2*limit, limit, filepath.Join(opts.Dir, "clamd.log"))
	if opts.DisableCache {
		conf += "DisableCache yes\n"
	}
	// And a unix socket, where the path fits one (108 bytes on Linux).
	if sock := filepath.Join(opts.Dir, "clamd.sock"); len(sock) < 100 {
		conf += "LocalSocket " + sock + "\n"
	}
	confPath := filepath.Join(opts.Dir, "clamd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	proc, err := asUser{}.start("clamd", []string{"HOME=" + opts.Dir}, opts.Bin, "--config-file="+confPath)
	if err != nil {
		return nil, err
	}
	c := &Clamd{Address: "tcp:127.0.0.1:" + strconv.Itoa(port), Port: port, dir: opts.Dir, proc: proc}
	client, _ := clamd.Parse(c.Address)
	err = waitFor(proc, time.Minute, func() error {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return client.Ping(pctx)
	})
	if err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

// SetSignatures replaces the test signature database with version version
// (the test signatures plus extra: "daily.hdb" → lines) and has clamd
// reload it, waiting until it reports that version.
func (c *Clamd) SetSignatures(ctx context.Context, version int, extra map[string]string) error {
	if err := writeSignatures(filepath.Join(c.dir, "db"), version, extra); err != nil {
		return err
	}
	client, _ := clamd.Parse(c.Address)
	if err := client.Reload(ctx); err != nil {
		return err
	}
	want := strconv.Itoa(version)
	for {
		v, err := client.Version(ctx)
		if err == nil && v.Signatures == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("clamd did not load signatures %s (last answer %q): %w", want, v.Raw, errors.Join(ctx.Err(), err))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func writeSignatures(db string, version int, extra map[string]string) error {
	b, err := clamd.TestDatabase(version, extra)
	if err != nil {
		return err
	}
	tmp := filepath.Join(db, ".daily.cud.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(db, "daily.cud"))
}

// Dir is the directory StartClamd was given.
func (c *Clamd) Dir() string { return c.dir }

// Stop stops clamd.
func (c *Clamd) Stop() error { return c.proc.stop(syscall.SIGTERM, 10*time.Second) }

// Done is closed when clamd has exited.
func (c *Clamd) Done() <-chan struct{} { return c.proc.done }
