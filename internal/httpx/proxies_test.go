package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name, in, err string
		n             int
	}{
		{name: "ok/empty", in: ""},
		{name: "ok/list", in: "10.0.0.0/8, 192.0.2.7 ,2001:db8::/32", n: 3},
		{name: "fail/garbage", in: "10.0.0.0/8,proxy.internal", err: `trusted proxy "proxy.internal" is not an address or CIDR prefix`},
		{name: "fail/bad-prefix", in: "10.0.0.0/33", err: `trusted proxy "10.0.0.0/33" is not an address or CIDR prefix`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTrustedProxies(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != tc.n {
				t.Fatalf("got %v, %v; want %d prefixes", got, err, tc.n)
			}
		})
	}
}

func TestClientAddressHandler(t *testing.T) {
	proxies, err := ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	h := proxies.ClientAddressHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{name: "ok/untrusted-peer-header-ignored", peer: "203.0.113.9:5555", xff: []string{"127.0.0.1"}, want: "203.0.113.9:5555"},
		{name: "ok/trusted-peer-no-header", peer: "10.1.2.3:5555", want: "10.1.2.3:5555"},
		{name: "ok/trusted-peer-client", peer: "10.1.2.3:5555", xff: []string{"198.51.100.4"}, want: "198.51.100.4:0"},
		{name: "ok/spoofed-left-entries-ignored", peer: "10.1.2.3:5555", xff: []string{"127.0.0.1, 198.51.100.4"}, want: "198.51.100.4:0"},
		{name: "ok/chain-of-trusted-proxies", peer: "10.1.2.3:5555", xff: []string{"198.51.100.4", "10.9.9.9"}, want: "198.51.100.4:0"},
		{name: "ok/ipv6-client", peer: "10.1.2.3:5555", xff: []string{"2001:db8::1"}, want: "[2001:db8::1]:0"},
		{name: "fail/malformed-hop-keeps-peer", peer: "10.1.2.3:5555", xff: []string{"198.51.100.4, nonsense"}, want: "10.1.2.3:5555"},
		{name: "fail/only-proxies-keeps-peer", peer: "10.1.2.3:5555", xff: []string{"10.4.4.4"}, want: "10.1.2.3:5555"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if seen != tc.want {
				t.Fatalf("RemoteAddr = %q, want %q", seen, tc.want)
			}
		})
	}
}
