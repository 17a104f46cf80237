package web

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// TestCustomerTrustedPayees: the Security page lists the customer's trusted
// payees (not another customer's) and the customer stops trusting one
// without a step-up; the removal is audited; refusals answer exactly.
func TestCustomerTrustedPayees(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newSecurityFixture(t, d, environment.Production, false)
		ctx := context.Background()
		landlord := sca.Payee{Name: "Landlord Ltd", Scheme: "UK.OBIE.SortCodeAccountNumber", Identification: "20000087654321"}
		if err := f.sca.TrustPayee(ctx, "cus_alice", landlord); err != nil {
			t.Fatal(err)
		}
		if err := f.sca.TrustPayee(ctx, "cus_bob", sca.Payee{Name: "Bob's Gym", Scheme: "UK.OBIE.SortCodeAccountNumber", Identification: "20000011110000"}); err != nil {
			t.Fatal(err)
		}
		alice := newSecBrowser(t, f.srv.URL, "/customer", "alice")
		a := alice.get("/customer/security")
		if a.status != 200 || !strings.Contains(a.body, `<h2 id="trusted-h">Trusted payees</h2>`) ||
			!strings.Contains(a.body, ">Landlord Ltd</h3>") || !strings.Contains(a.body, "Account 20000087654321") ||
			!strings.Contains(a.body, `aria-label="Stop trusting Landlord Ltd"`) || strings.Contains(a.body, "Bob&#39;s Gym") {
			t.Fatalf("security page: %d\n%s", a.status, a.body)
		}
		remove := url.Values{"scheme": {landlord.Scheme}, "identification": {landlord.Identification}}
		for _, tc := range []struct {
			name   string
			form   url.Values
			noCSRF bool
			status int
			alert  string
		}{
			{"fail/without-csrf", remove, true, 403, msgSessionExpired},
			{"fail/another-customer's-payee", url.Values{"scheme": {"UK.OBIE.SortCodeAccountNumber"}, "identification": {"20000011110000"}}, false, 404, msgNoTrustedPayee},
			{"fail/empty", nil, false, 404, msgNoTrustedPayee},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := alice.post("/customer/security/trusted-payees/remove", tc.form, tc.noCSRF)
				if a.status != tc.status || a.alert != tc.alert {
					t.Fatalf("%d %q, want %d %q", a.status, a.alert, tc.status, tc.alert)
				}
			})
		}
		if ps, _ := f.sca.TrustedPayees(ctx, "cus_bob"); len(ps) != 1 {
			t.Fatalf("bob's trusted payees after alice's attempts: %+v", ps)
		}
		t.Run("ok/stop-trusting", func(t *testing.T) {
			a := alice.post("/customer/security/trusted-payees/remove", remove, false)
			if a.status != 200 || a.path != "/customer/security" || a.flash != "The payee is no longer trusted." ||
				!strings.Contains(a.body, "You have no trusted payees.") {
				t.Fatalf("%d at %s %q %q", a.status, a.path, a.alert, a.flash)
			}
			if ps, _ := f.sca.TrustedPayees(ctx, "cus_alice"); len(ps) != 0 {
				t.Fatalf("alice's trusted payees: %+v", ps)
			}
			if !hasAuditDetail(t, d, "cus_alice", "customer.payee_untrusted", map[string]string{"identification": "20000087654321", "environment": "production"}) {
				t.Fatalf("audit: %v", auditActions(t, d, "cus_alice"))
			}
		})
	})
}
