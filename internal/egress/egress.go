// Package egress decides where connections whose end a tenant chooses may
// go: its scenarios' Net.httpRequest calls and the audio URLs they play, its
// portal's webhooks.
//
// Scenario code and portal URLs are a tenant's, and the server connects from
// inside the operator's network. Without a rule, any tenant could make Vox
// fetch (or post to) what only the server can reach: the cloud's metadata service at 169.254.169.254 (and the
// credentials it hands out), databases and admin pages on the private network,
// other services on the host's loopback. So a connection to an address that is
// not public unicast is refused unless the operator allows its range, or it
// is one of Vox's own listeners, which the bundled scenarios call back (their
// access URL). The check is made on the address being dialled, after DNS,
// so a name that resolves to a private address is refused as well, and each
// redirect is checked again.
package egress

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"syscall"
	"time"
)

// ErrForbidden is a connection the policy refuses.
var ErrForbidden = errors.New("closed to tenants")

// Policy is what tenants' connections may reach besides public addresses.
type Policy struct {
	// Allow are ranges reachable even though they are not public: a
	// tenant's CRM on the office network of an on-premises Vox.
	Allow []netip.Prefix
	// Own are Vox's own listeners, always reachable.
	Own []netip.AddrPort
}

// special are the ranges that are not public unicast and have no predicate
// in netip: shared address space (RFC 6598), IETF protocol assignments,
// benchmarking, and "this network" (RFC 6890); and the IPv6 ranges that
// lead to an IPv4 address whose place in them a network chooses (local-use
// NAT64, RFC 8215; Teredo, RFC 4380) or that are not routed (IPv4-
// compatible, discard-only).
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("100::/64"),
}

// nat64 and sixTo4 are the IPv6 prefixes that carry an IPv4 address a host with
// NAT64 or 6to4 reaches through them: the well-known NAT64 prefix (RFC
// 6052), its IPv4 address in the last 32 bits, and 6to4 (RFC 3056), in the
// 32 after the prefix. 64:ff9b::a9fe:a9fe is 169.254.169.254.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// embeddedIPv4 is the IPv4 address ip leads to through NAT64 or 6to4.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case !ip.Is6():
		return netip.Addr{}, false
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixTo4.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// Check says why addr may not be reached, or nil.
func (p Policy) Check(addr netip.AddrPort) error {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if slices.Contains(p.Own, addr) {
		return nil
	}
	ip := addr.Addr()
	for _, a := range p.Allow {
		if a.Contains(ip) {
			return nil
		}
	}
	if v4, ok := embeddedIPv4(ip); ok {
		if err := p.Check(netip.AddrPortFrom(v4, addr.Port())); err != nil {
			return fmt.Errorf("%s leads to %w", ip, err)
		}
		return nil
	}
	kind := ""
	switch {
	case ip.IsLoopback():
		kind = "a loopback address"
	case ip.IsPrivate():
		kind = "a private address"
	case ip.IsLinkLocalUnicast():
		kind = "a link-local address (cloud metadata services live there)"
	case ip.IsUnspecified(), ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		kind = "not a unicast address"
	case slices.ContainsFunc(special, func(s netip.Prefix) bool { return s.Contains(ip) }):
		kind = "a special-purpose address"
	default:
		return nil
	}
	return fmt.Errorf("%s is %s, %w (vox serve --tenant-net-allow lets a range through)", ip, kind, ErrForbidden)
}

// Control is a net.Dialer's: it refuses the connection before it is made.
func (p Policy) Control(_, address string, _ syscall.RawConn) error {
	addr, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: %q: %w", address, err)
	}
	return p.Check(addr)
}

// maxRedirects is how many redirects a request follows.
const maxRedirects = 5

// Client is an HTTP client whose connections the policy checks. It takes no
// proxy from the environment, which would make the proxy, unchecked, fetch
// what the policy refuses.
func (p Policy) Client() *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.Control}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
}
