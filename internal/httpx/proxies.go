package httpx

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies is the set of reverse proxies (load balancers, TLS
// terminators) whose X-Forwarded-For header is believed. Empty: no proxy is
// trusted and the TCP peer is the client.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes or single
// addresses ("10.0.0.0/8, 192.0.2.7"). An empty string is an empty list.
func ParseTrustedProxies(s string) (TrustedProxies, error) {
	var out TrustedProxies
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is not an address or CIDR prefix", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not an address or CIDR prefix", f)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (t TrustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddressHandler rewrites each request's RemoteAddr to the client's
// address before next sees it, so that every consumer of RemoteAddr (sign-in
// throttling, the loopback-only development pages) sees the client rather
// than the proxy. When the TCP peer is a trusted proxy, the client is the
// right-most X-Forwarded-For entry that is not itself a trusted proxy
// (entries left of it were written by the client and are not believed); the
// header is otherwise ignored. With no trusted proxies next is returned as is.
func (t TrustedProxies) ClientAddressHandler(next http.Handler) http.Handler {
	if len(t) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if client, ok := t.clientOf(r); ok {
			r2 := r.Clone(r.Context())
			r2.RemoteAddr = net.JoinHostPort(client.String(), "0")
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// clientOf returns the forwarded client address when the peer is trusted.
func (t TrustedProxies) clientOf(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !t.trusts(peer) {
		return netip.Addr{}, false
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return netip.Addr{}, false // a malformed hop: keep the peer, believe nothing
		}
		if !t.trusts(a) {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}
