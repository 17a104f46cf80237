package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth"
)

// fakeCustomers: production alice (password "pw") and, in the sandbox, a
// persona alice (password "sandbox-pw") and bob ("pw").
type fakeCustomers struct{}

func (fakeCustomers) Authenticate(_ context.Context, env environment.Environment, u, p string) (string, error) {
	switch {
	case u == "mallory":
		return "", oauth.ErrLoginThrottled
	case u == "busy":
		return "", fmt.Errorf("check password: %w", secrets.ErrBusy)
	case u == "dave.locked" && env == environment.Production:
		return "", oauth.ErrCustomerLocked
	case u == "alice" && p == "pw" && env == environment.Production:
		return "cus_alice", nil
	case u == "alice" && p == "sandbox-pw" && env == environment.Sandbox:
		return "cus_sandbox_alice", nil
	case u == "bob" && p == "pw" && env == environment.Sandbox:
		return "cus_bob", nil
	}
	return "", oauth.ErrBadCredentials
}
func (fakeCustomers) DisplayName(context.Context, string) (string, error) { return "Alice", nil }

type fakeConsents struct{ byCustomer map[string][]CustomerConsent }

func (f *fakeConsents) ListForCustomer(_ context.Context, id string) ([]CustomerConsent, error) {
	return f.byCustomer[id], nil
}
func (f *fakeConsents) RevokeByCustomer(_ context.Context, cus, id string) error {
	for i, c := range f.byCustomer[cus] {
		if c.ID == id && c.Active {
			f.byCustomer[cus][i].Active, f.byCustomer[cus][i].Status = false, "Revoked"
			return nil
		}
	}
	return problem.New(problem.CodeNotFound, "No consent %s among yours.", id)
}

