package web

import (
	"context"
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
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
)

type fakeCustomers struct{}

func (fakeCustomers) Authenticate(_ context.Context, u, p string) (string, error) {
	switch {
	case u == "mallory":
		return "", oauth.ErrLoginThrottled
	case u == "dave.locked":
		return "", oauth.ErrCustomerLocked
	case u == "alice" && p == "pw":
		return "cus_alice", nil
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
	(&CustomerDashboard{Pages: MustRenderer(), Sessions: &Sessions{DB: d.DB}, Customers: fakeCustomers{}, Consents: consents,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Register(r)
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
		{"fail/throttled", url.Values{"username": {"mallory"}, "password": {"pw"}, "csrf_token": {tok}}, 429, "Too many wrong attempts."},
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
	status, body = post("/customer/consents/cns_a/revoke", url.Values{})
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
