package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// RefusedError is an endpoint address Folio will not connect to: Addr is
// in Class (loopback, private, link-local, multicast, metadata, or
// reserved: anything not a public unicast address), and no allowed range
// holds it.
type RefusedError struct {
	Host  string
	Addr  netip.Addr
	Class string
}

func (e *RefusedError) Error() string {
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("webhook address refused: %s resolves to %s, a %s address", e.Host, e.Addr, e.Class)
	}
	return fmt.Sprintf("webhook address refused: %s is a %s address", e.Addr, e.Class)
}

// metadataAddrs are cloud instance-metadata services: AWS, GCP, Azure,
// OpenStack (169.254.169.254, also link-local), AWS over IPv6, Alibaba,
// Oracle.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"),
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("100.100.100.200"),
	netip.MustParseAddr("192.0.0.192"),
}

// nonPublic are ranges that are neither loopback, private, link-local nor
// multicast by Go's predicates, yet reach no public host: this network,
// shared address space (carrier NAT), IETF protocol assignments,
// documentation, benchmarking, reserved and broadcast, IPv6 discard,
// documentation and ORCHID.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("2001:10::/28"),
	netip.MustParsePrefix("2001:20::/28"),
}

// embedding IPv6 ranges carry an IPv4 address that is what is reached:
// NAT64 (its last 32 bits) and 6to4 (bits 16 to 48).
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	nat64L    = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Classify names the class of an address Folio refuses ("" for a public
// unicast address).
func Classify(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a) || nat64L.Contains(a):
			return Classify(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(a):
			return Classify(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, m := range metadataAddrs {
		if a == m {
			return "metadata"
		}
	}
	switch {
	case !a.IsValid() || a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast(), a.IsLinkLocalMulticast():
		return "multicast"
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return "reserved"
		}
	}
	if !a.IsGlobalUnicast() {
		return "reserved"
	}
	return ""
}

// Guard decides which addresses webhooks may be sent to, and dials only
// those: every address a name resolves to is checked before any
// connection is attempted (DNS may have changed since the endpoint was
// registered, or may answer differently each time), and the socket's own
// address is checked again just before connect(2).
type Guard struct {
	// Allow are ranges let through although not public (FOLIO_WEBHOOK_ALLOW_NETS:
	// folio dev and tests allow 127.0.0.0/8).
	Allow []netip.Prefix
	// Resolve looks a name up; nil: the system's resolver. (Tests give
	// names any addresses without sending a DNS query.)
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Dialed, when set, hears every address just before it is dialled.
	Dialed func(addr netip.AddrPort)
}

// Check returns a *RefusedError for an address not to be connected to.
func (g *Guard) Check(host string, a netip.Addr) error {
	a = a.Unmap()
	for _, p := range g.Allow {
		if p.Contains(a) {
			return nil
		}
	}
	if class := Classify(a); class != "" {
		return &RefusedError{Host: host, Addr: a, Class: class}
	}
	return nil
}

// Addrs resolves host (an IP address is itself) and checks every address
// it has: one refused address refuses the host.
func (g *Guard) Addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		resolve := g.Resolve
		if resolve == nil {
			resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
				return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			}
		}
		if addrs, err = resolve(ctx, host); err != nil {
			return nil, err
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("%s has no address", host)
		}
	}
	for _, a := range addrs {
		if err := g.Check(host, a); err != nil {
			return nil, err
		}
	}
	return addrs, nil
}

// DialContext is an http.Transport's DialContext that connects only to
// addresses Check lets through.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", portText)
	}
	addrs, err := g.Addrs(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
		// The address the socket is about to connect to, once more.
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		return g.Check(host, ap.Addr())
	}}
	var errs []error
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a.Unmap(), uint16(port))
		if g.Dialed != nil {
			g.Dialed(ap)
		}
		conn, err := d.DialContext(ctx, network, ap.String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}
