// Package netguard decides which network destinations the platform's
// outbound HTTP (webhook deliveries, client jwks_uri fetches) may reach, so a
// partner-supplied URL cannot make the bank's servers call into the bank's
// own network (server-side request forgery).
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrForbiddenAddress is returned (wrapped) when a destination is or resolves
// to an address the platform may not reach.
var ErrForbiddenAddress = errors.New("forbidden destination address")

// Policy says which destinations are allowed. The zero Policy allows only
// global unicast addresses.
type Policy struct {
	// AllowLoopback admits 127.0.0.0/8 and ::1, for sandbox endpoints in
	// development and tests; never in production.
	AllowLoopback bool
}

// Check refuses loopback (unless allowed), private, link-local, multicast,
// unspecified and other non-global addresses, and the special-purpose
// ranges netip does not classify.
func (p Policy) Check(a netip.Addr) error {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		if p.AllowLoopback {
			return nil
		}
		return fmt.Errorf("%w: %s is a loopback address", ErrForbiddenAddress, a)
	case a.IsUnspecified():
		return fmt.Errorf("%w: %s is an unspecified address", ErrForbiddenAddress, a)
	case a.IsPrivate():
		return fmt.Errorf("%w: %s is a private address", ErrForbiddenAddress, a)
	case a.IsMulticast():
		return fmt.Errorf("%w: %s is a multicast address", ErrForbiddenAddress, a)
	case a.IsLinkLocalUnicast():
		return fmt.Errorf("%w: %s is a link-local address", ErrForbiddenAddress, a)
	case !a.IsGlobalUnicast():
		return fmt.Errorf("%w: %s is not a global unicast address", ErrForbiddenAddress, a)
	}
	for _, pfx := range extraForbidden {
		if pfx.Contains(a) {
			return fmt.Errorf("%w: %s is in %s", ErrForbiddenAddress, a, pfx)
		}
	}
	return nil
}

// extraForbidden are special-purpose ranges netip does not classify.
var extraForbidden = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved
	netip.MustParsePrefix("64:ff9b::/96"),  // NAT64 (could reach an IPv4 private address)
	netip.MustParsePrefix("2001:db8::/32"), // documentation
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("255.255.255.255/32"),
}

// Control is a net.Dialer Control function: it runs after DNS resolution, on
// the address actually dialled, so a name re-bound to a forbidden address
// between validation and connection (DNS rebinding), or a redirect to one,
// is still refused.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	return p.Check(a)
}
