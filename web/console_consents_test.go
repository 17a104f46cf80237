package web

import (
	"context"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/partners/staff"
)

var (
	consentRowRe  = regexp.MustCompile(`(?s)<tr id="consent-([^"]+)">(.*?)</tr>`)
	consentCellRe = regexp.MustCompile(`(?s)<td data-label="([^"]+)">(.*?)</td>`)
)

// consentRows reads the Consents table of a partner page: each row's cells
// by column label, in page order.
func consentRows(body string) (order []string, rows map[string]map[string]string) {
	rows = map[string]map[string]string{}
	for _, m := range consentRowRe.FindAllStringSubmatch(body, -1) {
		cells := map[string]string{}
		for _, c := range consentCellRe.FindAllStringSubmatch(m[2], -1) {
			cells[c[1]] = html.UnescapeString(strings.TrimSpace(c[2]))
		}
		order = append(order, m[1])
		rows[m[1]] = cells
	}
	return order, rows
}

// TestConsolePartnerConsents: a partner's page lists its consents (both
// environments, newest first) with how each was authorised in plain words,
// seeded through the real apis store on every engine; another partner's
// consents never appear; every role that may read partners sees the section,
// the consent ids link to the audit trail for those who may read it, and a
// role that may not read partners gets the refusal.
func TestConsolePartnerConsents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		store := apis.NewGormStore(d)
		e, _ := consoleEnvOn(t, d, nil, store)
		adminB, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
		_, pid := e.livePartner("owner@wallet.example", "Wallet Ltd")
		_, otherPID := e.livePartner("owner@shop.example", "Shop Ltd")

		at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		const (
			reasonLow     = "a payment of 12.00 GBP, within the low-value limits"
			reasonTrusted = "the payee is on the customer's trusted list"
			reasonOwn     = "a transfer between the customer's own accounts"
			reasonNoSCA   = "the customer has no second factor; the bank allows account access with the password alone"
		)
		seed := func(partnerID string, env environment.Environment, typ, status string, n int, a oauth.ConsentAuthorisation) *apis.Consent {
			t.Helper()
			created := at.Add(time.Duration(n) * time.Hour)
			c := &apis.Consent{ID: ids.New("cns"), Type: typ, PartnerID: partnerID, ClientID: ids.New("app"), Environment: env,
				Status: status, Permissions: []string{apis.PermAccountsBasic}, Authorisation: a, CreatedAt: created,
				StatusUpdatedAt: created}
			if a.ACR != "" {
				c.CustomerID, c.AccountIDs, c.StatusUpdatedAt = ids.New("cus"), []string{ids.New("acc")}, created.Add(5*time.Minute)
			}
			if err := store.CreateConsent(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		pwd := []string{oauth.AMRPassword}
		sca := seed(pid, environment.Production, apis.TypeAccountAccess, apis.StatusAuthorised, 1,
			oauth.ConsentAuthorisation{ACR: oauth.ACRStrong, AMR: []string{"pwd", "otp", "mfa"}, Reason: "the customer performed strong customer authentication"})
		low := seed(pid, environment.Sandbox, apis.TypePaymentInitiation, apis.StatusConsumed, 2,
			oauth.ConsentAuthorisation{ACR: oauth.ACRPassword, AMR: pwd, Exemption: oauth.ExemptionLowValue, Reason: reasonLow})
		trusted := seed(pid, environment.Production, apis.TypePaymentInitiation, apis.StatusAuthorised, 3,
			oauth.ConsentAuthorisation{ACR: oauth.ACRPassword, AMR: pwd, Exemption: oauth.ExemptionTrustedBeneficiary, Reason: reasonTrusted})
		own := seed(pid, environment.Sandbox, apis.TypePaymentInitiation, apis.StatusAuthorised, 4,
			oauth.ConsentAuthorisation{ACR: oauth.ACRPassword, AMR: pwd, Exemption: oauth.ExemptionOwnAccounts, Reason: reasonOwn})
		pwdOnly := seed(pid, environment.Sandbox, apis.TypeAccountAccess, apis.StatusAuthorised, 5,
			oauth.ConsentAuthorisation{ACR: oauth.ACRPassword, AMR: pwd, Reason: reasonNoSCA})
		awaiting := seed(pid, environment.Sandbox, apis.TypeDataSharing, apis.StatusAwaitingAuthorisation, 6, oauth.ConsentAuthorisation{})
		// Another partner's consent, the newest of all.
		foreign := seed(otherPID, environment.Sandbox, apis.TypeAccountAccess, apis.StatusAuthorised, 7,
			oauth.ConsentAuthorisation{ACR: oauth.ACRStrong, AMR: []string{"pwd", "otp", "mfa"}})
		if err := store.Audit(ctx, audit.Entry{ActorType: audit.ActorCustomer, ActorID: sca.CustomerID, Action: "consent.authorised",
			ObjectType: "consent", ObjectID: sca.ID, PartnerID: pid, Details: map[string]any{"acr": oauth.ACRStrong}}); err != nil {
			t.Fatal(err)
		}

		status, body := adminB.get("/console/partners/" + pid)
		want(t, "ok/admin", status, body, 200, `<h2 id="consents-h">Consents</h2>`, `<table class="stack" id="consents">`,
			"Up to the 50 most recent, newest first, sandbox and production.")
		order, rows := consentRows(body)
		if w := []string{awaiting.ID, pwdOnly.ID, own.ID, trusted.ID, low.ID, sca.ID}; strings.Join(order, " ") != strings.Join(w, " ") {
			t.Fatalf("fail/order: rows %v, want newest first %v", order, w)
		}
		muted := func(reason string) string { return `<br><span class="muted">` + reason + `</span>` }
		for _, tc := range []struct {
			name                                         string
			c                                            *apis.Consent
			typ, env, status, customer, updated, authent string
		}{
			{"ok/sca", sca, "Account access", "production", "Authorised", "<code>" + sca.CustomerID + "</code>", "1 Dec 2026 10:05 UTC",
				"Strong customer authentication (pwd otp mfa)"},
			{"ok/low-value", low, "Payment", "sandbox", "Consumed", "<code>" + low.CustomerID + "</code>", "1 Dec 2026 11:05 UTC",
				"Exempt: low value" + muted(reasonLow)},
			{"ok/trusted-payee", trusted, "Payment", "production", "Authorised", "<code>" + trusted.CustomerID + "</code>", "1 Dec 2026 12:05 UTC",
				"Exempt: trusted payee" + muted(reasonTrusted)},
			{"ok/own-accounts", own, "Payment", "sandbox", "Authorised", "<code>" + own.CustomerID + "</code>", "1 Dec 2026 13:05 UTC",
				"Exempt: own accounts" + muted(reasonOwn)},
			{"ok/password-only", pwdOnly, "Account access", "sandbox", "Authorised", "<code>" + pwdOnly.CustomerID + "</code>", "1 Dec 2026 14:05 UTC",
				"Password only" + muted(reasonNoSCA)},
			{"ok/before-authorisation", awaiting, "Data sharing", "sandbox", "AwaitingAuthorisation", "—", "1 Dec 2026 15:00 UTC", "—"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := rows[tc.c.ID]
				w := map[string]string{
					"Consent":        `<a href="/console/audit?object_id=` + tc.c.ID + `"><code>` + tc.c.ID + `</code></a>`,
					"Type":           tc.typ,
					"Environment":    tc.env,
					"Status":         tc.status,
					"Customer":       tc.customer,
					"Created":        tc.c.CreatedAt.Format("2 Jan 2006 15:04 UTC"),
					"Status updated": tc.updated,
					"Authentication": tc.authent,
				}
				if len(got) != len(w) {
					t.Fatalf("row %s has cells %v, want %v", tc.c.ID, got, w)
				}
				for label, cell := range w {
					if got[label] != cell {
						t.Errorf("row %s, %s = %q, want %q", tc.c.ID, label, got[label], cell)
					}
				}
			})
		}
		t.Run("fail/other-partners-consent", func(t *testing.T) {
			shows(t, "fail/other-partners-consent", body, foreign.ID, false)
			status, other := adminB.get("/console/partners/" + otherPID)
			want(t, "ok/other-partner-page", status, other, 200, `<tr id="consent-`+foreign.ID+`">`)
			for _, id := range order {
				shows(t, "fail/this-partners-consent-on-the-other-page", other, id, false)
			}
		})
		t.Run("ok/audit-link", func(t *testing.T) {
			status, body := adminB.get("/console/audit?object_id=" + sca.ID)
			want(t, "ok/audit-link", status, body, 200, "<code>consent.authorised</code>", "<code>"+sca.ID+"</code>")
		})

		for _, tc := range []struct {
			name  string
			role  staff.Role
			audit bool // links the consent ids to the audit trail
		}{
			{"ok/partner-manager", staff.RolePartnerManager, false},
			{"ok/risk-officer", staff.RoleRiskOfficer, true},
			{"ok/finance", staff.RoleFinance, false},
			{"ok/auditor", staff.RoleAuditor, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b, _ := e.staffBrowser(admin.Staff.ID, string(tc.role)+"@bank.example", tc.role)
				status, body := b.get("/console/partners/" + pid)
				want(t, tc.name, status, body, 200, `<h2 id="consents-h">Consents</h2>`,
					`<td data-label="Authentication">Exempt: trusted payee<br><span class="muted">`)
				_, rows := consentRows(body)
				link := `<a href="/console/audit?object_id=` + low.ID + `"><code>` + low.ID + `</code></a>`
				if !tc.audit {
					link = `<code>` + low.ID + `</code>`
				}
				if got := rows[low.ID]["Consent"]; got != link {
					t.Fatalf("%s: consent cell %q, want %q", tc.name, got, link)
				}
			})
		}
		t.Run("fail/role-may-not-read-partners", func(t *testing.T) {
			b, ns := e.staffBrowser(admin.Staff.ID, "jobs@bank.example", staff.RoleAuditor)
			// A role outside the people's roles (staff.RoleSystem may not
			// read partners); no account can be given it, so the row is set.
			if err := e.d.Exec("UPDATE staff_users SET role = ? WHERE id = ?", staff.RoleSystem, ns.Staff.ID).Error; err != nil {
				t.Fatal(err)
			}
			status, body := b.get("/console/partners/" + pid)
			want(t, "fail/partner-page", status, body, 403, "Role system may not partners.read.")
			shows(t, "fail/partner-page", body, sca.ID, false)
			status, body = b.get("/console/partners")
			want(t, "fail/partner-list", status, body, 403, "Role system may not partners.read.")
		})
	})
}

