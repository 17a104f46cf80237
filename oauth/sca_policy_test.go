package oauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/sca"
	"github.com/bankbridge/bankbridge/oauth/secondfactors"
)

// The access_denied hints of the SCA policy (authorize_policy.go).
const (
	hintNoFactorPayment = "The payment needs strong customer authentication and the customer has no second factor (authenticator app or passkey) set up."
	hintNoFactorAccess  = "The bank requires strong customer authentication for account access and the customer has no second factor (authenticator app or passkey) set up."
)

// scaPolicyEnv is a harness whose server has the real second factors and
// exemptions of oauth/sca (the bank's default settings: low value up to
// 30.00 GBP, 5 payments or 100.00 GBP since the last SCA; trusted payees;
// own accounts), alice with an authenticator app, bob without a factor.
type scaPolicyEnv struct {
	h      *harness
	svc    *sca.Service
	offset *atomic.Int64
	n      int
}

func newSCAPolicyEnv(t *testing.T, d *db.DB, mut func(*oauth.Config)) *scaPolicyEnv {
	t.Helper()
	e := &scaPolicyEnv{offset: new(atomic.Int64)}
	now := func() time.Time { return e.h.now().Add(time.Duration(e.offset.Load())) }
	box, err := secrets.NewBox(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	e.svc, err = sca.New(sca.Config{Store: sca.NewGormStore(d), Box: box, Throttle: throttle.NewStore(d.DB, now),
		Settings: sca.DefaultSettings(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	e.h = newHarness(t, d, func(cfg *oauth.Config, deps *oauth.Deps) {
		deps.SecondFactors = secondfactors.New(e.svc, nil)
		deps.Exemptions = secondfactors.NewExemptions(e.svc)
		if mut != nil {
			mut(cfg)
		}
	})
	if _, err := e.svc.EnrollTOTP(context.Background(), "cus_alice", "alice", aliceTOTPSecret); err != nil {
		t.Fatal(err)
	}
	return e
}

// start pushes a request for one consent (a payment when pay is set) and
// logs user in; it returns the consent id, the response and page after the
// password, and the PKCE verifier. Each start is a TOTP step after the
// last, so alice's next code is fresh.
func (e *scaPolicyEnv) start(t *testing.T, user, password string, pay *oauth.PaymentSummary) (string, *http.Response, string, string) {
	t.Helper()
	return e.startWith(t, e.h.client, user, password, pay)
}

// startWith is start for client c.
func (e *scaPolicyEnv) startWith(t *testing.T, c *testClient, user, password string, pay *oauth.PaymentSummary) (string, *http.Response, string, string) {
	t.Helper()
	e.offset.Add(int64(30 * time.Second))
	e.n++
	h := e.h
	typ, consent := "account_access", fmt.Sprintf("cns_pol_%d", e.n)
	if pay != nil {
		typ, consent = "payment_initiation", fmt.Sprintf("pcn_pol_%d", e.n)
		h.consents.mu.Lock()
		h.consents.payments[consent] = *pay
		h.consents.mu.Unlock()
	}
	h.consents.add(consent)
	verifier, challenge := pkcePair()
	form := parForm(challenge)
	form.Set("client_id", c.id)
	form.Set("authorization_details", fmt.Sprintf(`[{"type":%q,"consent_id":%q}]`, typ, consent))
	resp, body := c.get("/authorize?" + url.Values{"client_id": {c.id}, "request_uri": {h.mustPAR(c, form)}}.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	in, csrf := formFields(t, body)
	resp, page := c.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"login"},
		"username": {user}, "password": {password}})
	return consent, resp, page, verifier
}

// approve approves the consent page and redeems the code; it returns the
// token response.
func (e *scaPolicyEnv) approve(t *testing.T, consent, page, verifier string) map[string]any {
	t.Helper()
	loc := e.h.decide(e.h.client, page, "approve", url.Values{"accounts." + consent: {"acc_1"}})
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", loc)
	}
	resp, tok := e.h.exchange(e.h.client, code, verifier)
	if resp.StatusCode != http.StatusOK || tok["id_token"] == nil {
		t.Fatalf("token: %d %v", resp.StatusCode, tok)
	}
	return tok
}

// how is how the fake broker was told consent was authorised.
func (e *scaPolicyEnv) how(consent string) oauth.ConsentAuthorisation {
	e.h.consents.mu.Lock()
	defer e.h.consents.mu.Unlock()
	return e.h.consents.how[consent]
}

func (e *scaPolicyEnv) status(consent string) string {
	e.h.consents.mu.Lock()
	defer e.h.consents.mu.Unlock()
	return e.h.consents.status[consent]
}

func mustConsentPage(t *testing.T, resp *http.Response, page string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<h1>Do you want to allow this?</h1>") {
		t.Fatalf("want the consent page, got %d:\n%s", resp.StatusCode, page)
	}
}

