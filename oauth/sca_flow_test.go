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

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/sca"
	"github.com/bankbridge/bankbridge/oauth/secondfactors"
)

// aliceTOTPSecret is alice's authenticator app in these tests (160 bits).
const aliceTOTPSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// totpCode is the code of aliceTOTPSecret at t.
func totpCode(t *testing.T, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(aliceTOTPSecret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongTOTPCode is a 6-digit code that is none of alice's codes around at.
func wrongTOTPCode(t *testing.T, at time.Time) string {
	t.Helper()
	near := map[string]bool{}
	for d := -90 * time.Second; d <= 90*time.Second; d += 30 * time.Second {
		near[totpCode(t, at.Add(d))] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333", "444444", "555555", "666666"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

// TestSCAFlow: a customer with an authenticator app (alice, enrolled in
// the real oauth/sca service) confirms with it after the password; the
// code binds what is authorised; bob, without one, signs in as before.
func TestSCAFlow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		// The second factors' clock (and their throttle's) runs ahead of
		// the server's by offset: each authorization moves it a TOTP step
		// on, which the server's own clock cannot do (pushed requests last
		// 60 seconds by fosite's wall clock).
		var h *harness
		var offset atomic.Int64 // nanoseconds
		now := func() time.Time { return h.now().Add(time.Duration(offset.Load())) }
		box, err := secrets.NewBox(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		svc, err := sca.New(sca.Config{Store: sca.NewGormStore(d), Box: box, Throttle: throttle.NewStore(d.DB, now), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		h = newHarness(t, d, func(_ *oauth.Config, deps *oauth.Deps) { deps.SecondFactors = secondfactors.New(svc, nil) })
		c := h.client
		ctx := context.Background()
		if _, err := svc.EnrollTOTP(ctx, "cus_alice", "alice", aliceTOTPSecret); err != nil {
			t.Fatalf("EnrollTOTP: %v", err)
		}
		recovery, err := svc.GenerateRecoveryCodes(ctx, "cus_alice")
		if err != nil {
			t.Fatalf("GenerateRecoveryCodes: %v", err)
		}

		// start pushes a request for consent (a payment when pay is set),
		// logs user in and returns the page after the password and the
		// PKCE verifier. Each start is a TOTP step after the last, so that
		// alice's next code is a fresh one.
		n := 0
		var begin func(t *testing.T, user, password string, pay *oauth.PaymentSummary, extra url.Values) (consent, page, verifier string)
		start := func(t *testing.T, user, password string, pay *oauth.PaymentSummary, extra url.Values) (consent, page, verifier string) {
			t.Helper()
			offset.Add(int64(30 * time.Second))
			return begin(t, user, password, pay, extra)
		}
		begin = func(t *testing.T, user, password string, pay *oauth.PaymentSummary, extra url.Values) (consent, page, verifier string) {
			t.Helper()
			n++
			typ := "account_access"
			consent = fmt.Sprintf("cns_sca_%d", n)
			if pay != nil {
				typ, consent = "payment_initiation", fmt.Sprintf("pcn_sca_%d", n)
				h.consents.mu.Lock()
				h.consents.payments[consent] = *pay
				h.consents.mu.Unlock()
			}
			h.consents.add(consent)
			verifier, challenge := pkcePair()
			form := parForm(challenge)
			form.Set("authorization_details", fmt.Sprintf(`[{"type":%q,"consent_id":%q}]`, typ, consent))
			for k, v := range extra {
				form[k] = v
			}
			resp, body := c.get("/authorize?" + url.Values{"client_id": {c.id}, "request_uri": {h.mustPAR(c, form)}}.Encode())
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("authorize: %d %s", resp.StatusCode, body)
			}
			in, csrf := formFields(t, body)
			resp, page = c.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"login"},
				"username": {user}, "password": {password}})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("login: %d %s", resp.StatusCode, page)
			}
			return consent, page, verifier
		}
		// confirm posts a code on the SCA page.
		confirm := func(t *testing.T, page, method, code string) (*http.Response, string) {
			t.Helper()
			in, csrf := formFields(t, page)
			return c.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"sca"},
				"method": {method}, "code": {code}})
		}
		// approve approves the consent page and redeems the code; it
		// returns the id_token's claims.
		approve := func(t *testing.T, consent, page, verifier string) map[string]any {
			t.Helper()
			loc := h.decide(c, page, "approve", url.Values{"accounts." + consent: {"acc_1"}})
			code := loc.Query().Get("code")
			if code == "" {
				t.Fatalf("no code in %s", loc)
			}
			resp, tok := h.exchange(c, code, verifier)
			if resp.StatusCode != http.StatusOK || tok["id_token"] == nil {
				t.Fatalf("token: %d %v", resp.StatusCode, tok)
			}
			return idTokenClaims(t, h, tok["id_token"].(string))
		}
		isSCAPage := func(t *testing.T, page string) {
			t.Helper()
			for _, want := range []string{"<h1>Confirm it is you</h1>", `<label for="code">Authenticator code</label>`, "Use a recovery code"} {
				if !strings.Contains(page, want) {
					t.Fatalf("SCA page lacks %q:\n%s", want, page)
				}
			}
		}
		isConsentPage := func(t *testing.T, resp *http.Response, page string) {
			t.Helper()
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<h1>Do you want to allow this?</h1>") {
				t.Fatalf("want the consent page, got %d:\n%s", resp.StatusCode, page)
			}
		}
		isRefused := func(t *testing.T, resp *http.Response, page string, status int, msg string) {
			t.Helper()
			if resp.StatusCode != status || !strings.Contains(page, `<p class="error">`+msg+`</p>`) {
				t.Fatalf("want %d %q, got %d:\n%s", status, msg, resp.StatusCode, page)
			}
			isSCAPage(t, page)
		}
		isDenied := func(t *testing.T, loc *url.URL, consent, hint string) {
			t.Helper()
			q := loc.Query()
			if q.Get("error") != "access_denied" || q.Get("error_description") != accessDeniedDescription+hint || q.Has("code") {
				t.Fatalf("redirect %s", loc)
			}
			h.consents.mu.Lock()
			st := h.consents.status[consent]
			h.consents.mu.Unlock()
			if st != "awaiting" {
				t.Fatalf("consent %s is %q, want awaiting (nothing approved)", consent, st)
			}
		}
		strongAMR := fmt.Sprint([]string{oauth.AMRPassword, oauth.AMROTP, oauth.AMRMultiFactor})

		t.Run("ok/TOTP code gives acr sca, amr pwd otp mfa, and meets essential acr sca", func(t *testing.T) {
			consent, page, verifier := start(t, "alice", "correct horse", nil, url.Values{"claims": {claimsACR(true, oauth.ACRStrong)}})
			isSCAPage(t, page)
			resp, page := confirm(t, page, "totp", totpCode(t, now()))
			isConsentPage(t, resp, page)
			claims := approve(t, consent, page, verifier)
			if claims["acr"] != oauth.ACRStrong || fmt.Sprint(claims["amr"]) != strongAMR {
				t.Fatalf("id_token acr %v amr %v", claims["acr"], claims["amr"])
			}
		})

		t.Run("ok/payment shows amount and payee, recovery code confirms", func(t *testing.T) {
			pay := &oauth.PaymentSummary{Amount: money.GBP(1250), PayeeName: "Corner Shop", PayeeScheme: "UK.OBIE.SortCodeAccountNumber", PayeeIdentification: "20000012345678"}
			consent, page, verifier := start(t, "alice", "correct horse", pay, nil)
			isSCAPage(t, page)
			if !strings.Contains(page, `<p class="payment">12.50 GBP to Corner Shop</p>`) {
				t.Fatalf("SCA page does not show the payment:\n%s", page)
			}
			resp, page := confirm(t, page, "recovery", recovery[0])
			isConsentPage(t, resp, page)
			claims := approve(t, consent, page, verifier)
			if claims["acr"] != oauth.ACRStrong || fmt.Sprint(claims["amr"]) != strongAMR {
				t.Fatalf("id_token acr %v amr %v", claims["acr"], claims["amr"])
			}
		})

		t.Run("fail/wrong code re-shows the page; the interaction stays", func(t *testing.T) {
			consent, page, verifier := start(t, "alice", "correct horse", nil, nil)
			resp, again := confirm(t, page, "totp", wrongTOTPCode(t, now()))
			isRefused(t, resp, again, http.StatusUnauthorized, "That code is not right. Please check your authenticator app and try again.")
			resp, again = confirm(t, again, "totp", "")
			isRefused(t, resp, again, http.StatusBadRequest, "Please enter the code from your authenticator app.")
			resp, again = confirm(t, again, "recovery", "aaaa-bbbb-cccc")
			isRefused(t, resp, again, http.StatusUnauthorized, "That recovery code is not right. Please check it and try again.")
			resp, again = confirm(t, again, "recovery", recovery[0])
			isRefused(t, resp, again, http.StatusUnauthorized, "That recovery code was already used. Please use another one.")
			resp, page = confirm(t, again, "totp", totpCode(t, now()))
			isConsentPage(t, resp, page)
			if claims := approve(t, consent, page, verifier); claims["acr"] != oauth.ACRStrong {
				t.Fatalf("acr %v", claims["acr"])
			}
		})

		t.Run("fail/reused code refused", func(t *testing.T) {
			_, page, _ := start(t, "alice", "correct horse", nil, nil)
			code := totpCode(t, now())
			resp, page := confirm(t, page, "totp", code)
			isConsentPage(t, resp, page)
			// Another authorization in the same time step, the same code.
			_, other, _ := begin(t, "alice", "correct horse", nil, nil)
			resp, again := confirm(t, other, "totp", code)
			isRefused(t, resp, again, http.StatusUnauthorized, "That code was already used. Please wait for the next code in your authenticator app.")
		})

		t.Run("fail/no code issued without confirmation", func(t *testing.T) {
			consent, page, _ := start(t, "alice", "correct horse", nil, nil)
			// The consent form posted straight from the SCA page: the
			// same interaction, no confirmation.
			loc := h.decide(c, page, "approve", url.Values{"accounts." + consent: {"acc_1"}})
			isDenied(t, loc, consent, "The customer did not complete strong customer authentication.")
		})

		t.Run("fail/payment changed after confirmation", func(t *testing.T) {
			pay := oauth.PaymentSummary{Amount: money.GBP(1250), PayeeName: "Corner Shop", PayeeScheme: "UK.OBIE.SortCodeAccountNumber", PayeeIdentification: "20000012345678"}
			for _, tc := range []struct {
				name   string
				change func(p *oauth.PaymentSummary)
			}{
				{"amount", func(p *oauth.PaymentSummary) { p.Amount = money.GBP(125000) }},
				{"payee", func(p *oauth.PaymentSummary) { p.PayeeName = "Mallory Ltd" }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					consent, page, _ := start(t, "alice", "correct horse", &pay, nil)
					resp, page := confirm(t, page, "totp", totpCode(t, now()))
					isConsentPage(t, resp, page)
					h.consents.mu.Lock()
					p := h.consents.payments[consent]
					tc.change(&p)
					h.consents.payments[consent] = p
					h.consents.mu.Unlock()
					loc := h.decide(c, page, "approve", url.Values{"accounts." + consent: {"acc_1"}})
					isDenied(t, loc, consent, "The payment changed after the customer confirmed it.")
				})
			}
		})

		t.Run("fail/locked after too many wrong codes", func(t *testing.T) {
			_, page, _ := start(t, "alice", "correct horse", nil, nil)
			wrong := wrongTOTPCode(t, now())
			locked := "Too many failed attempts. For your safety, confirming is blocked for 15 minutes at most. Please try again later."
			// Earlier right codes reset alice's count: four wrong codes are
			// refused as wrong, the fifth spends the budget.
			for i := 0; i < 4; i++ {
				resp, again := confirm(t, page, "totp", wrong)
				isRefused(t, resp, again, http.StatusUnauthorized, "That code is not right. Please check your authenticator app and try again.")
				page = again
			}
			resp, again := confirm(t, page, "totp", wrong)
			isRefused(t, resp, again, http.StatusTooManyRequests, locked)
			resp, again = confirm(t, again, "totp", totpCode(t, now()))
			isRefused(t, resp, again, http.StatusTooManyRequests, locked)
			offset.Add(int64(16 * time.Minute)) // the lock lapses for the cases after this one
		})

		t.Run("ok/customer without an authenticator app signs in as before", func(t *testing.T) {
			consent, page, verifier := start(t, "bob", "battery staple", nil, nil)
			if strings.Contains(page, "Authenticator code") || !strings.Contains(page, "<h1>Do you want to allow this?</h1>") {
				t.Fatalf("bob was not sent to the consent page:\n%s", page)
			}
			claims := approve(t, consent, page, verifier)
			if claims["acr"] != oauth.ACRPassword || fmt.Sprint(claims["amr"]) != "[pwd]" {
				t.Fatalf("id_token acr %v amr %v", claims["acr"], claims["amr"])
			}
		})
	})
}
