package web

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/oauth"
)

// TestNoSecondFactorPage: the page tells the customer what needs a second
// factor and links the Security page of the customer's environment.
func TestNoSecondFactorPage(t *testing.T) {
	p := NewCustomerAuth(MustRenderer(), false)
	for _, tc := range []struct {
		name string
		page oauth.NoSecondFactorPage
		want []string
	}{
		{"ok/sandbox payment", oauth.NoSecondFactorPage{Action: "/authorize", InteractionID: "int-9", ClientName: "Pocket Wallet", PartnerName: "Acme Payments",
			CustomerName: "Ivan Example", Environment: environment.Sandbox, Status: 403,
			Payments: []oauth.PaymentSummary{{Amount: money.GBP(4500), PayeeName: "Corner Shop"}}},
			[]string{"<h1>Set up a second factor first</h1>", "is asking you to approve a payment", "Amount: <strong>45.00 GBP</strong>",
				"To: <strong>Corner Shop</strong>", `<a href="/sandbox/customer/security">Security</a>`, "<strong>Add a passkey</strong>",
				"<strong>Set up an authenticator app</strong>", `name="step" value="no_second_factor"`, `name="interaction" value="int-9"`,
				`name="csrf_token"`, "<button type=\"submit\">Back to Pocket Wallet</button>", "Nothing has been approved."}},
		{"ok/production account access", oauth.NoSecondFactorPage{Action: "/authorize", InteractionID: "int-10", ClientName: "Budget Buddy",
			Environment: environment.Production, Status: 403},
			[]string{"is asking to see your accounts", `<a href="/customer/security">Security</a>`, "<button type=\"submit\">Back to Budget Buddy</button>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			p.NoSecondFactor(rec, httptest.NewRequest("POST", "/authorize", nil), tc.page)
			if rec.Code != 403 {
				t.Fatalf("status %d", rec.Code)
			}
			body := rec.Body.String()
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Fatalf("page lacks %q:\n%s", want, body)
				}
			}
		})
	}
}

// TestConsentPageTrustOffer: after SCA the consent page offers to trust the
// payment's payee, with an accessible checkbox per offer.
func TestConsentPageTrustOffer(t *testing.T) {
	p := NewCustomerAuth(MustRenderer(), false)
	rec := httptest.NewRecorder()
	p.Consent(rec, httptest.NewRequest("POST", "/authorize", nil), oauth.ConsentPage{Action: "/authorize", InteractionID: "int-11",
		ClientName: "Pocket Wallet", TrustOffers: []oauth.TrustOffer{{ConsentID: "pcn_7", PayeeName: "Piano Teacher"}}})
	want := `<label><input type="checkbox" name="trust.pcn_7" value="1"> Trust Piano Teacher: future payments to them may not ask for your second factor</label>`
	if body := rec.Body.String(); !strings.Contains(body, want) {
		t.Fatalf("consent page lacks %q:\n%s", want, body)
	}
}