func mustSCAPage(t *testing.T, resp *http.Response, page string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<h1>Confirm it is you</h1>") {
		t.Fatalf("want the SCA page, got %d:\n%s", resp.StatusCode, page)
	}
}

func mustNoFactorPage(t *testing.T, resp *http.Response, page string) {
	t.Helper()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "<h1>Set up a second factor first</h1>") {
		t.Fatalf("want the no-second-factor page (403), got %d:\n%s", resp.StatusCode, page)
	}
}

// redirectOf is the Location of a redirect to the client.
func redirectOf(t *testing.T, resp *http.Response, body string) *url.URL {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("want a redirect to the client, got %d:\n%s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustDenied(t *testing.T, loc *url.URL, hint string) {
	t.Helper()
	q := loc.Query()
	if q.Get("error") != "access_denied" || q.Get("error_description") != accessDeniedDescription+hint || q.Has("code") {
		t.Fatalf("redirect %s, want access_denied %q", loc, hint)
	}
}

// TestSCAPolicy: which authorizations need strong customer authentication,
// which an exemption spares (and that the decision reaches the consent),
// and what a customer without a second factor can and cannot authorise.
func TestSCAPolicy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newSCAPolicyEnv(t, d, nil)
		h := e.h
		ctx := context.Background()
		shop := func(minor int64) *oauth.PaymentSummary {
			return &oauth.PaymentSummary{Amount: money.GBP(minor), PayeeName: "Corner Shop",
				PayeeScheme: "UK.OBIE.SortCodeAccountNumber", PayeeIdentification: "20000012345678"}
		}
		passwordOnly := fmt.Sprint([]string{oauth.AMRPassword})
		strongAMR := []string{oauth.AMRPassword, oauth.AMROTP, oauth.AMRMultiFactor}

		t.Run("ok/low-value payment of a customer with a factor needs no second factor; the exemption is recorded", func(t *testing.T) {
			consent, resp, page, verifier := e.start(t, "alice", "correct horse", shop(1250))
			mustConsentPage(t, resp, page)
			claims := idTokenClaims(t, h, e.approve(t, consent, page, verifier)["id_token"].(string))
			if claims["acr"] != oauth.ACRPassword || fmt.Sprint(claims["amr"]) != passwordOnly {
				t.Fatalf("id_token acr %v amr %v", claims["acr"], claims["amr"])
			}
			want := oauth.ConsentAuthorisation{ACR: oauth.ACRPassword, AMR: []string{oauth.AMRPassword}, Exemption: oauth.ExemptionLowValue,
				Reason: "12.50 GBP is within the low-value limits: payment 1 of 5 since the last SCA, 12.50 GBP of 100.00 GBP"}
			if got := e.how(consent); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("authorisation %+v, want %+v", got, want)
			}
		})

		t.Run("ok/payment above the low-value limit needs SCA; SCA resets the counters", func(t *testing.T) {
			consent, resp, page, verifier := e.start(t, "alice", "correct horse", shop(4500))
			mustSCAPage(t, resp, page)
			if !strings.Contains(page, `<p class="payment">45.00 GBP to Corner Shop</p>`) {
				t.Fatalf("SCA page does not show the payment:\n%s", page)
			}
			in, csrf := formFields(t, page)
			resp, page = h.client.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"sca"},
				"method": {"totp"}, "code": {totpCode(t, h.now().Add(time.Duration(e.offset.Load())))}})
			mustConsentPage(t, resp, page)
			claims := idTokenClaims(t, h, e.approve(t, consent, page, verifier)["id_token"].(string))
			if claims["acr"] != oauth.ACRStrong || fmt.Sprint(claims["amr"]) != fmt.Sprint(strongAMR) {
				t.Fatalf("id_token acr %v amr %v", claims["acr"], claims["amr"])
			}
			want := oauth.ConsentAuthorisation{ACR: oauth.ACRStrong, AMR: strongAMR, Reason: "the customer performed strong customer authentication"}
			if got := e.how(consent); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("authorisation %+v, want %+v", got, want)
			}
			// The counters were reset: the next low-value payment is payment 1 again.
			consent, resp, page, verifier = e.start(t, "alice", "correct horse", shop(100))
			mustConsentPage(t, resp, page)
			e.approve(t, consent, page, verifier)
			if got := e.how(consent).Reason; got != "1.00 GBP is within the low-value limits: payment 1 of 5 since the last SCA, 1.00 GBP of 100.00 GBP" {
				t.Fatalf("reason after SCA: %q", got)
			}
		})

		t.Run("ok/customer without a factor pays low value, five times; the sixth needs SCA and is refused", func(t *testing.T) {
			for i := 1; i <= 5; i++ {
				consent, resp, page, verifier := e.start(t, "bob", "battery staple", shop(200))
				mustConsentPage(t, resp, page)
				tok := e.approve(t, consent, page, verifier)
				claims := idTokenClaims(t, h, tok["id_token"].(string))
				if claims["acr"] != oauth.ACRPassword {
					t.Fatalf("payment %d: acr %v", i, claims["acr"])
				}
				if got := e.how(consent); got.Exemption != oauth.ExemptionLowValue ||
					!strings.Contains(got.Reason, fmt.Sprintf("payment %d of 5 since the last SCA", i)) {
					t.Fatalf("payment %d: %+v", i, got)
				}
			}
			consent, resp, page, _ := e.start(t, "bob", "battery staple", shop(200))
			mustNoFactorPage(t, resp, page)
			if !strings.Contains(page, `<p class="payment">2.00 GBP to Corner Shop</p>`) {
				t.Fatalf("page does not show the payment:\n%s", page)
			}
			in, csrf := formFields(t, page)
			resp, body := h.client.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"no_second_factor"}})
			mustDenied(t, redirectOf(t, resp, body), hintNoFactorPayment)
			if st := e.status(consent); st != "rejected" {
				t.Fatalf("consent %s is %q, want rejected", consent, st)
			}
		})

		t.Run("fail/customer without a factor cannot approve a payment that needs SCA by posting the consent form", func(t *testing.T) {
			consent, resp, page, _ := e.start(t, "dave", "correct horse battery", shop(4500))
			mustNoFactorPage(t, resp, page)
			in, csrf := formFields(t, page)
			resp, body := h.client.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"consent"},
				"decision": {"approve"}, "accounts." + consent: {"acc_1"}})
			mustDenied(t, redirectOf(t, resp, body), hintNoFactorPayment)
			if st := e.status(consent); st != "rejected" {
				t.Fatalf("consent %s is %q, want rejected", consent, st)
			}
		})

		t.Run("ok/trusted payee spares SCA above the low-value limit", func(t *testing.T) {
			pay := shop(4500)
			pay.PayeeName, pay.PayeeIdentification = "Landlord", "20000087654321"
			if err := e.svc.TrustPayee(ctx, "cus_dave", sca.Payee{Name: "Landlord", Scheme: pay.PayeeScheme, Identification: "200000 87654321"}); err != nil {
				t.Fatal(err)
			}
			consent, resp, page, verifier := e.start(t, "dave", "correct horse battery", pay)
			mustConsentPage(t, resp, page)
			e.approve(t, consent, page, verifier)
			if got := e.how(consent); got.Exemption != oauth.ExemptionTrustedBeneficiary || got.Reason != "the payee is one of the customer's trusted payees" {
				t.Fatalf("authorisation %+v", got)
			}
		})

		t.Run("ok/after SCA the customer may trust the payee; the next payment to it is exempt", func(t *testing.T) {
			pay := shop(6000)
			pay.PayeeName, pay.PayeeIdentification = "Piano Teacher", "20000011112222"
			consent, resp, page, verifier := e.start(t, "alice", "correct horse", pay)
			mustSCAPage(t, resp, page)
			in, csrf := formFields(t, page)
			resp, page = h.client.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"sca"},
				"method": {"totp"}, "code": {totpCode(t, h.now().Add(time.Duration(e.offset.Load())))}})
			mustConsentPage(t, resp, page)
			offer := `<input type="checkbox" name="trust.` + consent + `" value="1"> Trust Piano Teacher`
			if !strings.Contains(page, offer) {
				t.Fatalf("consent page after SCA lacks the trust offer:\n%s", page)
			}
			loc := h.decide(h.client, page, "approve", url.Values{"accounts." + consent: {"acc_1"}, "trust." + consent: {"1"}})
			if resp, tok := h.exchange(h.client, loc.Query().Get("code"), verifier); resp.StatusCode != http.StatusOK {
				t.Fatalf("token: %d %v", resp.StatusCode, tok)
			}
			trusted, err := e.svc.TrustedPayees(ctx, "cus_alice")
			if err != nil || len(trusted) != 1 || trusted[0].Name != "Piano Teacher" || trusted[0].Identification != "20000011112222" {
				t.Fatalf("trusted payees %+v, %v", trusted, err)
			}
			consent, resp, page, verifier = e.start(t, "alice", "correct horse", pay)
			mustConsentPage(t, resp, page)
			if strings.Contains(page, "Trust Piano Teacher") {
				t.Fatalf("trust offered without SCA:\n%s", page)
			}
			e.approve(t, consent, page, verifier)
			if got := e.how(consent); got.Exemption != oauth.ExemptionTrustedBeneficiary {
				t.Fatalf("authorisation %+v", got)
			}
		})

		t.Run("fail/a trust field posted without SCA trusts nobody", func(t *testing.T) {
			pay := shop(1500)
			pay.PayeeName, pay.PayeeIdentification = "Sneaky Ltd", "20000099998888"
			consent, resp, page, verifier := e.start(t, "dave", "correct horse battery", pay)
			mustConsentPage(t, resp, page)
			loc := h.decide(h.client, page, "approve", url.Values{"accounts." + consent: {"acc_1"}, "trust." + consent: {"1"}})
			if resp, tok := h.exchange(h.client, loc.Query().Get("code"), verifier); resp.StatusCode != http.StatusOK {
				t.Fatalf("token: %d %v", resp.StatusCode, tok)
			}
			trusted, err := e.svc.TrustedPayees(ctx, "cus_dave")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range trusted {
				if p.Name == "Sneaky Ltd" {
					t.Fatalf("dave trusts %+v without SCA", p)
				}
			}
		})

		t.Run("ok/payment to the customer's own account spares SCA", func(t *testing.T) {
			pay := shop(50000)
			pay.PayeeName, pay.PayeeIsOwnAccount = "Dave's savings", true
			consent, resp, page, verifier := e.start(t, "dave", "correct horse battery", pay)
			mustConsentPage(t, resp, page)
			e.approve(t, consent, page, verifier)
			if got := e.how(consent); got.Exemption != oauth.ExemptionOwnAccounts || got.ACR != oauth.ACRPassword {
				t.Fatalf("authorisation %+v", got)
			}
		})

		t.Run("ok/account access: SCA for a customer with a factor, the password alone without one", func(t *testing.T) {
			_, resp, page, _ := e.start(t, "alice", "correct horse", nil)
			mustSCAPage(t, resp, page)
			consent, resp, page, verifier := e.start(t, "bob", "battery staple", nil)
			mustConsentPage(t, resp, page)
			e.approve(t, consent, page, verifier)
			want := oauth.ConsentAuthorisation{ACR: oauth.ACRPassword, AMR: []string{oauth.AMRPassword},
				Reason: "the customer has no second factor; the bank allows account access with the password alone"}
			if got := e.how(consent); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("authorisation %+v, want %+v", got, want)
			}
		})
		t.Run("ok/the risk scoring's sca spares no low-value payment", func(t *testing.T) {
			pay := shop(1250)
			pay.RiskRequiresSCA = true
			_, resp, page, _ := e.start(t, "alice", "correct horse", pay)
			mustSCAPage(t, resp, page)
			_, resp, page, _ = e.start(t, "bob", "battery staple", pay)
			mustNoFactorPage(t, resp, page)
		})
	})
}

