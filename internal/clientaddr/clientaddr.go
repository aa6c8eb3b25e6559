// Package clientaddr tells who sent a request before anyone authenticated
// it: the client's address (believing X-Forwarded-For only from the
// trusted proxies, FOLIO_TRUSTED_PROXIES), and a per-address limiter kept
// in memory, so that refusing a flood costs a map lookup, never a database
// write or a signature check.
package clientaddr

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Resolver finds a request's client address.
type Resolver struct {
	// Trusted are the proxies whose X-Forwarded-For is believed: the
	// client is the rightmost address in it that is not one of them.
	Trusted []netip.Prefix
}

// Of returns the client address of r (the zero Addr when it has none).
func (res Resolver) Of(r *http.Request) netip.Addr {
	peer := parse(r.RemoteAddr)
	if !res.trusted(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		fields := strings.Split(hops[i], ",")
		for j := len(fields) - 1; j >= 0; j-- {
			a := parse(strings.TrimSpace(fields[j]))
			if !a.IsValid() {
				return peer // a hop nobody can vouch for: stop at the last known one
			}
			if !res.trusted(a) {
				return a
			}
			peer = a
		}
	}
	return peer
}

func (res Resolver) trusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range res.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parse reads "host:port" or a bare address.
func parse(s string) netip.Addr {
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// Limiter allows each client address Limit events per Window (fixed
// windows). IPv6 addresses count by their /64, what one host usually
// holds. It keeps at most MaxAddrs addresses per window; beyond, new
// addresses share one budget (a flood from many addresses is refused
// together, and memory stays bounded).
type Limiter struct {
	Limit    int
	Window   time.Duration
	MaxAddrs int
	now      func() time.Time

	mu       sync.Mutex
	start    time.Time
	counts   map[netip.Prefix]int
	overflow int
}

// NewLimiter returns a limiter of limit events per window per address.
func NewLimiter(limit int, window time.Duration) *Limiter {
	return &Limiter{Limit: limit, Window: window, MaxAddrs: 1 << 16, now: time.Now}
}

func key(a netip.Addr) netip.Prefix {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, 32)
}

// Over reports whether a has used its budget in this window, and how long
// until the next; it counts nothing.
func (l *Limiter) Over(a netip.Addr) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll()
	n, ok := l.counts[key(a)]
	if !ok && len(l.counts) >= l.maxAddrs() {
		n = l.overflow
	}
	if n < l.Limit {
		return false, 0
	}
	return true, l.start.Add(l.Window).Sub(l.now())
}

// Count counts one event of a.
func (l *Limiter) Count(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll()
	k := key(a)
	if _, ok := l.counts[k]; !ok && len(l.counts) >= l.maxAddrs() {
		l.overflow++
		return
	}
	l.counts[k]++
}

// Allow counts one event of a and reports whether it was within budget,
// and if not how long until the next window.
func (l *Limiter) Allow(a netip.Addr) (bool, time.Duration) {
	if over, wait := l.Over(a); over {
		return false, wait
	}
	l.Count(a)
	return true, 0
}

func (l *Limiter) maxAddrs() int {
	if l.MaxAddrs > 0 {
		return l.MaxAddrs
	}
	return 1 << 16
}

func (l *Limiter) roll() {
	if l.now == nil {
		l.now = time.Now
	}
	now := l.now()
	if l.counts == nil || now.Sub(l.start) >= l.Window {
		l.start = now.Truncate(l.Window)
		l.counts = map[netip.Prefix]int{}
		l.overflow = 0
	}
}