func TestCustomerDashboard(t *testing.T) {
	d := dbtest.MustSQLite(t)
	consents := &fakeConsents{byCustomer: map[string][]CustomerConsent{
		"cus_alice": {{ID: "cns_a", Kind: "Account access", PartnerName: "Demo Wallet Ltd", AppName: "Demo Wallet", Status: "Authorised", Active: true, Permissions: []string{"See your balances"}}},
		"cus_bob":   {{ID: "cns_b", Kind: "Account access", PartnerName: "Other", AppName: "Other app", Status: "Authorised", Active: true}},
	}}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	(&CustomerDashboard{Environment: environment.Production, Pages: MustRenderer(), Sessions: &Sessions{DB: d.DB}, Customers: fakeCustomers{},
		Consents: consents, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Register(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	csrfRe := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	get := func(path string) (int, string) {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path string, form url.Values) (int, string) {
		resp, err := client.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, body := get("/customer/consents") // redirected to the login page
	if !strings.Contains(body, `<label for="username">Username</label>`) {
		t.Fatalf("not the login page:\n%s", body)
	}
	tok := csrfRe.FindStringSubmatch(body)[1]

	cases := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantText   string
	}{
		{"fail/csrf-missing", url.Values{"username": {"alice"}, "password": {"pw"}}, 403, "Your session expired. Please try again."},
		{"fail/wrong-password", url.Values{"username": {"alice"}, "password": {"nope"}, "csrf_token": {tok}}, 401, "The username or password is not right."},
		{"fail/locked", url.Values{"username": {"dave.locked"}, "password": {"pw"}, "csrf_token": {tok}}, 403, "This sign-in is locked."},
		{"fail/throttled", url.Values{"username": {"mallory"}, "password": {"pw"}, "csrf_token": {tok}}, 429, "Too many wrong attempts. For your safety, signing in is blocked for 15 minutes at most. Please try again later."},
		{"fail/busy", url.Values{"username": {"busy"}, "password": {"pw"}, "csrf_token": {tok}}, 503, "We are very busy just now. Please try again in a moment."},
		{"ok/login", url.Values{"username": {"alice"}, "password": {"pw"}, "csrf_token": {tok}}, 200, "Demo Wallet"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post("/customer/login", tc.form)
			if status != tc.wantStatus || !strings.Contains(body, tc.wantText) {
				t.Fatalf("status %d, want %d with %q:\n%s", status, tc.wantStatus, tc.wantText, body)
			}
		})
	}
	if strings.Contains(get2(get, "/customer/consents"), "Other app") {
		t.Fatal("another customer's consent is listed")
	}
	status, body := post("/customer/consents/cns_b/revoke", url.Values{"csrf_token": {tok}})
	if status != 404 || !strings.Contains(body, "No consent cns_b among yours.") || consents.byCustomer["cus_bob"][0].Status != "Authorised" {
		t.Fatalf("fail/other-customers-consent: %d\n%s", status, body)
	}
	status, _ = post("/customer/consents/cns_a/revoke", url.Values{})
	if status != 403 || consents.byCustomer["cus_alice"][0].Status != "Authorised" {
		t.Fatalf("fail/revoke-without-csrf: %d", status)
	}
	status, body = post("/customer/consents/cns_a/revoke", url.Values{"csrf_token": {tok}})
	if status != 200 || !strings.Contains(body, "Consent withdrawn.") || consents.byCustomer["cus_alice"][0].Status != "Revoked" {
		t.Fatalf("ok/revoke: %d\n%s", status, body)
	}
}

// get2 returns only the body of a GET.
func get2(get func(string) (int, string), path string) string { _, b := get(path); return b }

// TestCustomerDashboardEnvironments: /customer signs in production customers
// only and /sandbox/customer sandbox personas only; a username of the other
// environment gets exactly the unknown-username answer, and a session of one
// dashboard does not open the other.
func TestCustomerDashboardEnvironments(t *testing.T) {
	d := dbtest.MustSQLite(t)
	consents := &fakeConsents{byCustomer: map[string][]CustomerConsent{
		"cus_alice":         {{ID: "cns_prod", Kind: "Account access", PartnerName: "Live Wallet Ltd", AppName: "Live Wallet", Status: "Authorised", Active: true}},
		"cus_sandbox_alice": {{ID: "cns_sbx", Kind: "Account access", PartnerName: "Test Wallet Ltd", AppName: "Test Wallet", Status: "Authorised", Active: true}},
		"cus_bob":           {{ID: "cns_bob", Kind: "Account access", PartnerName: "Test Wallet Ltd", AppName: "Bob's wallet", Status: "Authorised", Active: true}},
	}}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	sessions := &Sessions{DB: d.DB}
	for _, env := range []environment.Environment{environment.Production, environment.Sandbox} {
		(&CustomerDashboard{Environment: env, Pages: MustRenderer(), Sessions: sessions, Customers: fakeCustomers{}, Consents: consents,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Register(r)
	}
	srv := httptest.NewServer(r)
	defer srv.Close()
	csrfRe := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	errRe := regexp.MustCompile(`(?s)<[^>]*role="alert"[^>]*>(.*?)</`)
	type answer struct {
		status  int
		message string
		body    string
	}
	// signIn signs in on a fresh browser and returns the answer and the browser.
	signIn := func(t *testing.T, base, user, pass string) (answer, *http.Client) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		resp, err := client.Get(srv.URL + base + "/login")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp, err = client.PostForm(srv.URL+base+"/login", url.Values{"username": {user}, "password": {pass},
			"csrf_token": {csrfRe.FindStringSubmatch(string(b))[1]}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ = io.ReadAll(resp.Body)
		a := answer{status: resp.StatusCode, body: string(b)}
		if m := errRe.FindStringSubmatch(a.body); m != nil {
			a.message = strings.TrimSpace(m[1])
		}
		return a, client
	}
	const badCredentials = "The username or password is not right. Please try again."
	for _, tc := range []struct {
		name, base, user, pass string
		status                 int
		message, text          string
	}{
		{"ok/production-alice-at-customer", "/customer", "alice", "pw", 200, "", "Live Wallet"},
		{"ok/sandbox-alice-at-sandbox-customer", "/sandbox/customer", "alice", "sandbox-pw", 200, "", "Test Wallet"},
		{"fail/sandbox-persona-at-customer", "/customer", "bob", "pw", 401, badCredentials, `action="/customer/login"`},
		{"fail/sandbox-password-at-customer", "/customer", "alice", "sandbox-pw", 401, badCredentials, `action="/customer/login"`},
		{"fail/unknown-at-customer", "/customer", "nobody", "pw", 401, badCredentials, `action="/customer/login"`},
		{"fail/production-customer-at-sandbox-customer", "/sandbox/customer", "alice", "pw", 401, badCredentials, `action="/sandbox/customer/login"`},
		{"fail/production-locked-at-sandbox-customer", "/sandbox/customer", "dave.locked", "pw", 401, badCredentials, `action="/sandbox/customer/login"`},
		{"fail/unknown-at-sandbox-customer", "/sandbox/customer", "nobody", "pw", 401, badCredentials, `action="/sandbox/customer/login"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := signIn(t, tc.base, tc.user, tc.pass)
			if a.status != tc.status || a.message != tc.message || !strings.Contains(a.body, tc.text) {
				t.Fatalf("status %d message %q, want %d %q with %q:\n%s", a.status, a.message, tc.status, tc.message, tc.text, a.body)
			}
		})
	}
	t.Run("ok/other-environment-answers-like-unknown", func(t *testing.T) {
		for _, tc := range []struct{ base, other string }{{"/customer", "bob"}, {"/sandbox/customer", "dave.locked"}} {
			other, _ := signIn(t, tc.base, tc.other, "pw")
			unknown, _ := signIn(t, tc.base, "nobody", "pw")
			norm := func(a answer, user string) string {
				return strings.Replace(csrfRe.ReplaceAllString(a.body, ""), `value="`+user+`"`, `value="X"`, 1)
			}
			if other.status != unknown.status || other.message != unknown.message || norm(other, tc.other) != norm(unknown, "nobody") {
				t.Fatalf("%s: other environment %d %q, unknown %d %q; pages:\n%s\n---\n%s", tc.base, other.status, other.message,
					unknown.status, unknown.message, norm(other, tc.other), norm(unknown, "nobody"))
			}
		}
	})
	t.Run("fail/a-session-opens-only-its-own-dashboard", func(t *testing.T) {
		for _, tc := range []struct{ base, user, pass, other string }{
			{"/sandbox/customer", "alice", "sandbox-pw", "/customer"},
			{"/customer", "alice", "pw", "/sandbox/customer"},
		} {
			_, client := signIn(t, tc.base, tc.user, tc.pass)
			resp, err := client.Get(srv.URL + tc.other + "/consents")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Request.URL.Path != tc.other+"/login" || strings.Contains(string(b), "Wallet") {
				t.Fatalf("signed in at %s, %s/consents ends at %s:\n%s", tc.base, tc.other, resp.Request.URL.Path, b)
			}
			// Revoking through the other dashboard is refused too (sent to sign in).
			tok := csrfRe.FindStringSubmatch(string(b))[1]
			resp, err = client.PostForm(srv.URL+tc.other+"/consents/cns_sbx/revoke", url.Values{"csrf_token": {tok}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.Request.URL.Path != tc.other+"/login" {
				t.Fatalf("revoke through %s ends at %s", tc.other, resp.Request.URL.Path)
			}
		}
		if consents.byCustomer["cus_sandbox_alice"][0].Status != "Authorised" || consents.byCustomer["cus_alice"][0].Status != "Authorised" {
			t.Fatal("a consent was revoked through the other environment's dashboard")
		}
	})
	t.Run("ok/sandbox-dashboard-says-sandbox", func(t *testing.T) {
		a, client := signIn(t, "/sandbox/customer", "alice", "sandbox-pw")
		if !strings.Contains(a.body, "Sandbox</span>") || !strings.Contains(a.body, `action="/sandbox/customer/logout"`) ||
			!strings.Contains(a.body, `action="/sandbox/customer/consents/cns_sbx/revoke"`) {
			t.Fatalf("sandbox consents page:\n%s", a.body)
		}
		resp, err := client.Get(srv.URL + "/sandbox/customer/consents")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tok := csrfRe.FindStringSubmatch(string(b))[1]
		resp, err = client.PostForm(srv.URL+"/sandbox/customer/consents/cns_sbx/revoke", url.Values{"csrf_token": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Request.URL.Path != "/sandbox/customer/consents" || !strings.Contains(string(b), "Consent withdrawn.") ||
			consents.byCustomer["cus_sandbox_alice"][0].Status != "Revoked" {
			t.Fatalf("revoke at %s:\n%s", resp.Request.URL.Path, b)
		}
	})
	t.Run("fail/no-environment-is-a-wiring-bug", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("Register without an Environment did not panic")
			}
		}()
		(&CustomerDashboard{Pages: MustRenderer(), Sessions: sessions, Customers: fakeCustomers{}, Consents: consents}).Register(gin.New())
	})
}
