package oauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/passkeys"
	"github.com/bankbridge/bankbridge/oauth/passkeys/passkeystest"
	"github.com/bankbridge/bankbridge/oauth/sca"
	"github.com/bankbridge/bankbridge/oauth/secondfactors"
)

// passkeyIssuer is the relying party of the passkeys in these tests: the
// harness's server listens on 127.0.0.1, which cannot be one, and the
// software authenticator reports this origin as a browser on it would.
const passkeyIssuer = "http://localhost:8443"

// TestSCAPasskeyFlow: a customer with a passkey (alice: a device-bound one
// and nothing else; bob: a synced one and an authenticator app) confirms
// with it on the SCA page, through the page's two posts (options, then the
// answer) with a software authenticator; the answer binds what is
// authorised (dynamic linking), and refusals say why on the page and count
// with wrong codes.
func TestSCAPasskeyFlow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		var h *harness
		now := func() time.Time { return h.now() }
		box, err := secrets.NewBox(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		svc, err := sca.New(sca.Config{Store: sca.NewGormStore(d), Box: box, Throttle: throttle.NewStore(d.DB, now), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		pk, err := passkeys.New(passkeys.Config{Issuer: passkeyIssuer, Store: passkeys.NewGormStore(d), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		h = newHarness(t, d, func(_ *oauth.Config, deps *oauth.Deps) { deps.SecondFactors = secondfactors.New(svc, pk) })
		c := h.client
		ctx := context.Background()
		register := func(t *testing.T, customer string, synced bool) *passkeystest.Authenticator {
			t.Helper()
			a := passkeystest.New(t, passkeyIssuer)
			a.Synced = synced
			begun, err := pk.BeginRegistration(ctx, passkeys.Customer{ID: customer, Username: customer})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pk.FinishRegistration(ctx, begun.CeremonyID, customer, a.Create(t, begun.Options, nil), "Laptop"); err != nil {
				t.Fatal(err)
			}
			return a
		}
		alice := register(t, "cus_alice", false)
		if _, err := svc.EnrollTOTP(ctx, "cus_bob", "bob", aliceTOTPSecret); err != nil {
			t.Fatal(err)
		}
		var bob *passkeystest.Authenticator // registered after the case of a customer without a passkey

		n := 0
		// start pushes a request for a payment consent of pay (an account
		// access consent when pay is nil), logs user in and returns the
		// consent id, the page after the password and the PKCE verifier.
		start := func(t *testing.T, user, password string, pay *oauth.PaymentSummary, extra url.Values) (consent, page, verifier string) {
			t.Helper()
			n++
			typ, consent := "account_access", fmt.Sprintf("cns_pk_%d", n)
			if pay != nil {
				typ, consent = "payment_initiation", fmt.Sprintf("pcn_pk_%d", n)
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
		// options posts the page's passkey-options request and returns the
		// HTTP status and the JSON answer.
		type optionsReply struct {
			CeremonyID string          `json:"ceremony_id"`
			PublicKey  json.RawMessage `json:"publicKey"`
			Error      string          `json:"error"`
		}
		options := func(t *testing.T, page string) (int, optionsReply) {
			t.Helper()
			in, csrf := formFields(t, page)
			resp, body := c.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"sca"},
				"method": {"passkey-options"}})
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("options: %d %s %s", resp.StatusCode, ct, body)
			}
			var r optionsReply
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatalf("options: %v: %s", err, body)
			}
			return resp.StatusCode, r
		}
		mustOptions := func(t *testing.T, page string) optionsReply {
			t.Helper()
			status, r := options(t, page)
			if status != http.StatusOK || r.CeremonyID == "" || r.Error != "" {
				t.Fatalf("options: %d %+v", status, r)
			}
			var o struct {
				RPID             string `json:"rpId"`
				UserVerification string `json:"userVerification"`
			}
			if err := json.Unmarshal(r.PublicKey, &o); err != nil || o.RPID != "localhost" || o.UserVerification != "required" {
				t.Fatalf("request options %s (%v)", r.PublicKey, err)
			}
			return r
		}
		// answer posts a passkey answer on the SCA page.
		answer := func(t *testing.T, page, ceremony string, assertion []byte) (*http.Response, string) {
			t.Helper()
			in, csrf := formFields(t, page)
			return c.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"sca"},
				"method": {"passkey"}, "ceremony_id": {ceremony}, "assertion": {string(assertion)}})
		}
		// use answers the page's own options with a (edited by edit).
		use := func(t *testing.T, a *passkeystest.Authenticator, page string, edit func(*passkeystest.Gesture)) (*http.Response, string) {
			t.Helper()
			o := mustOptions(t, page)
			return answer(t, page, o.CeremonyID, a.Get(t, o.PublicKey, edit))
		}
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
		has := func(t *testing.T, page string, want, not []string) {
			t.Helper()
			for _, w := range want {
				if !strings.Contains(page, w) {
					t.Fatalf("page lacks %q:\n%s", w, page)
				}
			}
			for _, w := range not {
				if strings.Contains(page, w) {
					t.Fatalf("page has %q:\n%s", w, page)
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
			has(t, page, []string{"<h1>Confirm it is you</h1>", "Use a passkey"}, nil)
		}
		isDenied := func(t *testing.T, loc *url.URL, consent, hint string) {
			t.Helper()
			q := loc.Query()
			if q.Get("error") != "access_denied" || q.Get("error_description") != accessDeniedDescription+hint || q.Has("code") {
				t.Fatalf("redirect %s", loc)
			}
		}
		payment := func(minor int64, payee string) *oauth.PaymentSummary {
			return &oauth.PaymentSummary{Amount: money.GBP(minor), PayeeName: payee, PayeeScheme: "UK.OBIE.SortCodeAccountNumber", PayeeIdentification: "20000012345678"}
		}
		const (
			msgRefused = "Your passkey could not be checked. Please try again."
			msgChanged = "The payment changed after you confirmed it with your passkey. Please check the payment and confirm again."
			msgLocked  = "Too many failed attempts. For your safety, confirming is blocked for 15 minutes at most. Please try again later."
		)

		t.Run("fail/options for a customer without a passkey", func(t *testing.T) {
			_, page, _ := start(t, "bob", "battery staple", nil, nil)
			has(t, page, []string{`<label for="code">Authenticator code</label>`}, []string{"Use a passkey"})
			status, r := options(t, page)
			if status != http.StatusBadRequest || r.Error != "You have no passkey for this bank. Please confirm another way." || r.CeremonyID != "" || r.PublicKey != nil {
				t.Fatalf("options: %d %+v", status, r)
			}
			bob = register(t, "cus_bob", true)
		})

		t.Run("ok/device-bound passkey authorises a payment: acr sca, amr pwd hwk mfa, meets essential acr sca", func(t *testing.T) {
			consent, page, verifier := start(t, "alice", "correct horse", payment(4500, "Corner Shop"), url.Values{"claims": {claimsACR(true, oauth.ACRStrong)}})
			has(t, page, []string{"<h1>Confirm it is you</h1>", `<p class="payment">45.00 GBP to Corner Shop</p>`, "Use a passkey"},
				[]string{"Authenticator code", "Use a recovery code"})
			resp, page := use(t, alice, page, nil)
			isConsentPage(t, resp, page)
			claims := approve(t, consent, page, verifier)
			if claims["acr"] != oauth.ACRStrong || fmt.Sprint(claims["amr"]) != "[pwd hwk mfa]" {
				t.Fatalf("id_token acr %v amr %v", claims["acr"], claims["amr"])
			}
		})

		t.Run("ok/synced passkey next to an authenticator app: amr pwd swk mfa", func(t *testing.T) {
			consent, page, verifier := start(t, "bob", "battery staple", nil, nil)
			has(t, page, []string{"Use a passkey", `<label for="code">Authenticator code</label>`}, nil)
			resp, page := use(t, bob, page, nil)
			isConsentPage(t, resp, page)
			claims := approve(t, consent, page, verifier)
			if claims["acr"] != oauth.ACRStrong || fmt.Sprint(claims["amr"]) != "[pwd swk mfa]" {
				t.Fatalf("id_token acr %v amr %v", claims["acr"], claims["amr"])
			}
		})

		t.Run("fail/payment A's challenge used for payment B", func(t *testing.T) {
			_, pageA, _ := start(t, "alice", "correct horse", payment(4500, "Corner Shop"), nil)
			oa := mustOptions(t, pageA)
			consentB, pageB, _ := start(t, "alice", "correct horse", payment(450000, "Mallory Ltd"), nil)
			resp, again := answer(t, pageB, oa.CeremonyID, alice.Get(t, oa.PublicKey, nil))
			isRefused(t, resp, again, http.StatusConflict, msgChanged)
			// Nothing was confirmed for B: approving it is refused.
			loc := h.decide(c, again, "approve", url.Values{"accounts." + consentB: {"acc_1"}})
			isDenied(t, loc, consentB, "The customer did not complete strong customer authentication.")
		})

		t.Run("fail/payment changed after the passkey confirmed it", func(t *testing.T) {
			consent, page, _ := start(t, "alice", "correct horse", payment(4500, "Corner Shop"), nil)
			resp, page := use(t, alice, page, nil)
			isConsentPage(t, resp, page)
			h.consents.mu.Lock()
			p := h.consents.payments[consent]
			p.PayeeName = "Mallory Ltd"
			h.consents.payments[consent] = p
			h.consents.mu.Unlock()
			loc := h.decide(c, page, "approve", url.Values{"accounts." + consent: {"acc_1"}})
			isDenied(t, loc, consent, "The payment changed after the customer confirmed it.")
		})

		t.Run("fail/refusals re-show the page; the interaction stays", func(t *testing.T) {
			consent, page, verifier := start(t, "alice", "correct horse", payment(4500, "Corner Shop"), nil)
			resp, again := answer(t, page, "", nil)
			isRefused(t, resp, again, http.StatusBadRequest, "Please use your passkey to confirm.")
			resp, again = use(t, alice, again, func(g *passkeystest.Gesture) { g.BadSig = true })
			isRefused(t, resp, again, http.StatusUnauthorized, msgRefused)
			resp, again = use(t, alice, again, func(g *passkeystest.Gesture) { g.Count = 1 })
			isRefused(t, resp, again, http.StatusUnauthorized, msgRefused) // the counter went back
			resp, again = use(t, alice, again, func(g *passkeystest.Gesture) { g.Origin = "https://bank.example.net" })
			isRefused(t, resp, again, http.StatusUnauthorized, msgRefused)
			o := mustOptions(t, again)
			assertion := alice.Get(t, o.PublicKey, nil)
			resp, page = answer(t, again, o.CeremonyID, assertion)
			isConsentPage(t, resp, page)
			// The same answer again: its ceremony is used.
			_, other, _ := start(t, "alice", "correct horse", payment(4500, "Corner Shop"), nil)
			resp, refused := answer(t, other, o.CeremonyID, assertion)
			isRefused(t, resp, refused, http.StatusUnauthorized, msgRefused)
			if claims := approve(t, consent, page, verifier); fmt.Sprint(claims["amr"]) != "[pwd hwk mfa]" {
				t.Fatalf("amr %v", claims["amr"])
			}
		})

		t.Run("fail/CSRF token missing from the options request", func(t *testing.T) {
			_, page, _ := start(t, "alice", "correct horse", nil, nil)
			in, _ := formFields(t, page)
			resp, body := c.postPage("/authorize", url.Values{"interaction": {in}, "step": {"sca"}, "method": {"passkey-options"}})
			if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "challenge") {
				t.Fatalf("options without CSRF token: %d %s", resp.StatusCode, body)
			}
		})

		t.Run("fail/locked after five refusals", func(t *testing.T) {
			_, page, _ := start(t, "alice", "correct horse", nil, nil)
			// A right passkey resets alice's count: four refusals are
			// refused as such, the fifth spends the budget.
			resp, _ := use(t, alice, page, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			_, page, _ = start(t, "alice", "correct horse", nil, nil)
			bad := func(g *passkeystest.Gesture) { g.BadSig = true }
			for i := 0; i < 4; i++ {
				resp, again := use(t, alice, page, bad)
				isRefused(t, resp, again, http.StatusUnauthorized, msgRefused)
				page = again
			}
			resp, again := use(t, alice, page, bad)
			isRefused(t, resp, again, http.StatusTooManyRequests, msgLocked)
			resp, again = use(t, alice, again, nil)
			isRefused(t, resp, again, http.StatusTooManyRequests, msgLocked)
			h.advance(16 * time.Minute)
		})
	})
}
