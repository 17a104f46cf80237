package netguard

import (
	"errors"
	"net/netip"
	"testing"
)

// registryCases has, for every entry of the IANA IPv4 and IPv6
// Special-Purpose Address Registries (and the other rows of the table), an
// address it refuses and, where meaningful, a neighbour it allows.
var registryCases = []struct {
	name string
	addr string
	want string // "" = allowed, else the refusal after "forbidden destination address: "
}{
	// IPv4 registry.
	{"fail/v4 this network 0/8", "0.1.2.3", `0.1.2.3 is in 0.0.0.0/8 ("this network", RFC 791 §3.2)`},
	{"fail/v4 this host 0.0.0.0/32", "0.0.0.0", "0.0.0.0 is an unspecified address"},
	{"ok/v4 after 0/8", "1.0.0.1", ""},
	{"fail/v4 private 10/8", "10.200.3.4", "10.200.3.4 is a private address"},
	{"ok/v4 after 10/8", "11.0.0.1", ""},
	{"ok/v4 before 10/8", "9.255.255.255", ""},
	{"fail/v4 shared 100.64/10", "100.127.255.254", "100.127.255.254 is in 100.64.0.0/10 (shared address space, RFC 6598)"},
	{"ok/v4 after 100.64/10", "100.128.0.1", ""},
	{"fail/v4 loopback 127/8", "127.0.0.1", "127.0.0.1 is a loopback address"},
	{"fail/v4 loopback 127.255.255.254", "127.255.255.254", "127.255.255.254 is a loopback address"},
	{"ok/v4 after 127/8", "128.0.0.1", ""},
	{"fail/v4 link-local metadata", "169.254.169.254", "169.254.169.254 is a link-local address"},
	{"ok/v4 after 169.254/16", "169.255.0.1", ""},
	{"fail/v4 private 172.16/12", "172.31.255.1", "172.31.255.1 is a private address"},
	{"ok/v4 after 172.16/12", "172.32.0.1", ""},
	{"fail/v4 IETF protocol assignments", "192.0.0.100", "192.0.0.100 is in 192.0.0.0/24 (IETF protocol assignments, RFC 6890 §2.1)"},
	{"fail/v4 service continuity", "192.0.0.1", "192.0.0.1 is in 192.0.0.0/29 (IPv4 service continuity prefix, RFC 7335)"},
	{"fail/v4 dummy", "192.0.0.8", "192.0.0.8 is in 192.0.0.8/32 (IPv4 dummy address, RFC 7600)"},
	{"ok/v4 PCP anycast", "192.0.0.9", ""},
	{"ok/v4 TURN anycast", "192.0.0.10", ""},
	{"fail/v4 NAT64 discovery 170", "192.0.0.170", "192.0.0.170 is in 192.0.0.170/32 (NAT64/DNS64 discovery, RFC 8880, RFC 7050 §2.2)"},
	{"fail/v4 NAT64 discovery 171", "192.0.0.171", "192.0.0.171 is in 192.0.0.171/32 (NAT64/DNS64 discovery, RFC 8880, RFC 7050 §2.2)"},
	{"ok/v4 after 192.0.0/24", "192.0.1.1", ""},
	{"fail/v4 TEST-NET-1", "192.0.2.10", "192.0.2.10 is in 192.0.2.0/24 (documentation TEST-NET-1, RFC 5737)"},
	{"ok/v4 AS112", "192.31.196.1", ""},
	{"ok/v4 AMT", "192.52.193.1", ""},
	{"fail/v4 6to4 relay anycast", "192.88.99.1", "192.88.99.1 is in 192.88.99.0/24 (deprecated 6to4 relay anycast, RFC 7526)"},
	{"fail/v4 6a44 relay anycast", "192.88.99.2", "192.88.99.2 is in 192.88.99.2/32 (6a44 relay anycast, RFC 6751)"},
	{"ok/v4 after 192.88.99/24", "192.88.100.1", ""},
	{"fail/v4 private 192.168/16", "192.168.1.1", "192.168.1.1 is a private address"},
	{"ok/v4 after 192.168/16", "192.169.0.1", ""},
	{"ok/v4 AS112 direct delegation", "192.175.48.1", ""},
	{"fail/v4 benchmarking", "198.19.255.1", "198.19.255.1 is in 198.18.0.0/15 (benchmarking, RFC 2544)"},
	{"ok/v4 after 198.18/15", "198.20.0.1", ""},
	{"fail/v4 TEST-NET-2", "198.51.100.7", "198.51.100.7 is in 198.51.100.0/24 (documentation TEST-NET-2, RFC 5737)"},
	{"fail/v4 TEST-NET-3", "203.0.113.7", "203.0.113.7 is in 203.0.113.0/24 (documentation TEST-NET-3, RFC 5737)"},
	{"ok/v4 after TEST-NET-3", "203.0.114.1", ""},
	{"fail/v4 multicast", "239.1.1.1", "239.1.1.1 is a multicast address"},
	{"ok/v4 before multicast", "223.255.255.254", ""},
	{"fail/v4 reserved", "250.1.2.3", "250.1.2.3 is in 240.0.0.0/4 (reserved, RFC 1112 §4)"},
	{"fail/v4 limited broadcast", "255.255.255.255", "255.255.255.255 is in 255.255.255.255/32 (limited broadcast, RFC 8190, RFC 919 §7)"},
	{"ok/v4 public", "93.184.216.34", ""},

	// IPv6 registry.
	{"fail/v6 loopback", "::1", "::1 is a loopback address"},
	{"fail/v6 unspecified", "::", ":: is an unspecified address"},
	{"fail/v6 IPv4-mapped loopback", "::ffff:127.0.0.1", "127.0.0.1 is a loopback address"},
	{"fail/v6 IPv4-mapped metadata", "::ffff:a9fe:a9fe", "169.254.169.254 is a link-local address"},
	{"ok/v6 IPv4-mapped public", "::ffff:93.184.216.34", ""},
	{"fail/v6 NAT64 to loopback", "64:ff9b::7f00:1", "64:ff9b::7f00:1 is a NAT64 address (64:ff9b::/96, RFC 6052) embedding 127.0.0.1, a loopback address"},
	{"fail/v6 NAT64 to metadata", "64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe is a NAT64 address (64:ff9b::/96, RFC 6052) embedding 169.254.169.254, a link-local address"},
	{"fail/v6 NAT64 to private", "64:ff9b::10.0.0.1", "64:ff9b::a00:1 is a NAT64 address (64:ff9b::/96, RFC 6052) embedding 10.0.0.1, a private address"},
	{"ok/v6 NAT64 to public", "64:ff9b::93.184.216.34", ""},
	{"ok/v6 NAT64 to PCP anycast", "64:ff9b::192.0.0.9", ""},
	{"fail/v6 NAT64 local-use", "64:ff9b:1::5db8:d822", "64:ff9b:1::5db8:d822 is in 64:ff9b:1::/48 (local-use IPv4/IPv6 translation, RFC 8215)"},
	{"fail/v6 discard-only", "100::1", "100::1 is in 100::/64 (discard-only, RFC 6666)"},
	{"fail/v6 dummy prefix", "100:0:0:1::1", "100:0:0:1::1 is in 100:0:0:1::/64 (dummy IPv6 prefix, RFC 9780)"},
	{"fail/v6 IETF protocol assignments", "2001:1::4", "2001:1::4 is in 2001::/23 (IETF protocol assignments, RFC 2928)"},
	{"fail/v6 Teredo", "2001::1", "2001::1 is in 2001::/32 (Teredo, RFC 4380, RFC 8190)"},
	{"fail/v6 Teredo embedding public", "2001:0:5db8:d822::a247:27dd", "2001:0:5db8:d822::a247:27dd is in 2001::/32 (Teredo, RFC 4380, RFC 8190)"},
	{"ok/v6 PCP anycast", "2001:1::1", ""},
	{"ok/v6 TURN anycast", "2001:1::2", ""},
	{"ok/v6 DNS-SD SRP anycast", "2001:1::3", ""},
	{"fail/v6 benchmarking", "2001:2::1", "2001:2::1 is in 2001:2::/48 (benchmarking, RFC 5180)"},
	{"ok/v6 AMT", "2001:3::1", ""},
	{"ok/v6 AS112", "2001:4:112::1", ""},
	{"fail/v6 deprecated ORCHID", "2001:10::1", "2001:10::1 is in 2001:10::/28 (deprecated ORCHID, RFC 4843)"},
	{"ok/v6 ORCHIDv2", "2001:20::1", ""},
	{"ok/v6 drone remote ID", "2001:30::1", ""},
	{"ok/v6 after 2001::/23", "2001:200::1", ""},
	{"fail/v6 documentation", "2001:db8::1", "2001:db8::1 is in 2001:db8::/32 (documentation, RFC 3849)"},
	{"fail/v6 6to4 to metadata", "2002:a9fe:a9fe::", "2002:a9fe:a9fe:: is a 6to4 address (2002::/16, RFC 3056) embedding 169.254.169.254, a link-local address"},
	{"fail/v6 6to4 to loopback", "2002:7f00:1::1", "2002:7f00:1::1 is a 6to4 address (2002::/16, RFC 3056) embedding 127.0.0.1, a loopback address"},
	{"fail/v6 6to4 to private", "2002:c0a8:101::1", "2002:c0a8:101::1 is a 6to4 address (2002::/16, RFC 3056) embedding 192.168.1.1, a private address"},
	{"ok/v6 6to4 to public", "2002:5db8:d822::1", ""},
	{"ok/v6 AS112 direct delegation", "2620:4f:8000::1", ""},
	{"fail/v6 documentation 3fff", "3fff:fff::1", "3fff:fff::1 is in 3fff::/20 (documentation, RFC 9637)"},
	{"ok/v6 after 3fff::/20", "3fff:1000::1", ""},
	{"fail/v6 SRv6 SIDs", "5f00::1", "5f00::1 is in 5f00::/16 (segment routing SIDs, RFC 9602)"},
	{"fail/v6 unique-local", "fd00::1", "fd00::1 is a private address"},
	{"fail/v6 link-local", "fe80::1", "fe80::1 is a link-local address"},
	{"fail/v6 IPv4-compatible loopback", "::7f00:1", "::7f00:1 is in ::/96 (deprecated IPv4-compatible address, RFC 4291 §2.5.5.1)"},
	{"fail/v6 IPv4-compatible public", "::5db8:d822", "::5db8:d822 is in ::/96 (deprecated IPv4-compatible address, RFC 4291 §2.5.5.1)"},
	{"fail/v6 site-local", "fec0::1", "fec0::1 is in fec0::/10 (deprecated site-local address, RFC 3879)"},
	{"fail/v6 multicast", "ff02::1", "ff02::1 is a multicast address"},
	{"fail/v6 outside 2000::/3", "4000::1", "4000::1 is not in the IPv6 global unicast space 2000::/3"},
	{"fail/v6 SIIT translated", "::ffff:0:7f00:1", "::ffff:0:7f00:1 is not in the IPv6 global unicast space 2000::/3"},
	{"ok/v6 public", "2606:2800:220:1:248:1893:25c8:1946", ""},
	{"fail/v6 zone", "2606:2800:220:1:248:1893:25c8:1946%eth0", "2606:2800:220:1:248:1893:25c8:1946%eth0 has an IPv6 zone (a link of this host)"},
}

