package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// Resolver looks up a host's addresses (net.DefaultResolver satisfies it).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrForbiddenAddress is returned (wrapped) when an endpoint's host is or
// resolves to an address webhooks may not reach.
var ErrForbiddenAddress = errors.New("webhooks: forbidden destination address")

// addressPolicy says which destinations are allowed for one environment.
type addressPolicy struct {
	allowLoopback bool // sandbox with AllowLoopback only
}

// check refuses loopback (unless allowed), private, link-local, multicast,
// unspecified and other non-global addresses.
func (p addressPolicy) check(a netip.Addr) error {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		if p.allowLoopback {
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

// control is the net.Dialer Control function: it runs after DNS resolution,
// on the address actually dialled, so a name re-bound to a forbidden address
// between validation and delivery is still refused.
func (p addressPolicy) control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	return p.check(a)
}

func (s *Service) policy(env string) addressPolicy {
	return addressPolicy{allowLoopback: env == EnvSandbox && s.cfg.AllowLoopback}
}

// validateURL checks an endpoint URL for its environment: absolute http(s), no
// credentials or fragment, https unless a sandbox endpoint with AllowLoopback
// targets a loopback host, and every address the host resolves to allowed.
// It returns the detail to show on refusal ("" when valid).
func (s *Service) validateURL(ctx context.Context, raw, env string) string {
	if len(raw) > 2048 {
		return "url must be at most 2048 characters"
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "url must be an absolute http(s) URL"
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "url must be an absolute http(s) URL"
	}
	if u.User != nil {
		return "url must not contain credentials"
	}
	if u.Fragment != "" {
		return "url must not contain a fragment"
	}
	host := u.Hostname()
	if host == "" {
		return "url must be an absolute http(s) URL"
	}
	pol := s.policy(env)
	if u.Scheme != "https" && !pol.allowLoopback {
		return "url must use https"
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		rctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
		defer cancel()
		addrs, err = s.cfg.Resolver.LookupNetIP(rctx, "ip", host)
		if err != nil || len(addrs) == 0 {
			return fmt.Sprintf("url host %q does not resolve", host)
		}
	}
	loopbackOnly := true
	for _, a := range addrs {
		if err := pol.check(a); err != nil {
			return fmt.Sprintf("url host %q: %s", host, strings.TrimPrefix(err.Error(), ErrForbiddenAddress.Error()+": "))
		}
		if !a.Unmap().IsLoopback() {
			loopbackOnly = false
		}
	}
	if u.Scheme != "https" && !(pol.allowLoopback && loopbackOnly) {
		return "url must use https"
	}
	return ""
}
