package webhooks

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/netguard"
)

// Resolver looks up a host's addresses (net.DefaultResolver satisfies it).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrForbiddenAddress is returned (wrapped) when an endpoint's host is or
// resolves to an address webhooks may not reach (netguard's refusal).
var ErrForbiddenAddress = netguard.ErrForbiddenAddress

// policy is the destination policy for one environment: loopback only for
// sandbox endpoints, and only when the AllowLoopback setting says so.
func (s *Service) policy(env environment.Environment) netguard.Policy {
	return netguard.Policy{AllowLoopback: env == environment.Sandbox && s.cfg.AllowLoopback}
}

// validateURL checks an endpoint URL for its environment: absolute http(s), no
// credentials or fragment, https unless a sandbox endpoint with AllowLoopback
// targets a loopback host, and every address the host resolves to allowed.
// It returns the detail to show on refusal ("" when valid).
func (s *Service) validateURL(ctx context.Context, raw string, env environment.Environment) string {
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
	if u.Scheme != "https" && !pol.AllowLoopback {
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
		if err := pol.Check(a); err != nil {
			return fmt.Sprintf("url host %q: %s", host, strings.TrimPrefix(err.Error(), ErrForbiddenAddress.Error()+": "))
		}
		if !a.Unmap().IsLoopback() {
			loopbackOnly = false
		}
	}
	if u.Scheme != "https" && !(pol.AllowLoopback && loopbackOnly) {
		return "url must use https"
	}
	return ""
}