// TestRegistryTable: every entry of the special-purpose registries refuses
// (or, for globally reachable ones, allows) its addresses with the exact
// reason, and every table row is exercised.
func TestRegistryTable(t *testing.T) {
	var strict Policy
	hit := map[netip.Prefix]bool{}
	for _, tc := range registryCases {
		t.Run(tc.name, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			if en, ok := lookup(a.Unmap()); ok {
				hit[en.prefix] = true
			}
			err := strict.Check(a)
			got := ""
			if err != nil {
				if !errors.Is(err, ErrForbiddenAddress) {
					t.Fatalf("error %v does not wrap ErrForbiddenAddress", err)
				}
				got = err.Error()
			}
			want := ""
			if tc.want != "" {
				want = "forbidden destination address: " + tc.want
			}
			if got != want {
				t.Fatalf("Check(%s) = %q, want %q", tc.addr, got, want)
			}
			// Control, on the dialled address, says the same.
			if err := strict.Control("tcp", netip.AddrPortFrom(a, 443).String(), nil); (err == nil) != (tc.want == "") {
				t.Fatalf("Control(%s) = %v", tc.addr, err)
			}
		})
	}
	for _, en := range table {
		if !hit[en.prefix] {
			t.Errorf("table entry %s (%s) has no test case", en.prefix, en.what)
		}
	}
}