// TestSCAPolicyRequiredForAccountAccess: with the bank setting that forbids
// account access without SCA, a production customer without a second factor
// is told how to enrol and the partner gets access_denied; sandbox personas
// are not affected.
func TestSCAPolicyRequiredForAccountAccess(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newSCAPolicyEnv(t, d, func(cfg *oauth.Config) { cfg.RequireSCAForAccountAccess = true })
		prod := newTestClient(t, "app_prod", e.h.ts.URL, e.h.now)
		e.h.clients.put(oauth.Client{ID: prod.id, Name: "Live Wallet", PartnerID: "ptn_1", PartnerName: "Acme Payments",
			Environment: environment.Production, RedirectURIs: []string{redirectURI},
			Scopes: []string{"openid", "accounts"}, JWKS: prod.jwks(), Active: true})
		_, resp, page, _ := e.start(t, "bob", "battery staple", nil)
		mustConsentPage(t, resp, page)
		consent, resp, page, _ := e.startWith(t, prod, "alice", "production horse", nil)
		mustNoFactorPage(t, resp, page)
		in, csrf := formFields(t, page)
		resp, body := prod.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"no_second_factor"}})
		mustDenied(t, redirectOf(t, resp, body), hintNoFactorAccess)
		if st := e.status(consent); st != "rejected" {
			t.Fatalf("consent %s is %q, want rejected", consent, st)
		}
		// The form cannot be replayed: the interaction is gone.
		resp, body = prod.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"no_second_factor"}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "This page has expired") {
			t.Fatalf("replayed form: %d %s", resp.StatusCode, body)
		}
	})
}

// TestReauthentication: a refresh token works while the customer's
// authentication behind it is younger than Config.Reauthentication (PSD2
// RTS art. 10a), and is refused after, with invalid_grant.
func TestReauthentication(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newSCAPolicyEnv(t, d, func(cfg *oauth.Config) { cfg.Reauthentication = 48 * time.Hour })
		h, c := e.h, e.h.client
		consent, resp, page, verifier := e.start(t, "bob", "battery staple", nil)
		mustConsentPage(t, resp, page)
		tok := e.approve(t, consent, page, verifier)
		refresh := func() (*http.Response, map[string]any) {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}
			return c.post("/token", c.withAuth(form, h.ts.URL), c.proof("POST", h.ts.URL+"/token", ""))
		}
		h.advance(47 * time.Hour)
		if resp, body := refresh(); resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh within 48 h: %d %v", resp.StatusCode, body)
		}
		h.advance(2 * time.Hour)
		resp, body := refresh()
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" ||
			!strings.HasSuffix(fmt.Sprint(body["error_description"]), "The customer authenticated more than 2 days ago; send the customer through authorization again.") {
			t.Fatalf("refresh after 49 h: %d %v", resp.StatusCode, body)
		}
	})
}
