package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/oauth"
)

func TestCustomerAuthPages(t *testing.T) {
	p := NewCustomerAuth(MustRenderer(), true)
	render := func(f func(w http.ResponseWriter, r *http.Request)) (*httptest.ResponseRecorder, string) {
		rec := httptest.NewRecorder()
		f(rec, httptest.NewRequest("GET", "/authorize", nil))
		return rec, rec.Body.String()
	}
	t.Run("ok/login", func(t *testing.T) {
		rec, body := render(func(w http.ResponseWriter, r *http.Request) {
			p.Login(w, r, oauth.LoginPage{Action: "/authorize", InteractionID: "int-1", ClientName: "Pocket Wallet", PartnerName: "Acme Payments", Username: "alice", Error: "The username or password is not right.", Status: 401})
		})
		for _, want := range []string{`<label for="username">Username</label>`, `id="username" name="username" value="alice"`,
			`<label for="password">Password</label>`, `type="password" id="password"`, `<button type="submit">Log in</button>`,
			`name="interaction" value="int-1"`, `name="step" value="login"`, "Pocket Wallet", "Acme Payments",
			`role="alert">The username or password is not right.`, "<h1>Log in to your bank</h1>"} {
			if !strings.Contains(body, want) {
				t.Fatalf("login page lacks %q:\n%s", want, body)
			}
		}
		if rec.Code != 401 {
			t.Fatalf("status %d", rec.Code)
		}
		ck := rec.Result().Cookies()
		if len(ck) != 1 || ck[0].Name != CSRFCookie || !ck[0].Secure || !strings.Contains(body, `name="csrf_token" value="`+ck[0].Value+`"`) {
			t.Fatalf("csrf cookie %v", ck)
		}
	})
	t.Run("ok/consent", func(t *testing.T) {
		exp := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
		_, body := render(func(w http.ResponseWriter, r *http.Request) {
			p.Consent(w, r, oauth.ConsentPage{Action: "/authorize", InteractionID: "int-2", ClientName: "Pocket Wallet", PartnerName: "Acme Payments",
				CustomerName: "Alice Example",
				Scopes:       []oauth.ScopeText{{Scope: "accounts", Text: "See the accounts you choose"}},
				Details: []oauth.ConsentDescription{
					{ConsentID: "cns_1", Title: "Read your account information", Lines: []string{"Your balances", "Your transactions"}, ExpiresAt: exp, SelectMode: "multi",
						Accounts: []oauth.SelectableAccount{{ID: "acc_1", Label: "Current account", Masked: "•••• 1234"}, {ID: "acc_2", Label: "Old account", Masked: "•••• 5678", Disabled: true}}},
					{ConsentID: "pcn_1", Title: "Make a payment of £12.50", Lines: []string{"To: Corner Shop"}, SelectMode: "single",
						Accounts: []oauth.SelectableAccount{{ID: "acc_1", Label: "Current account", Masked: "•••• 1234", Selected: true}}},
				}})
		})
		for _, want := range []string{"Pocket Wallet", "Acme Payments", "See the accounts you choose", "<h2>Read your account information</h2>",
			"<li>Your balances</li>", "<li>Your transactions</li>", "1 Mar 2027",
			`type="checkbox" name="accounts.cns_1" value="acc_1"`, `value="acc_2" disabled`, "Current account •••• 1234",
			`type="radio" name="accounts.pcn_1" value="acc_1" checked`, "<li>To: Corner Shop</li>",
			`name="decision" value="approve">Authorise</button>`, `name="decision" value="deny" class="secondary" formnovalidate>Deny</button>`,
			`name="interaction" value="int-2"`, `name="step" value="consent"`, `name="csrf_token"`, "Signed in as Alice Example"} {
			if !strings.Contains(body, want) {
				t.Fatalf("consent page lacks %q:\n%s", want, body)
			}
		}
	})
	t.Run("ok/sca", func(t *testing.T) {
		rec, body := render(func(w http.ResponseWriter, r *http.Request) {
			p.SCA(w, r, oauth.SCAPage{Action: "/authorize", InteractionID: "int-3", ClientName: "Pocket Wallet", PartnerName: "Acme Payments",
				CustomerName: "Alice Example", Payments: []oauth.PaymentSummary{{Amount: money.GBP(1250), PayeeName: "Corner Shop"}},
				AuthenticatorApp: true, RecoveryCodes: true, Error: "That code is not right.", Status: 401})
		})
		if strings.Contains(body, "Use a passkey") || strings.Contains(body, "sca-passkey.js") {
			t.Fatalf("SCA page of a customer without a passkey offers one:\n%s", body)
		}
		for _, want := range []string{"<h1>Confirm it is you</h1>", "Pocket Wallet", "Acme Payments",
			`<label for="code">Authenticator code</label>`, `id="code" name="code"`, `autocomplete="one-time-code"`,
			"<summary>Use a recovery code</summary>", `<label for="recovery_code">Recovery code</label>`, `id="recovery_code" name="code"`,
			`name="method" value="totp"`, `name="method" value="recovery"`, `name="step" value="sca"`, `name="interaction" value="int-3"`,
			"Amount: <strong>12.50 GBP</strong>", "To: <strong>Corner Shop</strong>",
			`role="alert">That code is not right.`, `name="csrf_token"`} {
			if !strings.Contains(body, want) {
				t.Fatalf("SCA page lacks %q:\n%s", want, body)
			}
		}
		if rec.Code != 401 {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("ok/sca with a passkey only", func(t *testing.T) {
		_, body := render(func(w http.ResponseWriter, r *http.Request) {
			p.SCA(w, r, oauth.SCAPage{Action: "/authorize", InteractionID: "int-4", ClientName: "Pocket Wallet",
				Payments: []oauth.PaymentSummary{{Amount: money.GBP(4500), PayeeName: "Corner Shop"}}, Passkey: true})
		})
		for _, want := range []string{"<h1>Confirm it is you</h1>", "Please confirm with your passkey.",
			`<form method="post" action="/authorize" id="sca-passkey" hidden>`, `<button type="submit">Use a passkey</button>`,
			`name="method" value="passkey"`, `name="ceremony_id" value=""`, `name="assertion" value=""`,
			`name="interaction" value="int-4"`, `<script src="/static/webauthn-json.js" defer></script>
  <script src="/static/sca-passkey.js" defer></script>`, "Amount: <strong>45.00 GBP</strong>"} {
			if !strings.Contains(body, want) {
				t.Fatalf("SCA page lacks %q:\n%s", want, body)
			}
		}
		for _, not := range []string{"Authenticator code", "Use a recovery code", `value="totp"`} {
			if strings.Contains(body, not) {
				t.Fatalf("SCA page of a passkey-only customer has %q:\n%s", not, body)
			}
		}
	})
	t.Run("ok/error", func(t *testing.T) {
		rec, body := render(func(w http.ResponseWriter, r *http.Request) {
			p.Error(w, r, oauth.ErrorPage{Status: 400, Title: "We could not start the sign-in", Message: "Please go back to the app.", Code: "invalid_request_uri", Hint: "Invalid PAR session"})
		})
		if rec.Code != 400 || !strings.Contains(body, "<h1>We could not start the sign-in</h1>") || !strings.Contains(body, "invalid_request_uri — Invalid PAR session") {
			t.Fatalf("%d %s", rec.Code, body)
		}
	})
	t.Run("fail/CSRF", func(t *testing.T) {
		rec, _ := render(func(w http.ResponseWriter, r *http.Request) { p.Login(w, r, oauth.LoginPage{}) })
		ck := rec.Result().Cookies()[0]
		post := func(tok string) bool {
			r := httptest.NewRequest("POST", "/authorize", strings.NewReader(url.Values{CSRFField: {tok}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.AddCookie(ck)
			r.ParseForm()
			return p.CheckCSRF(r)
		}
		if !post(ck.Value) || post("forged") || post("") {
			t.Fatal("CSRF check wrong")
		}
	})
}

// TestSCAPasskeyScriptServed: the SCA page's passkey script is a static
// file (the CSP allows no inline script) posting the form's fields with the
// method values oauth reads.
func TestSCAPasskeyScriptServed(t *testing.T) {
	rec := httptest.NewRecorder()
	Static().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/static/sca-passkey.js", nil))
	body := rec.Body.String()
	for _, want := range []string{"'" + oauth.MethodPasskeyOptions + "'", "navigator.credentials.get", "webauthn.requestOptions(",
		"webauthn.credentialJSON(", "form.elements." + oauth.FieldCeremony, "form.elements." + oauth.FieldAssertion, "csrf_token", "form.submit()"} {
		if rec.Code != 200 || !strings.Contains(body, want) {
			t.Fatalf("%d: lacks %q\n%s", rec.Code, want, body)
		}
	}
}

// TestWebAuthnJSONScriptServed: the one copy of WebAuthn's JSON forms both
// passkey scripts use is a static file with the browser's own parsers
// preferred and the base64url fallback.
func TestWebAuthnJSONScriptServed(t *testing.T) {
	rec := httptest.NewRecorder()
	Static().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/static/webauthn-json.js", nil))
	body := rec.Body.String()
	for _, want := range []string{"window.BankbridgeWebAuthn", "parseCreationOptionsFromJSON", "parseRequestOptionsFromJSON",
		"cred.toJSON", "function b64urlToBytes", "function bytesToB64url"} {
		if rec.Code != 200 || !strings.Contains(body, want) {
			t.Fatalf("%d: lacks %q\n%s", rec.Code, want, body)
		}
	}
}