// TestConsolePartnerConsentsUnavailable: without a ConsentReader the section
// says so.
func TestConsolePartnerConsentsUnavailable(t *testing.T) {
	e, _ := newConsoleEnv(t, nil)
	b, _ := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
	_, pid := e.livePartner("owner@wallet.example", "Wallet Ltd")
	status, body := b.get("/console/partners/" + pid)
	want(t, "ok/no-reader", status, body, 200, `<h2 id="consents-h">Consents</h2>`, "<p>Consents are not available on this server.</p>")
}

// TestAuthenticationWords covers the words for authorisations the flow does
// not produce today (an exemption or acr added later, SCA without amr).
func TestAuthenticationWords(t *testing.T) {
	for _, tc := range []struct {
		name          string
		a             oauth.ConsentAuthorisation
		words, reason string
	}{
		{"ok/sca-without-amr", oauth.ConsentAuthorisation{ACR: oauth.ACRStrong, Reason: "r"}, "Strong customer authentication", ""},
		{"ok/unknown-exemption", oauth.ConsentAuthorisation{ACR: oauth.ACRPassword, Exemption: "recurring_payee", Reason: "r"}, "Exempt: recurring payee", "r"},
		{"ok/password-without-reason", oauth.ConsentAuthorisation{ACR: oauth.ACRPassword}, "Password only", ""},
		{"ok/other-acr", oauth.ConsentAuthorisation{ACR: "urn:example:acr", Reason: "r"}, "Authenticated (urn:example:acr)", "r"},
		{"ok/not-authorised", oauth.ConsentAuthorisation{}, "—", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			words, reason := authenticationWords(tc.a)
			if words != tc.words || reason != tc.reason {
				t.Fatalf("authenticationWords(%+v) = %q, %q; want %q, %q", tc.a, words, reason, tc.words, tc.reason)
			}
		})
	}
}
