package clientaddr

import (
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOf: X-Forwarded-For is believed only from trusted proxies, from the
// right: a client cannot put an address of its choosing in front.
func TestOf(t *testing.T) {
	t.Parallel()
	res := Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	for _, tt := range []struct {
		remote, xff, want string
	}{
		{"203.0.113.7:5000", "", "203.0.113.7"},
		{"203.0.113.7:5000", "198.51.100.1", "203.0.113.7"},         // not from a proxy: ignored
		{"10.1.2.3:5000", "198.51.100.1", "198.51.100.1"},           // the proxy's word
		{"10.1.2.3:5000", "6.6.6.6, 198.51.100.1", "198.51.100.1"},  // the client's own header is to the left
		{"10.1.2.3:5000", "198.51.100.1, 10.9.9.9", "198.51.100.1"}, // through two proxies
		{"10.1.2.3:5000", "garbage, 10.9.9.9", "10.9.9.9"},          // a hop nobody vouches for
		{"[::1]:5000", "2001:db8::5", "2001:db8::5"},
		{"[::ffff:203.0.113.9]:1", "", "203.0.113.9"},
	} {
		r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		require.Equal(t, netip.MustParseAddr(tt.want), res.Of(r), "%s via %q", tt.remote, tt.xff)
	}
}

// TestLimiter: a budget per address (IPv6 by /64) per window; a full table
// makes new addresses share one budget.
func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := &Limiter{Limit: 2, Window: time.Minute, MaxAddrs: 3, now: func() time.Time { return now }}
	a, b := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")
	for range 2 {
		ok, _ := l.Allow(a)
		require.True(t, ok)
	}
	ok, wait := l.Allow(a)
	require.False(t, ok)
	require.Positive(t, wait)
	ok, _ = l.Allow(b)
	require.True(t, ok, "another address has its own budget")
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::ffff")
	l.Allow(v6a)
	l.Allow(v6b)
	ok, _ = l.Allow(v6a)
	require.False(t, ok, "one /64, one budget")
	for i := range 4 { // the table is full: new addresses share one budget
		ok, _ = l.Allow(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}))
		require.Equal(t, i < 2, ok, "overflow %d", i)
	}
	now = now.Add(time.Minute)
	ok, _ = l.Allow(a)
	require.True(t, ok, "a new window")
}
