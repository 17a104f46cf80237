package oauth_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/oauth"
)

// downBus is a cachebus.Bus whose subscription is down: caches bypass.
type downBus struct{ cachebus.Bus }

func (downBus) Live() bool { return false }

// TestTokenCache: with a cache bus, the resource path serves access-token
// rows from the node's cache (a change made behind the bus's back is not
// seen), and every revocation path invalidates them at once; with the
// subscription down nothing is served from the cache.
func TestTokenCache(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		tests := []struct {
			name string
			bus  func() cachebus.Bus
			// change makes the token unusable; published reports whether it
			// goes through the bus (else the cache must hide it).
			change    func(t *testing.T, h *harness, tokens *oauth.Tokens, access, refresh string)
			published bool
		}{
			{"ok/cached-row-served", func() cachebus.Bus { return cachebus.NewLocal() }, deactivateBehindBus, false},
			{"fail/subscription-down-bypassed", func() cachebus.Bus { return downBus{cachebus.NewLocal()} }, deactivateBehindBus, true},
			{"fail/revoked-rfc7009", func() cachebus.Bus { return cachebus.NewLocal() }, func(t *testing.T, h *harness, _ *oauth.Tokens, access, _ string) {
				c := h.client
				if resp, _ := c.post("/revoke", c.withAuth(url.Values{"token": {access}, "token_type_hint": {"access_token"}}, h.ts.URL+"/revoke"), ""); resp.StatusCode != 200 {
					t.Fatalf("revoke: %d", resp.StatusCode)
				}
			}, true},
			{"fail/refresh-token-revoked-rfc7009", func() cachebus.Bus { return cachebus.NewLocal() }, func(t *testing.T, h *harness, _ *oauth.Tokens, _, refresh string) {
				c := h.client
				if resp, _ := c.post("/revoke", c.withAuth(url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}}, h.ts.URL+"/revoke"), ""); resp.StatusCode != 200 {
					t.Fatalf("revoke: %d", resp.StatusCode)
				}
			}, true},
			{"fail/consent-revoked", func() cachebus.Bus { return cachebus.NewLocal() }, func(t *testing.T, _ *harness, tokens *oauth.Tokens, _, _ string) {
				if err := tokens.RevokeConsent(ctx, "cns_1"); err != nil {
					t.Fatal(err)
				}
			}, true},
			{"fail/refresh-rotated", func() cachebus.Bus { return cachebus.NewLocal() }, func(t *testing.T, h *harness, _ *oauth.Tokens, _, refresh string) {
				c := h.client
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
				if resp, body := c.post("/token", c.withAuth(form, h.ts.URL), c.proof("POST", h.ts.URL+"/token", "")); resp.StatusCode != 200 {
					t.Fatalf("refresh: %d %v", resp.StatusCode, body)
				}
			}, true},
			{"fail/client-revoked", func() cachebus.Bus { return cachebus.NewLocal() }, func(t *testing.T, h *harness, tokens *oauth.Tokens, _, _ string) {
				if err := tokens.RevokeClient(ctx, h.client.id); err != nil {
					t.Fatal(err)
				}
			}, true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				bus := tc.bus()
				h := newHarness(t, d, func(cfg *oauth.Config, _ *oauth.Deps) { cfg.RotateRefreshTokens = true })
				h.srv.UseCacheBus(bus)
				tokens := oauth.NewTokens(d.DB) // another store on the same bus, as partners and apis use
				tokens.UseCacheBus(bus)
				c := h.client
				h.consents.add("cns_1")
				form := url.Values{"authorization_details": {`[{"type":"account_access","consent_id":"cns_1"}]`}}
				code, verifier := h.code(c, form, url.Values{"accounts.cns_1": {"acc_1"}})
				resp, tok := h.exchange(c, code, verifier)
				if resp.StatusCode != 200 {
					t.Fatalf("token: %d %v", resp.StatusCode, tok)
				}
				access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)
				verify := func() error {
					_, err := h.srv.VerifyRequest(ctx, h.resource("GET", "/accounts", "DPoP", access, c.proof("GET", h.ts.URL+"/accounts", access)))
					return err
				}
				if err := verify(); err != nil {
					t.Fatal(err)
				}
				tc.change(t, h, tokens, access, refresh)
				err := verify()
				if !tc.published {
					if err != nil {
						t.Fatalf("the cached row was not served: %v", err)
					}
					return
				}
				wantResourceErr(t, err, "The access token is not active.")
			})
		}
	})
}

// deactivateBehindBus makes every token inactive in the database without
// publishing anything.
func deactivateBehindBus(t *testing.T, h *harness, _ *oauth.Tokens, _, _ string) {
	if err := h.db.Exec("UPDATE oauth_tokens SET active = FALSE").Error; err != nil {
		t.Fatal(err)
	}
}
