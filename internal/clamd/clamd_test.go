package clamd_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/internal/clamd"
	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/internal/testenv"
)

func startClamd(t *testing.T, streamMax int64) *devstack.Clamd {
	t.Helper()
	return testenv.ClamdWith(t, devstack.ClamdOptions{StreamMaxLength: streamMax})
}

func TestScanAgainstTheRealDaemon(t *testing.T) {
	d := startClamd(t, 1<<20)
	c, err := clamd.Parse(d.Address)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx))
	v, err := c.Version(ctx)
	require.NoError(t, err)
	require.Equal(t, "1", v.Signatures, v.Raw)
	require.True(t, strings.HasPrefix(v.Engine, "ClamAV "), v.Raw)
	built, ok := v.Date()
	require.True(t, ok, v.Raw)
	require.WithinDuration(t, time.Now(), built, time.Hour, "the test database is built now")

	pdf := func(inside []byte) []byte {
		return append(append([]byte("%PDF-1.4\n1 0 obj\n<< /Length 68 >>\nstream\n"), inside...), "\nendstream\nendobj\n%%EOF\n"...)
	}
	res, err := c.Scan(ctx, bytes.NewReader(pdf([]byte("nothing to see"))))
	require.NoError(t, err)
	require.False(t, res.Found())

	res, err = c.Scan(ctx, bytes.NewReader(pdf(clamd.EICAR())))
	require.NoError(t, err)
	require.Equal(t, "Folio.Test.EICAR.UNOFFICIAL", res.Signature)

	// Across chunk boundaries: the marker split between two chunks.
	small := &clamd.Client{Network: c.Network, Address: c.Address, ChunkSize: 7}
	res, err = small.Scan(ctx, bytes.NewReader(pdf([]byte(clamd.TestMarker))))
	require.NoError(t, err)
	require.Equal(t, "Folio.Test.Marker.UNOFFICIAL", res.Signature)

	// Past StreamMaxLength: clamd's refusal, not a pass.
	_, err = c.Scan(ctx, io.LimitReader(zeros{}, 2<<20))
	require.ErrorIs(t, err, clamd.ErrSizeLimit)
	// The beginning of it, within the limit, scans.
	res, err = c.Scan(ctx, io.LimitReader(io.MultiReader(bytes.NewReader(clamd.EICAR()), zeros{}), 1<<20))
	require.NoError(t, err)
	require.True(t, res.Found())

	// New signatures: the version changes and a file clean before is not.
	file := pdf([]byte("an ordinary file, until today"))
	require.NoError(t, d.SetSignatures(ctx, 2, map[string]string{"daily.hdb": clamd.HashSignature("Folio.Test.Today", file)}))
	v, err = c.Version(ctx)
	require.NoError(t, err)
	require.Equal(t, "2", v.Signatures)
	res, err = c.Scan(ctx, bytes.NewReader(file))
	require.NoError(t, err)
	require.Equal(t, "Folio.Test.Today.UNOFFICIAL", res.Signature)
}

func TestScanErrorsWhenNothingAnswers(t *testing.T) {
	d := startClamd(t, 0)
	c, _ := clamd.Parse(d.Address)
	require.NoError(t, d.Stop())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Scan(ctx, bytes.NewReader([]byte("%PDF-1.4")))
	require.Error(t, err)
	require.False(t, errors.Is(err, clamd.ErrSizeLimit))
	var reply *clamd.ReplyError
	require.False(t, errors.As(err, &reply))
	require.Error(t, c.Ping(ctx))
}

func TestParseAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"unix:/run/clamav/clamd.ctl":   "unix:/run/clamav/clamd.ctl",
		"unix:///run/clamav/clamd.ctl": "unix:/run/clamav/clamd.ctl",
		"/run/clamav/clamd.ctl":        "unix:/run/clamav/clamd.ctl",
		"tcp:127.0.0.1:3310":           "tcp:127.0.0.1:3310",
		"tcp://clamd:3310":             "tcp:clamd:3310",
		"clamd:3310":                   "tcp:clamd:3310",
	} {
		c, err := clamd.Parse(in)
		require.NoError(t, err, in)
		require.Equal(t, want, c.String(), in)
	}
	for _, bad := range []string{"unix:", "clamd", "tcp:"} {
		_, err := clamd.Parse(bad)
		require.Error(t, err, bad)
	}
}

func TestUnixSocket(t *testing.T) {
	// The client's unix path: a socket a clamd listens on, via a relay to
	// the TCP one is needless; the test daemon listens on both when the
	// path is short enough.
	d := startClamd(t, 0)
	sock := filepath.Join(d.Dir(), "clamd.sock")
	if _, err := os.Stat(sock); err != nil {
		t.Skip("the test directory's path is too long for a unix socket")
	}
	c, err := clamd.Parse("unix:" + sock)
	require.NoError(t, err)
	require.NoError(t, c.Ping(context.Background()))
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
