package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/web"
)

// TestPortalSandboxResetWired: the portal's reset runs apis.ResetSandbox on
// the real server (both engines): the partner's sandbox consent is revoked,
// the flash counts it and the audit names the portal user.
func TestPortalSandboxResetWired(t *testing.T) {
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, dbURL(t))
			ctx := context.Background()
			svc := s.Main.Platform.Services
			su, err := svc.Partners.SignUp(ctx, "owner@reset.example", "reset-owner-password-1", "Reset Wallet Ltd")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Partners.VerifyEmail(ctx, su.VerificationToken); err != nil {
				t.Fatal(err)
			}
			pid := su.Partner.ID
			var req apis.OBReadConsent1
			req.Data.Permissions, req.Risk = []string{apis.PermAccountsBasic}, map[string]any{}
			ac := &oauth.AccessContext{PartnerID: pid, ClientID: "app_reset", Environment: environment.Sandbox}
			c, err := svc.APIs.CreateAccountConsent(ctx, ac, &req, apis.Actor{Type: audit.ActorPartner, ID: ac.ClientID})
			if err != nil {
				t.Fatal(err)
			}

			b := newBrowserless(t, s.URL)
			if st, loc, body := b.submit("/portal/sign-in", "/portal/sign-in",
				url.Values{"email": {"owner@reset.example"}, "password": {"reset-owner-password-1"}}); st != http.StatusSeeOther {
				t.Fatalf("sign-in: %d %s\n%s", st, loc, body)
			}
			page := "/portal/orgs/" + pid + "/sandbox-customers"
			for _, tc := range []struct {
				name   string
				form   url.Values
				status int
				text   string
			}{
				{"fail/unconfirmed", url.Values{}, http.StatusUnprocessableEntity, "Tick the box to confirm"},
				{"ok/reset", url.Values{"confirm": {"yes"}}, http.StatusOK,
					"Sandbox data reset: 1 consent revoked, 0 payments reversed, 0 request log entries and 0 idempotency keys deleted."},
				{"ok/again", url.Values{"confirm": {"yes"}}, http.StatusOK,
					"Sandbox data reset: 0 consents revoked, 0 payments reversed, 0 request log entries and 0 idempotency keys deleted."},
			} {
				t.Run(tc.name, func(t *testing.T) {
					st, _, body := b.submit(page, page+"/reset", tc.form)
					if st != tc.status || !strings.Contains(body, tc.text) {
						t.Fatalf("status %d, want %d with %q:\n%s", st, tc.status, tc.text, body)
					}
				})
			}
			got, err := svc.APIs.GetConsent(ctx, ac, apis.TypeAccountAccess, c.ID)
			if err != nil || got.Status != apis.StatusRevoked {
				t.Fatalf("consent after reset: %+v %v", got, err)
			}
			user, err := svc.Partners.Login(ctx, "owner@reset.example", "reset-owner-password-1")
			if err != nil {
				t.Fatal(err)
			}
			evs, err := audit.List(ctx, s.Main.Platform.DB.DB, audit.Filter{Action: "sandbox.reset", PartnerID: pid})
			if err != nil || len(evs) != 2 || evs[1].ActorID != user.ID || !strings.Contains(evs[1].Details, `"consents_revoked":1`) {
				t.Fatalf("sandbox.reset audit %+v %v", evs, err)
			}
		})
	}
}

func TestSandboxResetAdapter(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   apis.SandboxReset
		want web.SandboxResetResult
	}{
		{"ok/counts", apis.SandboxReset{ConsentsRevoked: 2, PaymentsReversed: 1, RequestLogDeleted: 9, IdempotencyKeysDeleted: 4,
			NotReversed: []apis.NotReversedPayment{{PaymentID: "pay_1", Reason: "x"}, {PaymentID: "pay_2", Reason: "y"}}},
			web.SandboxResetResult{ConsentsRevoked: 2, PaymentsReversed: 1, PaymentsNotReversed: 2, RequestLogDeleted: 9, IdempotencyKeysDeleted: 4}},
		{"ok/unsupported", apis.SandboxReset{ReversalUnsupported: true},
			web.SandboxResetResult{ReversalUnsupported: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := toWebReset(&tc.in); got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