// TestAllowLoopback: the allowance admits 127.0.0.0/8, ::1 and their mapped
// form only, never loopback reached through a translation prefix.
func TestAllowLoopback(t *testing.T) {
	loose := Policy{AllowLoopback: true}
	cases := []struct{ name, addr, want string }{
		{"ok/127.0.0.1", "127.0.0.1", ""},
		{"ok/::1", "::1", ""},
		{"ok/mapped", "::ffff:127.0.0.1", ""},
		{"fail/NAT64", "64:ff9b::7f00:1", "forbidden destination address: 64:ff9b::7f00:1 is a NAT64 address (64:ff9b::/96, RFC 6052) embedding 127.0.0.1, a loopback address"},
		{"fail/6to4", "2002:7f00:1::", "forbidden destination address: 2002:7f00:1:: is a 6to4 address (2002::/16, RFC 3056) embedding 127.0.0.1, a loopback address"},
		{"fail/IPv4-compatible", "::7f00:1", "forbidden destination address: ::7f00:1 is in ::/96 (deprecated IPv4-compatible address, RFC 4291 §2.5.5.1)"},
		{"fail/private", "10.0.0.1", "forbidden destination address: 10.0.0.1 is a private address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := loose.Check(netip.MustParseAddr(tc.addr)); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestControlMalformed: Control refuses what is not host:port of an IP.
func TestControlMalformed(t *testing.T) {
	for _, addr := range []string{"", "127.0.0.1", "example.com:443", "[::1:443"} {
		if err := (Policy{AllowLoopback: true}).Control("tcp", addr, nil); !errors.Is(err, ErrForbiddenAddress) {
			t.Fatalf("fail/%q: got %v", addr, err)
		}
	}
}

// stdRefused is an independent oracle built on net/netip's classification:
// what Check must never allow.
func stdRefused(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() || a.IsInterfaceLocalMulticast() || !a.IsGlobalUnicast()
}

// FuzzCheck: for any 4- or 16-byte address, Check never panics, never allows
// what net/netip classifies as non-global, agrees on an IPv4 address and its
// IPv4-mapped form, and never allows a NAT64, 6to4 or IPv4-compatible
// address whose embedded IPv4 address it refuses.
func FuzzCheck(f *testing.F) {
	for _, tc := range registryCases {
		a := netip.MustParseAddr(tc.addr)
		if a.Zone() == "" {
			f.Add(a.AsSlice())
		}
	}
	var strict Policy
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		err := strict.Check(a)
		if err != nil && !errors.Is(err, ErrForbiddenAddress) {
			t.Fatalf("Check(%s): %v does not wrap ErrForbiddenAddress", a, err)
		}
		if err == nil && stdRefused(a) {
			t.Fatalf("Check(%s) allowed a non-global address", a)
		}
		if a.Is4() {
			mapped := netip.AddrFrom16(a.As16())
			if (strict.Check(mapped) == nil) != (err == nil) {
				t.Fatalf("Check(%s) and Check(%s) disagree", a, mapped)
			}
		}
		if a.Is6() && !a.Is4In6() && err == nil {
			b16 := a.As16()
			for _, pfx := range []struct {
				p  netip.Prefix
				at int
			}{{netip.MustParsePrefix("64:ff9b::/96"), 12}, {netip.MustParsePrefix("2002::/16"), 2}, {netip.MustParsePrefix("::/96"), 12}} {
				if pfx.p.Contains(a) {
					v4 := netip.AddrFrom4([4]byte(b16[pfx.at : pfx.at+4]))
					if strict.Check(v4) != nil {
						t.Fatalf("Check(%s) allowed it though it embeds refused %s", a, v4)
					}
				}
			}
		}
	})
}
