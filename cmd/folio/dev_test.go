package main

import (
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDevListenersAreLoopback: with no variable and no flag, every
// listener folio dev opens is on loopback (nothing reaches the worker's
// metrics or the admin UI from the network); each moves with its flag or
// variable, so two stacks run side by side.
func TestDevListenersAreLoopback(t *testing.T) { //nolint:paralleltest // sets the process environment
	for _, k := range []string{"FOLIO_HTTP_ADDR", "FOLIO_HEALTH_ADDR", "FOLIO_ADMIN_ADDR"} {
		t.Setenv(k, "")
	}
	opts, err := parseDevFlags(nil, io.Discard)
	require.NoError(t, err)
	for _, addr := range []string{opts.httpAddr, opts.healthAddr, opts.adminAddr} {
		host, _, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		require.True(t, netip.MustParseAddr(host).IsLoopback(), addr)
	}
	require.NotEqual(t, opts.httpAddr, opts.healthAddr)

	t.Setenv("FOLIO_HEALTH_ADDR", "127.0.0.1:18181")
	opts, err = parseDevFlags([]string{"--admin-addr", "127.0.0.1:18282", "--http-addr", "127.0.0.1:18080"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:18181", opts.healthAddr)
	require.Equal(t, "127.0.0.1:18282", opts.adminAddr)
	require.Equal(t, "127.0.0.1:18080", opts.httpAddr)
}
