// Package netguard decides which network destinations the platform's
// outbound HTTP (webhook deliveries, client jwks_uri fetches) may reach, so a
// partner-supplied URL cannot make the bank's servers call into the bank's
// own network (server-side request forgery).
//
// The table is the IANA IPv4 and IPv6 Special-Purpose Address Registries
// (https://www.iana.org/assignments/iana-ipv4-special-registry and
// https://www.iana.org/assignments/iana-ipv6-special-registry): every entry
// whose "Globally Reachable" is False is refused, the few more specific
// entries marked True are allowed, and the entries marked N/A (6to4, Teredo,
// the deprecated 6to4 relay anycast and ORCHID blocks) have their own rule.
// Multicast, the deprecated IPv6 site-local and IPv4-compatible blocks and
// IPv6 space outside the global unicast block 2000::/3 are refused too.
//
// IPv6 forms that carry an IPv4 address a packet can end up at:
//
//   - IPv4-mapped ::ffff:0:0/96 (RFC 4291): a dual-stack socket dials the
//     IPv4 address itself, so the embedded IPv4 address is checked as if it
//     had been given.
//   - NAT64 well-known prefix 64:ff9b::/96 (RFC 6052) and 6to4 2002::/16
//     (RFC 3056): a translator or relay forwards to the embedded IPv4
//     address, so the address is allowed only when the embedded IPv4 address
//     is allowed (64:ff9b::a9fe:a9fe and 2002:a9fe:a9fe:: reach
//     169.254.169.254).
//   - Refused outright, whatever they embed: the local-use NAT64 prefix
//     64:ff9b:1::/48 (RFC 8215; a network-specific translator of ours may sit
//     behind it), Teredo 2001::/32 (RFC 4380; the client address is
//     obfuscated and reached through a relay), and the deprecated
//     IPv4-compatible ::/96 (RFC 4291 §2.5.5.1, ::7f00:1 is 127.0.0.1 on
//     stacks that still honour it). No partner needs these to receive a
//     webhook; the safe rule is the simple one.
//
// Addresses with an IPv6 zone (fe80::1%eth0) are refused: a zone names a
// link of this host.
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
// globally reachable unicast addresses.
type Policy struct {
	// AllowLoopback admits 127.0.0.0/8 and ::1 (and ::ffff:127.0.0.0/104),
	// for sandbox endpoints in development and tests; never in production.
	AllowLoopback bool
}

// rule is what the table says about the addresses of one entry.
type rule int

const (
	refuse    rule = iota // not globally reachable
	allow                 // globally reachable (a True entry inside a False one)
	loopback              // refused unless Policy.AllowLoopback
	embedded4             // reachable iff the embedded IPv4 address is
)

// entry is one row of the table.
type entry struct {
	prefix netip.Prefix
	// what completes "<address> is …" in a refusal.
	what string
	rule rule
	// v4at is where the embedded IPv4 address starts (byte offset), for embedded4.
	v4at int
}

func e(prefix, what string, r rule) entry {
	return entry{prefix: netip.MustParsePrefix(prefix), what: what, rule: r}
}

func in(prefix, name string, r rule) entry {
	return e(prefix, "in "+prefix+" ("+name+")", r)
}

