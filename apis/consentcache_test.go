package apis_test

import (
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// TestConsentCache: two nodes (Services) on one database and one cache bus.
// Node B serves a consent from its cache (a change made without the bus is
// not seen); a status change on node A is refused by node B's very next
// check; an expired consent is never served from the cache.
func TestConsentCache(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		bus := cachebus.NewLocal()
		node := func() *apis.Service {
			return apis.NewService(apis.Config{DB: d, Core: e.core, Bus: bus, Now: e.clock.now})
		}
		a, b := node(), node()
		p := e.partner("ptn_cache", environment.Sandbox)
		cust := e.customer("alice")
		usable := func(token string) error {
			_, err := b.UsableConsent(ctx, e.verifier.tokens[token], apis.TypeAccountAccess, false)
			return err
		}
		tests := []struct {
			name   string
			change func(t *testing.T, consentID string)
			code   problem.Code // "" : still served (from the cache)
		}{
			{"ok/cached-consent-served", func(t *testing.T, id string) {
				// e.svc has no bus: its change is not published.
				if err := e.svc.RevokeByCustomer(ctx, cust.id, id); err != nil {
					t.Fatal(err)
				}
			}, ""},
			{"fail/revoked-on-node-a", func(t *testing.T, id string) {
				if err := a.RevokeByCustomer(ctx, cust.id, id); err != nil {
					t.Fatal(err)
				}
			}, problem.CodeConsentRevoked},
			{"fail/expired-while-cached", func(t *testing.T, id string) {
				e.clock.set(e.clock.now().Add(2 * time.Hour))
			}, problem.CodeConsentExpired},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				// Every consent expires in an hour.
				body := accountConsentBody(allPerms...)
				body["Data"].(map[string]any)["ExpirationDateTime"] = e.clock.now().Add(time.Hour).Format(time.RFC3339)
				r := e.do("POST", aisp+"/account-access-consents", p.token, body)
				wantStatus(t, r, 201)
				id := r.data(t)["ConsentId"].(string)
				token := p.authorise(apis.TypeAccountAccess, id, cust, cust.account("current").ID)
				if err := usable(token); err != nil {
					t.Fatalf("node B before the change: %v", err)
				}
				tc.change(t, id)
				err := usable(token)
				if tc.code == "" {
					if err != nil {
						t.Fatalf("node B did not serve its cached consent: %v", err)
					}
					return
				}
				if got := problem.CodeOf(err); got != tc.code {
					t.Fatalf("node B: %v (code %s), want %s", err, got, tc.code)
				}
			})
		}
	})
}
