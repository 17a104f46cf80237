package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/gin-gonic/gin"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/passkeys"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// securityNow is the Security tests' clock: the middle of a 30-second
// TOTP step.
var securityNow = time.Date(2026, 12, 4, 10, 0, 15, 0, time.UTC)

// secCustomers is an authenticator of production customers alice ("pw")
// and bob ("pw") that, like the throttled one, answers
// oauth.ErrLoginThrottled once a customer has had 5 wrong passwords.
type secCustomers struct {
	mu    sync.Mutex
	wrong map[string]int
}

var secUsers = map[string]string{"alice": "cus_alice", "bob": "cus_bob"}

func (f *secCustomers) Authenticate(_ context.Context, env environment.Environment, u, p string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := secUsers[u]
	switch {
	case !ok || env != environment.Production:
		return "", oauth.ErrBadCredentials
	case f.wrong[u] >= 5:
		return "", oauth.ErrLoginThrottled
	case p != "pw":
		f.wrong[u]++
		return "", oauth.ErrBadCredentials
	}
	return id, nil
}
func (f *secCustomers) DisplayName(context.Context, string) (string, error) { return "Alice", nil }

type secUsernames struct{}

func (secUsernames) Username(_ context.Context, id string) (string, error) {
	for u, x := range secUsers {
		if x == id {
			return u, nil
		}
	}
	return "", errors.New("no such customer")
}

// securityFixture is a dashboard with the Security page on real services.
type securityFixture struct {
	srv      *httptest.Server
	d        *db.DB
	sca      *sca.Service
	passkeys *passkeys.Service
	clock    *secClock
}

