package oauth

import (
	"encoding/json"
	"testing"
)

// FuzzParseClientAssertion: the client_assertion parser never panics and only
// lets ES256 and PS256 through. Seeds in testdata/fuzz/FuzzParseClientAssertion.
func FuzzParseClientAssertion(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJhIiwic3ViIjoiYSJ9.c2ln")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseClientAssertion(s)
		if err != nil {
			return
		}
		if p.Header.Alg != "ES256" && p.Header.Alg != "PS256" {
			t.Fatalf("alg %q accepted", p.Header.Alg)
		}
		p.Claims.audiences()
		numericDate(p.Claims.Exp)
	})
}

// FuzzParseAuthorizationDetails: the authorization_details parser never
// panics, and what it accepts survives a JSON round trip.
func FuzzParseAuthorizationDetails(f *testing.F) {
	f.Add(`[{"type":"account_access","consent_id":"cns_1"}]`)
	f.Add(`[{"type":"payment_initiation","consent_id":"cns_2","instructedAmount":{"amount":"12.50","currency":"GBP"}}]`)
	f.Add(`{"type":"x"}`)
	f.Add(`[{"type":1}]`)
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := parseAuthorizationDetails([]string{s})
		if err != nil {
			return
		}
		for _, d := range ds {
			if d.Type == "" {
				t.Fatal("empty type accepted")
			}
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			var back AuthorizationDetail
			if err := json.Unmarshal(b, &back); err != nil || back.Type != d.Type || back.ConsentID != d.ConsentID {
				t.Fatalf("round trip %s: %+v %v", b, back, err)
			}
		}
	})
}