// table is the IANA IPv4 and IPv6 Special-Purpose Address Registries (as of
// 2025), plus the blocks below them marked as such. The most specific entry
// containing an address decides; an address in no entry is allowed if it is
// IPv4 or in 2000::/3.
var table = []entry{
	// --- IANA IPv4 Special-Purpose Address Registry ---
	in("0.0.0.0/8", `"this network", RFC 791 §3.2`, refuse),
	e("0.0.0.0/32", "an unspecified address", refuse), // "this host on this network", RFC 1122 §3.2.1.3
	e("10.0.0.0/8", "a private address", refuse),      // private-use, RFC 1918
	in("100.64.0.0/10", "shared address space, RFC 6598", refuse),
	e("127.0.0.0/8", "a loopback address", loopback),    // RFC 1122 §3.2.1.3
	e("169.254.0.0/16", "a link-local address", refuse), // RFC 3927 (cloud metadata services live here)
	e("172.16.0.0/12", "a private address", refuse),     // private-use, RFC 1918
	in("192.0.0.0/24", "IETF protocol assignments, RFC 6890 §2.1", refuse),
	in("192.0.0.0/29", "IPv4 service continuity prefix, RFC 7335", refuse),
	in("192.0.0.8/32", "IPv4 dummy address, RFC 7600", refuse),
	in("192.0.0.9/32", "port control protocol anycast, RFC 7723", allow),
	in("192.0.0.10/32", "traversal using relays around NAT anycast, RFC 8155", allow),
	in("192.0.0.170/32", "NAT64/DNS64 discovery, RFC 8880, RFC 7050 §2.2", refuse),
	in("192.0.0.171/32", "NAT64/DNS64 discovery, RFC 8880, RFC 7050 §2.2", refuse),
	in("192.0.2.0/24", "documentation TEST-NET-1, RFC 5737", refuse),
	in("192.31.196.0/24", "AS112-v4, RFC 7535", allow),
	in("192.52.193.0/24", "AMT, RFC 7450", allow),
	// Globally Reachable N/A (deprecated 6to4 relay anycast): nothing a
	// partner may use; refused.
	in("192.88.99.0/24", "deprecated 6to4 relay anycast, RFC 7526", refuse),
	in("192.88.99.2/32", "6a44 relay anycast, RFC 6751", refuse),
	e("192.168.0.0/16", "a private address", refuse), // private-use, RFC 1918
	in("192.175.48.0/24", "direct delegation AS112 service, RFC 7534", allow),
	in("198.18.0.0/15", "benchmarking, RFC 2544", refuse),
	in("198.51.100.0/24", "documentation TEST-NET-2, RFC 5737", refuse),
	in("203.0.113.0/24", "documentation TEST-NET-3, RFC 5737", refuse),
	in("240.0.0.0/4", "reserved, RFC 1112 §4", refuse),
	in("255.255.255.255/32", "limited broadcast, RFC 8190, RFC 919 §7", refuse),
	// Not in the special-purpose registry: multicast (RFC 5771).
	e("224.0.0.0/4", "a multicast address", refuse),

	// --- IANA IPv6 Special-Purpose Address Registry ---
	e("::1/128", "a loopback address", loopback),  // RFC 4291
	e("::/128", "an unspecified address", refuse), // RFC 4291
	// ::ffff:0:0/96 IPv4-mapped (RFC 4291) is unmapped before the lookup:
	// the embedded IPv4 address decides.
	{prefix: netip.MustParsePrefix("64:ff9b::/96"), what: "a NAT64 address (64:ff9b::/96, RFC 6052)", rule: embedded4, v4at: 12},
	in("64:ff9b:1::/48", "local-use IPv4/IPv6 translation, RFC 8215", refuse),
	in("100::/64", "discard-only, RFC 6666", refuse),
	in("100:0:0:1::/64", "dummy IPv6 prefix, RFC 9780", refuse),
	in("2001::/23", "IETF protocol assignments, RFC 2928", refuse),
	in("2001::/32", "Teredo, RFC 4380, RFC 8190", refuse),
	in("2001:1::1/128", "port control protocol anycast, RFC 7723", allow),
	in("2001:1::2/128", "traversal using relays around NAT anycast, RFC 8155", allow),
	in("2001:1::3/128", "DNS-SD service registration protocol anycast, RFC 9665", allow),
	in("2001:2::/48", "benchmarking, RFC 5180", refuse),
	in("2001:3::/32", "AMT, RFC 7450", allow),
	in("2001:4:112::/48", "AS112-v6, RFC 7535", allow),
	in("2001:10::/28", "deprecated ORCHID, RFC 4843", refuse),
	in("2001:20::/28", "ORCHIDv2, RFC 7343", allow),
	in("2001:30::/28", "drone remote ID entity tags, RFC 9374", allow),
	in("2001:db8::/32", "documentation, RFC 3849", refuse),
	{prefix: netip.MustParsePrefix("2002::/16"), what: "a 6to4 address (2002::/16, RFC 3056)", rule: embedded4, v4at: 2},
	in("2620:4f:8000::/48", "direct delegation AS112 service, RFC 7534", allow),
	in("3fff::/20", "documentation, RFC 9637", refuse),
	in("5f00::/16", "segment routing SIDs, RFC 9602", refuse),
	e("fc00::/7", "a private address", refuse),     // unique-local, RFC 4193, RFC 8190
	e("fe80::/10", "a link-local address", refuse), // link-local unicast, RFC 4291
	// Not in the special-purpose registry: deprecated forms and multicast.
	in("::/96", "deprecated IPv4-compatible address, RFC 4291 §2.5.5.1", refuse),
	in("fec0::/10", "deprecated site-local address, RFC 3879", refuse),
	e("ff00::/8", "a multicast address", refuse), // RFC 4291 §2.7
}

// globalUnicast6 is the IPv6 global unicast space (RFC 4291 §2.4, IANA IPv6
// Address Space); addresses outside it and the table are refused.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// lookup returns the most specific table entry containing a.
func lookup(a netip.Addr) (entry, bool) {
	var best entry
	found := false
	for _, en := range table {
		if en.prefix.Contains(a) && (!found || en.prefix.Bits() > best.prefix.Bits()) {
			best, found = en, true
		}
	}
	return best, found
}

// Check reports whether a may be dialled: nil, or an error wrapping
// ErrForbiddenAddress that says which registry entry refused it.
func (p Policy) Check(a netip.Addr) error {
	if !a.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrForbiddenAddress)
	}
	if a.Zone() != "" {
		return fmt.Errorf("%w: %s has an IPv6 zone (a link of this host)", ErrForbiddenAddress, a)
	}
	return p.check(a.Unmap())
}

func (p Policy) check(a netip.Addr) error {
	en, ok := lookup(a)
	if !ok {
		if a.Is6() && !globalUnicast6.Contains(a) {
			return fmt.Errorf("%w: %s is not in the IPv6 global unicast space 2000::/3", ErrForbiddenAddress, a)
		}
		return nil
	}
	switch en.rule {
	case allow:
		return nil
	case loopback:
		if p.AllowLoopback {
			return nil
		}
	case embedded4:
		// The translator or relay forwards to the embedded IPv4 address:
		// allowed only when that address is globally reachable (the
		// loopback allowance is for 127.0.0.0/8 and ::1 themselves).
		b := a.As16()
		v4 := netip.AddrFrom4([4]byte(b[en.v4at : en.v4at+4]))
		e4, ok := lookup(v4)
		if !ok || e4.rule == allow {
			return nil
		}
		return fmt.Errorf("%w: %s is %s embedding %s, %s", ErrForbiddenAddress, a, en.what, v4, e4.what)
	}
	return fmt.Errorf("%w: %s is %s", ErrForbiddenAddress, a, en.what)
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