// secClock is the Security tests' clock (second factors, throttle,
// passkeys and sessions), from securityNow, moved on by hand.
type secClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *secClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// advance moves the clock on by d.
func (c *secClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

const securityOrigin = "http://localhost:8443"

func newSecurityFixture(t *testing.T, d *db.DB, env environment.Environment, withPasskeys bool) securityFixture {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secrets.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	clock := &secClock{t: securityNow}
	now := clock.now
	svc, err := sca.New(sca.Config{Store: sca.NewGormStore(d), Box: box, Throttle: throttle.NewStore(d.DB, now),
		Settings: sca.DefaultSettings(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var pk *passkeys.Service
	if withPasskeys {
		if pk, err = passkeys.New(passkeys.Config{Issuer: securityOrigin, Store: passkeys.NewGormStore(d), Now: now}); err != nil {
			t.Fatal(err)
		}
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	(&CustomerDashboard{Environment: env, Pages: MustRenderer(), Sessions: &Sessions{DB: d.DB, Now: now},
		Customers: &secCustomers{wrong: map[string]int{}}, Consents: &fakeConsents{}, SCA: svc, Passkeys: pk,
		Usernames: secUsernames{}, DB: d.DB, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return securityFixture{srv: srv, d: d, sca: svc, passkeys: pk, clock: clock}
}

var (
	secCSRFRe       = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	secAlertRe      = regexp.MustCompile(`(?s)<p class="error" role="alert">(.*?)</p>`)
	secFlashRe      = regexp.MustCompile(`(?s)<p class="flash" role="status">(.*?)</p>`)
	totpSecretRe    = regexp.MustCompile(`<code id="totp-secret" class="wrap">([A-Z2-7 ]+)</code>`)
	recoveryCodesRe = regexp.MustCompile(`<li><code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</code></li>`)
)

// secBrowser is one signed-in customer's browser.
type secBrowser struct {
	t      *testing.T
	srv    string
	client *http.Client
	token  string
}

type secAnswer struct {
	status int
	path   string // where the request ended, after redirects
	body   string
	alert  string // the page's error message
	flash  string
}

func (b *secBrowser) do(req *http.Request) secAnswer {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := secAnswer{status: resp.StatusCode, path: resp.Request.URL.Path, body: string(body)}
	if m := secAlertRe.FindStringSubmatch(a.body); m != nil {
		a.alert = html.UnescapeString(strings.TrimSpace(m[1]))
	}
	if m := secFlashRe.FindStringSubmatch(a.body); m != nil {
		a.flash = html.UnescapeString(strings.TrimSpace(m[1]))
	}
	if m := secCSRFRe.FindStringSubmatch(a.body); m != nil {
		b.token = m[1]
	}
	return a
}

func (b *secBrowser) get(path string) secAnswer {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.srv+path, nil)
	return b.do(req)
}

// post posts form (with the browser's CSRF token unless noCSRF).
func (b *secBrowser) post(path string, form url.Values, noCSRF bool) secAnswer {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !noCSRF {
		form.Set("csrf_token", b.token)
	}
	req, _ := http.NewRequest(http.MethodPost, b.srv+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// postJSON posts body as JSON, with the X-CSRF-Token header unless noCSRF.
func (b *secBrowser) postJSON(path string, body any, noCSRF bool) (int, map[string]any) {
	b.t.Helper()
	j, err := json.Marshal(body)
	if err != nil {
		b.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, b.srv+path, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	if !noCSRF {
		req.Header.Set("X-CSRF-Token", b.token)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		b.t.Fatalf("%s answered %d, not JSON: %s", path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// newSecBrowser opens a browser on base and, when user is set, signs in.
func newSecBrowser(t *testing.T, srv, base, user string) *secBrowser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &secBrowser{t: t, srv: srv, client: &http.Client{Jar: jar}}
	b.get(base + "/login")
	if user != "" {
		if a := b.post(base+"/login", url.Values{"username": {user}, "password": {"pw"}}, false); a.status != 200 {
			t.Fatalf("sign in as %s: %d %s", user, a.status, a.alert)
		}
	}
	return b
}

// stepUp posts the "Confirm it's you" form.
func (b *secBrowser) stepUp(base, password, code string) secAnswer {
	b.t.Helper()
	return b.post(base+"/security/step-up", url.Values{"password": {password}, "code": {code}}, false)
}

// mustStepUp confirms it's the customer or fails the test.
func (b *secBrowser) mustStepUp(base, password, code string) {
	b.t.Helper()
	if a := b.stepUp(base, password, code); a.status != 200 || a.flash != msgStepUpDone || a.path != base+"/security" {
		b.t.Fatalf("step-up: %d at %s %q %q", a.status, a.path, a.alert, a.flash)
	}
}

func mustCode(t *testing.T, secret string) string {
	t.Helper()
	return codeAt(t, secret, securityNow)
}

// codeAt is the authenticator code of secret at time at.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(strings.ReplaceAll(secret, " ", ""), at,
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func auditActions(t *testing.T, d *db.DB, customerID string) []string {
	t.Helper()
	evs, err := audit.List(context.Background(), d.DB, audit.Filter{ActorType: audit.ActorCustomer, ActorID: customerID})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return out
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// auditEvents are the customer's own audit entries of action, by time.
func auditEvents(t *testing.T, d *db.DB, customerID, action string) []audit.Event {
	t.Helper()
	evs, err := audit.List(context.Background(), d.DB, audit.Filter{ActorType: audit.ActorCustomer, ActorID: customerID})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, e := range evs {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// hasAuditDetail reports whether some entry of action holds all of want
// in its details.
func hasAuditDetail(t *testing.T, d *db.DB, customerID, action string, want map[string]string) bool {
	t.Helper()
	for _, e := range auditEvents(t, d, customerID, action) {
		var got map[string]any
		if err := json.Unmarshal([]byte(e.Details), &got); err != nil {
			t.Fatal(err)
		}
		ok := true
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok {
			return true
		}
	}
	return false
}

// TestCustomerSecurityTOTP: setting up an authenticator app behind a
// password step-up (the first factor), recovery codes shown once, and,
// once the app is set up, every change behind a strong step-up (the
// password and a current code or a recovery code), per session, for 5
// minutes.
func TestCustomerSecurityTOTP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newSecurityFixture(t, d, environment.Production, true)
		ctx := context.Background()
		b := newSecBrowser(t, f.srv.URL, "/customer", "alice")

		a := b.get("/customer/security")
		if a.status != 200 || !strings.Contains(a.body, `action="/customer/security/step-up"`) ||
			!strings.Contains(a.body, `<label for="step-up-password">Your password</label>`) ||
			strings.Contains(a.body, `id="step-up-code"`) || strings.Contains(a.body, `action="/customer/security/totp"`) ||
			strings.Contains(a.body, `id="passkey-add"`) || !strings.Contains(a.body, `<script src="/static/webauthn-json.js" defer></script>
  <script src="/static/passkeys.js" defer></script>`) ||
			!strings.Contains(a.body, `aria-current="page">Security</a>`) {
			t.Fatalf("security page: %d\n%s", a.status, a.body)
		}

		// Refusals before any step-up or setup.
		for _, tc := range []struct {
			name, path   string
			form         url.Values
			noCSRF       bool
			status       int
			alert, where string
		}{
			{"fail/begin-without-csrf", "/customer/security/totp", nil, true, 403, msgSessionExpired, "/customer/security/totp"},
			{"fail/first-factor-without-step-up", "/customer/security/totp", nil, false, 403, msgStepUpFirst, "/customer/security/totp"},
			{"fail/confirm-without-setup", "/customer/security/totp/confirm", url.Values{"code": {"123456"}}, false, 409, msgTOTPSetupGone, "/customer/security/totp/confirm"},
			{"fail/codes-without-csrf", "/customer/security/recovery-codes", nil, true, 403, msgSessionExpired, "/customer/security/recovery-codes"},
			{"fail/codes-without-step-up", "/customer/security/recovery-codes", nil, false, 403, msgStepUpFirst, "/customer/security/recovery-codes"},
			{"fail/step-up-without-csrf", "/customer/security/step-up", url.Values{"password": {"pw"}}, true, 403, msgSessionExpired, "/customer/security/step-up"},
			{"fail/step-up-without-password", "/customer/security/step-up", nil, false, 401, msgStepUpWrongPw, "/customer/security/step-up"},
			{"fail/step-up-wrong-password", "/customer/security/step-up", url.Values{"password": {"nope"}}, false, 401, msgStepUpWrongPw, "/customer/security/step-up"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := b.post(tc.path, tc.form, tc.noCSRF)
				if a.status != tc.status || a.alert != tc.alert || a.path != tc.where || recoveryCodesRe.MatchString(a.body) {
					t.Fatalf("%d %q at %s, want %d %q", a.status, a.alert, a.path, tc.status, tc.alert)
				}
				if fs, _ := f.sca.Factors(ctx, "cus_alice"); len(fs) != 0 {
					t.Fatalf("factors after refusals: %+v", fs)
				}
			})
		}
		if !hasAuditDetail(t, d, "cus_alice", "customer.security_change_refused", map[string]string{"change": "totp_setup", "reason": "step_up_required", "needed": StepUpPassword}) ||
			!hasAuditDetail(t, d, "cus_alice", "customer.step_up_refused", map[string]string{"reason": "wrong_password", "method": "password"}) {
			t.Fatalf("audit of the refusals: %v", auditActions(t, d, "cus_alice"))
		}

		t.Run("ok/first-factor-with-password", func(t *testing.T) {
			a := b.stepUp("/customer", "pw", "")
			if a.status != 200 || a.path != "/customer/security" || a.flash != msgStepUpDone ||
				!strings.Contains(a.body, `action="/customer/security/totp"`) || strings.Contains(a.body, `action="/customer/security/step-up"`) {
				t.Fatalf("%d at %s %q %q:\n%s", a.status, a.path, a.alert, a.flash, a.body)
			}
			if !hasAuditDetail(t, d, "cus_alice", "customer.step_up", map[string]string{"strength": StepUpPassword, "method": "password", "environment": "production"}) {
				t.Fatalf("audit: %v", auditActions(t, d, "cus_alice"))
			}
		})
		t.Run("fail/remove-without-app", func(t *testing.T) {
			a := b.post("/customer/security/totp/remove", nil, false)
			if a.status != 404 || a.alert != msgNoTOTP {
				t.Fatalf("%d %q", a.status, a.alert)
			}
		})

		// Begin: the secret (grouped) and the otpauth URI.
		a = b.post("/customer/security/totp", nil, false)
		m := totpSecretRe.FindStringSubmatch(a.body)
		if a.status != 200 || m == nil || !strings.Contains(a.body, `href="otpauth://totp/Bankbridge:alice?`) ||
			!strings.Contains(a.body, `<label for="code">Authenticator code</label>`) {
			t.Fatalf("begin: %d\n%s", a.status, a.body)
		}
		secret := m[1]
		if groups := strings.Fields(secret); len(groups) != 8 || len(groups[0]) != 4 {
			t.Fatalf("secret %q is not in groups of four", secret)
		}
		if !strings.Contains(html.UnescapeString(a.body), "secret="+strings.ReplaceAll(secret, " ", "")) {
			t.Fatal("the URI carries another secret than the one shown")
		}
		// wrongAt is a code that is not secret's at at (nor a step either side).
		wrongAt := func(at time.Time) string {
			for _, w := range []string{"000000", "111111", "222222", "333333"} {
				if w != codeAt(t, secret, at.Add(-30*time.Second)) && w != codeAt(t, secret, at) && w != codeAt(t, secret, at.Add(30*time.Second)) {
					return w
				}
			}
			t.Fatal("no wrong code")
			return ""
		}
		wrong := wrongAt(securityNow)

		t.Run("fail/wrong-code", func(t *testing.T) {
			a := b.post("/customer/security/totp/confirm", url.Values{"code": {wrong}}, false)
			if a.status != 422 || a.alert != msgWrongTOTPCode || totpSecretRe.MatchString(a.body) ||
				!strings.Contains(a.body, `action="/customer/security/totp/confirm"`) {
				t.Fatalf("%d %q:\n%s", a.status, a.alert, a.body)
			}
		})
		t.Run("fail/confirm-without-csrf", func(t *testing.T) {
			a := b.post("/customer/security/totp/confirm", url.Values{"code": {mustCode(t, secret)}}, true)
			if a.status != 403 || a.alert != msgSessionExpired {
				t.Fatalf("%d %q", a.status, a.alert)
			}
			if on, _ := f.sca.HasSecondFactor(ctx, "cus_alice"); on {
				t.Fatal("the app was activated without a CSRF token")
			}
		})

		var codes []string
		t.Run("ok/confirm-shows-recovery-codes-once", func(t *testing.T) {
			c := mustCode(t, secret)
			a := b.post("/customer/security/totp/confirm", url.Values{"code": {c[:3] + " " + c[3:]}}, false)
			for _, m := range recoveryCodesRe.FindAllStringSubmatch(a.body, -1) {
				codes = append(codes, m[1])
			}
			if a.status != 200 || a.flash != "Your authenticator app is set up." || len(codes) != sca.RecoveryCodeCount ||
				!strings.Contains(a.body, "they are shown only this once") {
				t.Fatalf("%d %q, %d codes:\n%s", a.status, a.flash, len(codes), a.body)
			}
			if on, _ := f.sca.HasSecondFactor(ctx, "cus_alice"); !on {
				t.Fatal("no active app after confirming")
			}
			again := b.get("/customer/security")
			for _, c := range codes {
				if strings.Contains(again.body, c) {
					t.Fatalf("recovery code %s shown again:\n%s", c, again.body)
				}
			}
			// The password step-up is not enough now: the page asks for a code.
			if !strings.Contains(again.body, "10 of 10 codes left") || !strings.Contains(again.body, `<span class="badge ok">Set up</span>`) ||
				strings.Contains(again.body, `action="/customer/security/totp"`) || strings.Contains(again.body, `action="/customer/security/recovery-codes"`) ||
				!strings.Contains(again.body, `<label for="step-up-code">Authenticator code</label>`) {
				t.Fatalf("security page after setup:\n%s", again.body)
			}
		})
		t.Run("fail/confirm-again", func(t *testing.T) {
			a := b.post("/customer/security/totp/confirm", url.Values{"code": {mustCode(t, secret)}}, false)
			if a.status != 409 || a.alert != msgTOTPSetupGone {
				t.Fatalf("%d %q", a.status, a.alert)
			}
		})

		// With an app set up, changes need the password and a current code.
		unchanged := func(t *testing.T) {
			t.Helper()
			if on, _ := f.sca.HasSecondFactor(ctx, "cus_alice"); !on {
				t.Fatal("the app was removed")
			}
			if creds, _ := f.passkeys.Credentials(ctx, "cus_alice"); len(creds) != 0 {
				t.Fatalf("passkeys: %+v", creds)
			}
		}
		for _, tc := range []struct{ name, path string }{
			{"fail/second-factor-without-step-up/remove", "/customer/security/totp/remove"},
			{"fail/second-factor-without-step-up/codes", "/customer/security/recovery-codes"},
			{"fail/second-factor-without-step-up/begin", "/customer/security/totp"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := b.post(tc.path, nil, false)
				if a.status != 403 || a.alert != msgStepUpFirst || recoveryCodesRe.MatchString(a.body) || totpSecretRe.MatchString(a.body) {
					t.Fatalf("%d %q", a.status, a.alert)
				}
				unchanged(t)
			})
		}
		t.Run("fail/second-factor-without-step-up/passkey", func(t *testing.T) {
			status, body := b.postJSON("/customer/security/passkeys/options", map[string]any{}, false)
			if status != 403 || body["detail"] != msgStepUpFirst || body["publicKey"] != nil {
				t.Fatalf("%d %v", status, body)
			}
			unchanged(t)
		})
		if !hasAuditDetail(t, d, "cus_alice", "customer.security_change_refused", map[string]string{"change": "passkey_setup", "needed": StepUpStrong}) {
			t.Fatalf("audit: %v", auditActions(t, d, "cus_alice"))
		}

		// The code of the setup's time step was used to confirm the app.
		f.clock.advance(30 * time.Second)
		current := codeAt(t, secret, f.clock.now())
		for _, tc := range []struct {
			name, password, code string
			status               int
			alert, reason        string
		}{
			{"fail/step-up-password-only", "pw", "", 422, msgStepUpNeedCode, "no_code"},
			{"fail/strong-step-up-wrong-password", "nope", current, 401, msgStepUpWrongPw, "wrong_password"},
			{"fail/step-up-wrong-code", "pw", wrongAt(f.clock.now()), 422, msgStepUpWrongCode, "wrong_code"},
			{"fail/step-up-reused-code", "pw", mustCode(t, secret), 422, msgStepUpCodeUsed, "code_used"},
			{"fail/step-up-wrong-recovery-code", "pw", "aaaa-bbbb-cccc", 422, msgStepUpWrongRec, "wrong_code"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := b.stepUp("/customer", tc.password, tc.code)
				if a.status != tc.status || a.alert != tc.alert || a.path != "/customer/security/step-up" {
					t.Fatalf("%d %q at %s, want %d %q", a.status, a.alert, a.path, tc.status, tc.alert)
				}
				if a := b.post("/customer/security/recovery-codes", nil, false); a.status != 403 || a.alert != msgStepUpFirst {
					t.Fatalf("after a refused step-up: %d %q", a.status, a.alert)
				}
				if !hasAuditDetail(t, d, "cus_alice", "customer.step_up_refused", map[string]string{"reason": tc.reason}) {
					t.Fatalf("audit: %v", auditActions(t, d, "cus_alice"))
				}
			})
		}
		t.Run("ok/with-a-current-totp-code", func(t *testing.T) {
			b.mustStepUp("/customer", "pw", current[:3]+" "+current[3:])
			if !hasAuditDetail(t, d, "cus_alice", "customer.step_up", map[string]string{"strength": StepUpStrong, "method": "totp"}) {
				t.Fatalf("audit: %v", auditActions(t, d, "cus_alice"))
			}
			if a := b.post("/customer/security/totp", nil, false); a.status != 409 || a.alert != msgTOTPEnrolled {
				t.Fatalf("a second app: %d %q", a.status, a.alert)
			}
		})

		// Another session of the same customer, and another customer.
		other := newSecBrowser(t, f.srv.URL, "/customer", "alice")
		other.get("/customer/security")
		bob := newSecBrowser(t, f.srv.URL, "/customer", "bob")
		bob.get("/customer/security")
		t.Run("fail/reused-code-in-another-session", func(t *testing.T) {
			a := other.stepUp("/customer", "pw", current)
			if a.status != 422 || a.alert != msgStepUpCodeUsed {
				t.Fatalf("%d %q", a.status, a.alert)
			}
		})
		t.Run("fail/step-up-of-another-session", func(t *testing.T) {
			if a := other.post("/customer/security/recovery-codes", nil, false); a.status != 403 || a.alert != msgStepUpFirst || recoveryCodesRe.MatchString(a.body) {
				t.Fatalf("%d %q", a.status, a.alert)
			}
			if status, body := other.postJSON("/customer/security/passkeys/options", map[string]any{}, false); status != 403 || body["detail"] != msgStepUpFirst {
				t.Fatalf("%d %v", status, body)
			}
			unchanged(t)
		})
		t.Run("fail/step-up-of-another-customer", func(t *testing.T) {
			if a := bob.post("/customer/security/totp", nil, false); a.status != 403 || a.alert != msgStepUpFirst || totpSecretRe.MatchString(a.body) {
				t.Fatalf("%d %q", a.status, a.alert)
			}
			// Bob's step-up (his password: he has no factor) is his session's only.
			bob.mustStepUp("/customer", "pw", "")
			if a := other.post("/customer/security/totp/remove", nil, false); a.status != 403 || a.alert != msgStepUpFirst {
				t.Fatalf("alice after bob's step-up: %d %q", a.status, a.alert)
			}
			if len(auditEvents(t, d, "cus_bob", "customer.step_up")) != 1 {
				t.Fatalf("bob's audit: %v", auditActions(t, d, "cus_bob"))
			}
			unchanged(t)
		})

		var fresh []string
		t.Run("ok/new-recovery-codes-replace-the-old", func(t *testing.T) {
			a := b.post("/customer/security/recovery-codes", nil, false)
			for _, m := range recoveryCodesRe.FindAllStringSubmatch(a.body, -1) {
				fresh = append(fresh, m[1])
			}
			if a.status != 200 || a.flash != "New recovery codes were made. The old ones no longer work." || len(fresh) != sca.RecoveryCodeCount {
				t.Fatalf("%d %q %d codes", a.status, a.flash, len(fresh))
			}
			if len(codes) == 0 {
				t.Fatal("no first codes")
			}
			if _, err := f.sca.UseRecoveryCode(ctx, "cus_alice", codes[0], "192.0.2.1"); !errors.Is(err, sca.ErrInvalidRecoveryCode) {
				t.Fatalf("an old code after replacement: %v", err)
			}
			if again := b.get("/customer/security"); strings.Contains(again.body, fresh[1]) {
				t.Fatal("new codes shown again")
			}
		})
		t.Run("ok/with-a-recovery-code", func(t *testing.T) {
			if len(fresh) < 2 {
				t.Fatal("no fresh codes")
			}
			other.mustStepUp("/customer", "pw", strings.ToUpper(fresh[0]))
			if n, err := f.sca.UseRecoveryCode(ctx, "cus_alice", fresh[1], "192.0.2.1"); err != nil || n != 8 {
				t.Fatalf("codes left after the step-up: %d %v", n, err)
			}
			if a := other.stepUp("/customer", "pw", fresh[0]); a.status != 422 || a.alert != msgStepUpRecUsed {
				t.Fatalf("the same recovery code again: %d %q", a.status, a.alert)
			}
		})

		t.Run("fail/step-up-expired", func(t *testing.T) {
			f.clock.advance(StepUpTTL - time.Second)
			if a := b.get("/customer/security"); !strings.Contains(a.body, `action="/customer/security/recovery-codes"`) {
				t.Fatal("the step-up ended early")
			}
			f.clock.advance(time.Second)
			a := b.post("/customer/security/totp/remove", nil, false)
			if a.status != 403 || a.alert != msgStepUpFirst {
				t.Fatalf("%d %q", a.status, a.alert)
			}
			unchanged(t)
		})

		t.Run("fail/wrong-codes-lock", func(t *testing.T) {
			f.clock.advance(16 * time.Minute) // earlier wrong codes out of the throttle's window
			wrong := wrongAt(f.clock.now())
			for i := 1; i <= 5; i++ {
				a := other.stepUp("/customer", "pw", wrong)
				want := msgStepUpWrongCode
				if i == 5 {
					want = msgStepUpLocked
				}
				if a.alert != want {
					t.Fatalf("wrong code %d: %d %q, want %q", i, a.status, a.alert, want)
				}
			}
			a := b.stepUp("/customer", "pw", codeAt(t, secret, f.clock.now()))
			if a.status != 429 || a.alert != msgStepUpLocked {
				t.Fatalf("right code while locked: %d %q", a.status, a.alert)
			}
			if !hasAuditDetail(t, d, "cus_alice", "customer.step_up_refused", map[string]string{"reason": "locked", "method": "totp"}) {
				t.Fatalf("audit: %v", auditActions(t, d, "cus_alice"))
			}
			unchanged(t)
		})

		t.Run("ok/remove-after-step-up", func(t *testing.T) {
			f.clock.advance(16 * time.Minute) // the lock's window
			b.mustStepUp("/customer", "pw", codeAt(t, secret, f.clock.now()))
			a := b.post("/customer/security/totp/remove", nil, false)
			if a.status != 200 || a.path != "/customer/security" || a.flash != "The authenticator app was removed." {
				t.Fatalf("%d at %s %q", a.status, a.path, a.flash)
			}
			if on, _ := f.sca.HasSecondFactor(ctx, "cus_alice"); on {
				t.Fatal("the app is still there")
			}
		})
		if got := auditActions(t, d, "cus_alice"); !containsAll(got, "customer.totp_added", "customer.recovery_codes_generated", "customer.totp_removed",
			"customer.step_up", "customer.step_up_refused", "customer.security_change_refused") {
			t.Fatalf("audit: %v", got)
		}

		t.Run("fail/step-up-password-throttled", func(t *testing.T) {
			bob2 := newSecBrowser(t, f.srv.URL, "/customer", "bob")
			bob2.get("/customer/security")
			for i := 0; i < 5; i++ {
				bob2.stepUp("/customer", "nope", "")
			}
			a := bob2.stepUp("/customer", "pw", "")
			if a.status != 429 || a.alert != msgPasswordThrottled {
				t.Fatalf("%d %q", a.status, a.alert)
			}
			if !hasAuditDetail(t, d, "cus_bob", "customer.step_up_refused", map[string]string{"reason": "password_throttled"}) {
				t.Fatalf("audit: %v", auditActions(t, d, "cus_bob"))
			}
		})
		t.Run("fail/signed-out", func(t *testing.T) {
			anon := newSecBrowser(t, f.srv.URL, "/customer", "")
			for _, p := range []string{"/customer/security/totp", "/customer/security/totp/remove", "/customer/security/recovery-codes", "/customer/security/step-up"} {
				if a := anon.post(p, url.Values{"password": {"pw"}}, false); a.path != "/customer/login" {
					t.Fatalf("%s signed out ends at %s", p, a.path)
				}
			}
			if a := anon.get("/customer/security"); a.path != "/customer/login" {
				t.Fatalf("security page signed out ends at %s", a.path)
			}
		})
	})
}

// regAuthenticator is a software WebAuthn authenticator that answers
// navigator.credentials.create with "none" attestation (as in the
// oauth/passkeys tests) and navigator.credentials.get.
type regAuthenticator struct {
	key     *ecdsa.PrivateKey
	id      []byte
	counter uint32
}

var rawURL = base64.RawURLEncoding

func newRegAuthenticator(t *testing.T) *regAuthenticator {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		t.Fatal(err)
	}
	return &regAuthenticator{key: k, id: id}
}

// create answers the creation options as a secBrowser at origin would.
func (a *regAuthenticator) create(t *testing.T, options any, origin string) map[string]any {
	t.Helper()
	raw, _ := json.Marshal(options)
	var o struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	pub, err := a.key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	xy := pub.Bytes()
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	cose, err := em.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: xy[1:33], -3: xy[33:65]})
	if err != nil {
		t.Fatal(err)
	}
	rp := sha256.Sum256([]byte(o.RP.ID))
	ad := append(append([]byte{}, rp[:]...), 0x01|0x04|0x40) // UP, UV, AT
	ad = binary.BigEndian.AppendUint32(ad, 0)
	ad = append(ad, make([]byte, 16)...) // AAGUID
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(a.id)))
	ad = append(append(ad, a.id...), cose...)
	att, err := em.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		t.Fatal(err)
	}
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.create", "challenge": o.Challenge, "origin": origin, "crossOrigin": false})
	return map[string]any{"id": rawURL.EncodeToString(a.id), "rawId": rawURL.EncodeToString(a.id), "type": "public-key",
		"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform",
		"response": map[string]any{"clientDataJSON": rawURL.EncodeToString(cd), "attestationObject": rawURL.EncodeToString(att),
			"transports": []string{"internal"}}}
}

// get answers assertion options as a browser at origin would: user
// present and verified, the signature counter one more than last time.
func (a *regAuthenticator) get(t *testing.T, options any, origin string) map[string]any {
	t.Helper()
	raw, _ := json.Marshal(options)
	var o struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	a.counter++
	rp := sha256.Sum256([]byte(o.RPID))
	ad := append(append([]byte{}, rp[:]...), 0x01|0x04) // UP, UV
	ad = binary.BigEndian.AppendUint32(ad, a.counter)
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": o.Challenge, "origin": origin, "crossOrigin": false})
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"id": rawURL.EncodeToString(a.id), "rawId": rawURL.EncodeToString(a.id), "type": "public-key",
		"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform",
		"response": map[string]any{"clientDataJSON": rawURL.EncodeToString(cd), "authenticatorData": rawURL.EncodeToString(ad),
			"signature": rawURL.EncodeToString(sig)}}
}

// TestCustomerSecurityPasskeys: the passkey JSON endpoints with a software
// authenticator, their refusals; the first passkey behind a password
// step-up, then every change behind a step-up with the password and a
// passkey assertion bound to the session.
func TestCustomerSecurityPasskeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newSecurityFixture(t, d, environment.Production, true)
		ctx := context.Background()
		const options, finish = "/customer/security/passkeys/options", "/customer/security/passkeys"
		const suOptions, suFinish = "/customer/security/step-up/passkey/options", "/customer/security/step-up/passkey"

		t.Run("fail/signed-out", func(t *testing.T) {
			anon := newSecBrowser(t, f.srv.URL, "/customer", "")
			for _, p := range []string{options, finish, suOptions, suFinish} {
				status, body := anon.postJSON(p, map[string]any{}, false)
				if status != 401 || body["detail"] != "You are signed out. Please sign in again." {
					t.Fatalf("%s: %d %v", p, status, body)
				}
			}
		})
		b := newSecBrowser(t, f.srv.URL, "/customer", "alice")
		b.get("/customer/security")
		t.Run("fail/no-csrf-header", func(t *testing.T) {
			for _, p := range []string{options, finish, suOptions, suFinish} {
				status, body := b.postJSON(p, map[string]any{}, true)
				if status != 403 || body["detail"] != msgSessionExpired {
					t.Fatalf("%s: %d %v", p, status, body)
				}
			}
		})
		t.Run("fail/first-passkey-without-step-up", func(t *testing.T) {
			status, body := b.postJSON(options, map[string]any{}, false)
			if status != 403 || body["detail"] != msgStepUpFirst || body["publicKey"] != nil {
				t.Fatalf("%d %v", status, body)
			}
		})
		t.Run("fail/passkey-step-up-without-passkey", func(t *testing.T) {
			status, body := b.postJSON(suOptions, map[string]any{}, false)
			if status != 404 || body["detail"] != "The customer has no passkey." {
				t.Fatalf("%d %v", status, body)
			}
		})
		b.mustStepUp("/customer", "pw", "")

		begin := func(t *testing.T, b *secBrowser, path string) (string, any) {
			t.Helper()
			status, body := b.postJSON(path, map[string]any{}, false)
			pk, _ := body["publicKey"].(map[string]any)
			id, _ := body["ceremony_id"].(string)
			rpID := pk["rpId"]
			if rp, ok := pk["rp"].(map[string]any); ok {
				rpID = rp["id"]
			}
			if status != 200 || id == "" || rpID != "localhost" || pk["challenge"] == "" {
				t.Fatalf("options: %d %v", status, body)
			}
			return id, pk
		}
		auth := newRegAuthenticator(t)
		for _, tc := range []struct {
			name   string
			body   func(t *testing.T) any
			status int
			detail string
		}{
			{"fail/not-a-credential", func(t *testing.T) any {
				id, _ := begin(t, b, options)
				return map[string]any{"ceremony_id": id, "name": "Phone", "credential": map[string]any{"id": "x"}}
			}, 400, "The passkey response is not a WebAuthn credential."},
			{"fail/unknown-ceremony", func(t *testing.T) any {
				_, pk := begin(t, b, options)
				return map[string]any{"ceremony_id": "nope", "name": "Phone", "credential": auth.create(t, pk, securityOrigin)}
			}, 404, "The passkey ceremony is unknown or was already used; start again."},
			{"fail/other-origin", func(t *testing.T) any {
				id, pk := begin(t, b, options)
				return map[string]any{"ceremony_id": id, "name": "Phone", "credential": auth.create(t, pk, "https://evil.example")}
			}, 403, "The passkey response was made for another website."},
			{"fail/unknown-field", func(t *testing.T) any {
				return map[string]any{"ceremony_id": "x", "colour": "red"}
			}, 400, `unknown field "colour"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, body := b.postJSON(finish, tc.body(t), false)
				if status != tc.status || body["detail"] != tc.detail {
					t.Fatalf("%d %v, want %d %q", status, body, tc.status, tc.detail)
				}
			})
		}
		if creds, _ := f.passkeys.Credentials(ctx, "cus_alice"); len(creds) != 0 {
			t.Fatalf("passkeys after refusals: %+v", creds)
		}

		var credID string
		t.Run("ok/add-default-name", func(t *testing.T) {
			id, pk := begin(t, b, options)
			status, body := b.postJSON(finish, map[string]any{"ceremony_id": id, "name": "  ", "credential": auth.create(t, pk, securityOrigin)}, false)
			credID, _ = body["id"].(string)
			if status != 201 || body["name"] != DefaultPasskeyName || credID != rawURL.EncodeToString(auth.id) ||
				body["next"] != "/customer/security?done=passkey-added" {
				t.Fatalf("%d %v", status, body)
			}
			a := b.get("/customer/security?done=passkey-added")
			// Now a passkey is a second factor: the password step-up is not enough.
			if a.flash != "Your passkey was added." || !strings.Contains(a.body, `<h3 id="pk-`+credID+`">Passkey</h3>`) ||
				!strings.Contains(a.body, `<button type="button" id="step-up-passkey" hidden>Use a passkey</button>`) ||
				strings.Contains(a.body, `id="step-up-code"`) || strings.Contains(a.body, `id="passkey-add"`) {
				t.Fatalf("security page:\n%s", a.body)
			}
		})
		t.Run("fail/second-passkey-without-step-up", func(t *testing.T) {
			status, body := b.postJSON(options, map[string]any{}, false)
			if status != 403 || body["detail"] != msgStepUpFirst {
				t.Fatalf("%d %v", status, body)
			}
			if a := b.stepUp("/customer", "pw", ""); a.status != 422 || a.alert != msgStepUpNeedPasskey {
				t.Fatalf("password only: %d %q", a.status, a.alert)
			}
		})

		other := newSecBrowser(t, f.srv.URL, "/customer", "alice")
		other.get("/customer/security")
		bob := newSecBrowser(t, f.srv.URL, "/customer", "bob")
		bob.get("/customer/security")
		for _, tc := range []struct {
			name   string
			body   func(t *testing.T) (*secBrowser, any)
			status int
			detail string
		}{
			{"fail/passkey-step-up-wrong-password", func(t *testing.T) (*secBrowser, any) {
				id, pk := begin(t, b, suOptions)
				return b, map[string]any{"ceremony_id": id, "password": "nope", "credential": auth.get(t, pk, securityOrigin)}
			}, 401, msgStepUpWrongPw},
			{"fail/passkey-step-up-other-origin", func(t *testing.T) (*secBrowser, any) {
				id, pk := begin(t, b, suOptions)
				return b, map[string]any{"ceremony_id": id, "password": "pw", "credential": auth.get(t, pk, "https://evil.example")}
			}, 403, "The passkey response was made for another website."},
			{"fail/passkey-step-up-of-another-session", func(t *testing.T) (*secBrowser, any) {
				id, pk := begin(t, other, suOptions)
				return b, map[string]any{"ceremony_id": id, "password": "pw", "credential": auth.get(t, pk, securityOrigin)}
			}, 403, msgStepUpOtherSession},
			{"fail/passkey-step-up-of-another-customer", func(t *testing.T) (*secBrowser, any) {
				id, pk := begin(t, b, suOptions)
				return bob, map[string]any{"ceremony_id": id, "password": "pw", "credential": auth.get(t, pk, securityOrigin)}
			}, 404, "The passkey ceremony is unknown or was already used; start again."},
		} {
			t.Run(tc.name, func(t *testing.T) {
				who, body := tc.body(t)
				status, got := who.postJSON(suFinish, body, false)
				if status != tc.status || got["detail"] != tc.detail {
					t.Fatalf("%d %v, want %d %q", status, got, tc.status, tc.detail)
				}
				for _, w := range []*secBrowser{b, other, bob} {
					if status, body := w.postJSON(options, map[string]any{}, false); status != 403 || body["detail"] != msgStepUpFirst {
						t.Fatalf("after a refused step-up: %d %v", status, body)
					}
				}
			})
		}
		if !hasAuditDetail(t, d, "cus_alice", "customer.step_up_refused", map[string]string{"reason": "other_session", "method": "passkey"}) ||
			!hasAuditDetail(t, d, "cus_alice", "customer.step_up_refused", map[string]string{"reason": "wrong_password", "method": "passkey"}) {
			t.Fatalf("audit: %v", auditActions(t, d, "cus_alice"))
		}
		t.Run("ok/passkey-step-up", func(t *testing.T) {
			id, pk := begin(t, b, suOptions)
			assertion := map[string]any{"ceremony_id": id, "password": "pw", "credential": auth.get(t, pk, securityOrigin)}
			status, body := b.postJSON(suFinish, assertion, false)
			if status != 200 || body["next"] != "/customer/security?done=stepped-up" {
				t.Fatalf("%d %v", status, body)
			}
			if !hasAuditDetail(t, d, "cus_alice", "customer.step_up", map[string]string{"strength": StepUpStrong, "method": "passkey"}) {
				t.Fatalf("audit: %v", auditActions(t, d, "cus_alice"))
			}
			if status, body := b.postJSON(suFinish, assertion, false); status != 404 ||
				body["detail"] != "The passkey ceremony is unknown or was already used; start again." {
				t.Fatalf("the same assertion again: %d %v", status, body)
			}
			if status, body := other.postJSON(options, map[string]any{}, false); status != 403 || body["detail"] != msgStepUpFirst {
				t.Fatalf("another session: %d %v", status, body)
			}
		})
		t.Run("fail/same-passkey-again", func(t *testing.T) {
			id, pk := begin(t, b, options)
			status, body := b.postJSON(finish, map[string]any{"ceremony_id": id, "name": "Again", "credential": auth.create(t, pk, securityOrigin)}, false)
			if status != 409 || body["detail"] != "This passkey is registered already." {
				t.Fatalf("%d %v", status, body)
			}
		})

		remove := "/customer/security/passkeys/" + credID + "/remove"
		for _, tc := range []struct {
			name, path string
			who        *secBrowser
			noCSRF     bool
			status     int
			alert      string
		}{
			{"fail/remove-without-csrf", remove, b, true, 403, msgSessionExpired},
			{"fail/remove-without-step-up", remove, other, false, 403, msgStepUpFirst},
			{"fail/remove-unknown", "/customer/security/passkeys/AAAA/remove", b, false, 404, msgPasskeyNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := tc.who.post(tc.path, nil, tc.noCSRF)
				if a.status != tc.status || a.alert != tc.alert {
					t.Fatalf("%d %q, want %d %q", a.status, a.alert, tc.status, tc.alert)
				}
				if creds, _ := f.passkeys.Credentials(ctx, "cus_alice"); len(creds) != 1 {
					t.Fatalf("passkeys: %+v", creds)
				}
			})
		}
		t.Run("fail/another-customers-passkey", func(t *testing.T) {
			bob.mustStepUp("/customer", "pw", "")
			a := bob.post(remove, nil, false)
			if a.status != 404 || a.alert != msgPasskeyNotFound {
				t.Fatalf("%d %q", a.status, a.alert)
			}
		})
		t.Run("ok/remove-after-step-up", func(t *testing.T) {
			a := b.post(remove, nil, false)
			if a.status != 200 || a.path != "/customer/security" || a.flash != "The passkey was removed." {
				t.Fatalf("%d at %s %q", a.status, a.path, a.flash)
			}
			if creds, _ := f.passkeys.Credentials(ctx, "cus_alice"); len(creds) != 0 {
				t.Fatalf("passkeys: %+v", creds)
			}
		})
		if got := auditActions(t, d, "cus_alice"); !containsAll(got, "customer.passkey_registered", "customer.passkey_removed", "customer.step_up", "customer.step_up_refused") {
			t.Fatalf("audit: %v", got)
		}
	})
}

// TestCustomerSecurityPasskeysOff: without a passkey service the page says
// why and the endpoints refuse.
func TestCustomerSecurityPasskeysOff(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newSecurityFixture(t, d, environment.Production, false)
		b := newSecBrowser(t, f.srv.URL, "/customer", "alice")
		a := b.get("/customer/security")
		if !strings.Contains(a.body, "Passkeys need the bank's website on its own domain name") || strings.Contains(a.body, "passkeys.js") {
			t.Fatalf("security page:\n%s", a.body)
		}
		for _, p := range []string{"/customer/security/passkeys/options", "/customer/security/passkeys",
			"/customer/security/step-up/passkey/options", "/customer/security/step-up/passkey"} {
			status, body := b.postJSON(p, map[string]any{}, false)
			if status != 404 || body["detail"] != msgPasskeysOff {
				t.Fatalf("%s: %d %v", p, status, body)
			}
		}
		if a := b.post("/customer/security/passkeys/AAAA/remove", nil, false); a.status != 404 || a.alert != msgPasskeysOff {
			t.Fatalf("remove: %d %q", a.status, a.alert)
		}
	})
}

// TestPasskeysScriptServed: the page's script is a static file (the CSP
// allows no inline script) and uses the JSON endpoints as the page names them.
func TestPasskeysScriptServed(t *testing.T) {
	rec := httptest.NewRecorder()
	Static().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/static/passkeys.js", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, "webauthn.creationOptions(") || !strings.Contains(body, "X-CSRF-Token") ||
		!strings.Contains(body, "navigator.credentials.create") || !strings.Contains(body, "navigator.credentials.get") ||
		!strings.Contains(body, "webauthn.requestOptions(") || !strings.Contains(body, "step-up-passkey") {
		t.Fatalf("%d\n%s", rec.Code, body)
	}
}

// TestCustomerSecurityWiring: the Security page without Usernames is a
// wiring bug, refused at Register.
func TestCustomerSecurityWiring(t *testing.T) {
	defer func() {
		if recover() != "web: CustomerDashboard.SCA needs Usernames" {
			t.Fatal("Register with SCA and no Usernames did not panic")
		}
	}()
	(&CustomerDashboard{Environment: environment.Production, Pages: MustRenderer(), SCA: &sca.Service{}}).Register(gin.New())
}
