package oauth_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// BenchmarkTokenClientCredentials: one client_credentials token per op over
// real HTTP, each with a fresh ES256 client assertion and DPoP proof (made by
// the client, inside the timing).
func BenchmarkTokenClientCredentials(b *testing.B) {
	for _, e := range dbtest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			h := newHarness(b, e.Open(b), nil)
			c := h.client
			tokenURL := h.ts.URL + "/token"
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					form := c.withAuth(url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}}, h.ts.URL)
					resp, body := c.post("/token", form, c.proof("POST", tokenURL, ""))
					if resp.StatusCode != 200 {
						b.Fatalf("%d %v", resp.StatusCode, body)
					}
				}
			})
		})
	}
}

// BenchmarkVerifyRequest: the resource server's check of a DPoP token and a
// fresh proof per op (the proof is made inside the timing).
func BenchmarkVerifyRequest(b *testing.B) {
	for _, e := range dbtest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			h := newHarness(b, e.Open(b), nil)
			c := h.client
			_, tok := h.clientCredentials(c)
			at := tok["access_token"].(string)
			u := h.ts.URL + "/accounts"
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := h.resource("GET", "/accounts", "DPoP", at, c.proof("GET", u, at))
					if _, err := h.srv.VerifyRequest(context.Background(), r); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
