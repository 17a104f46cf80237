package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/partners"
)

// TestE2EComplaint: in chromium, the sandbox customer reports a payment
// made through the demo partner as unauthorised from the dashboard, the
// partner's member answers in the portal, a risk officer rejects it with
// reasons in the console; the customer is mailed the reasons, the partner
// got complaint.opened and complaint.resolved. e2e/complaints.mjs.
func TestE2EComplaint(t *testing.T) {
	requireE2E(t, true)
	for name, url := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, url(t))
			ctx := t.Context()
			p := s.Main.Platform
			officer := runCLI(t, s, "staff", "create", "--email", "rita.risk@bank.example", "--role", "risk_officer", "--json")
			list, err := p.Services.Partners.ListPartners(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pid := ""
			for _, x := range list {
				if x.Name() == partners.SeedPartnerName {
					pid = x.ID
				}
			}
			if pid == "" {
				t.Fatal("demo partner not seeded")
			}
			var persona core.Persona
			for _, x := range core.Personas() {
				if x.Username == "bob" {
					persona = x
				}
			}
			// A settled payment of the persona's through the demo partner
			// (the payment itself is apis's: here only its row).
			var customerID, accountID string
			if err := p.DB.DB.Raw(`SELECT c.id, a.id FROM core_customers c JOIN core_accounts a ON a.customer_id = c.id
				WHERE c.username = ? ORDER BY a.id LIMIT 1`, persona.Username).Row().Scan(&customerID, &accountID); err != nil {
				t.Fatal(err)
			}
			if err := p.DB.DB.Exec(`UPDATE core_customers SET email = 'bob.sandbox@example.com' WHERE id = ?`, customerID).Error; err != nil {
				t.Fatal(err)
			}
			payID, at := ids.New("pay"), time.Now().UTC().Add(-time.Hour)
			if err := p.DB.DB.Exec(`INSERT INTO api_payments (id, consent_id, partner_id, client_id, environment, debtor_account_id, amount_minor,
				currency, initiation, status, customer_id, creditor_account, created_at, status_updated_at)
				VALUES (?, ?, ?, 'app_demo', 'sandbox', ?, 4250, 'GBP', ?, 'AcceptedSettlementCompleted', ?, 'SortCodeAccountNumber:40400412345678', ?, ?)`,
				payID, ids.New("pcn"), pid, accountID, `{"CreditorAccount":{"SchemeName":"SortCodeAccountNumber","Identification":"40400412345678","Name":"Corner Shop"}}`,
				customerID, at, at).Error; err != nil {
				t.Fatal(err)
			}

			res := runNode(t, "complaints.mjs", map[string]string{
				"BASE": s.URL, "PAYMENT_ID": payID, "CUSTOMER_USERNAME": persona.Username, "CUSTOMER_PASSWORD": persona.Password,
				"PORTAL_EMAIL": "demo@wallet.example", "PORTAL_PASSWORD": "demo-wallet-sandbox",
				"STAFF_EMAIL": officer["email"].(string), "STAFF_PASSWORD": officer["one_time_password"].(string), "STAFF_TOTP": officer["totp_secret"].(string),
				"ARTIFACTS": artifactsDir(t), "CHROMIUM": chromiumPath(),
			})
			if res.Error != nil {
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Fatalf("flow failed:\n%s", b)
			}
			if st := res.Step("payments"); !strings.Contains(st["row"].(string), "Corner Shop (SortCodeAccountNumber:40400412345678)") ||
				!strings.Contains(st["row"].(string), "42.50 GBP") || !strings.Contains(st["row"].(string), partners.SeedPartnerName) {
				t.Errorf("payments: %v", st)
			}
			rep := res.Step("reported")
			if rep["refused"] != "Describe the problem." || !strings.HasPrefix(rep["flash"].(string), "Thank you. We received your complaint (reference cmp_") ||
				!strings.HasSuffix(rep["badge"].(string), " open") {
				t.Errorf("reported: %v", rep)
			}
			ans := res.Step("answered")
			if rows := ans["listed"].([]any); len(rows) != 1 || rows[0].([]any)[1] != payID || rows[0].([]any)[2] != "unauthorised" {
				t.Errorf("partner's list: %v", rows)
			}
			if ans["description"] != "I never made this payment and do not know this app." || ans["flash"] != "Answer sent. The bank's staff see it on the case." ||
				!strings.HasPrefix(ans["answer"].(string), "“Our logs show") || ans["forms"] != 0.0 {
				t.Errorf("answered: %v", ans)
			}
			rej := res.Step("rejected")
			before := rej["before"].(map[string]any)
			if before["deadline"] != "15 business days left" && before["deadline"] != "14 business days left" {
				t.Errorf("deadline: %v", before)
			}
			if before["agrees"] != "The partner agrees to a refund." || !strings.Contains(before["customer"].(string), "b••••••••••@example.com") ||
				before["refundAction"] != "/console/corrections" {
				t.Errorf("case before: %v", before)
			}
			if rej["noReasons"] != "Give the reasons for rejecting the complaint." || rej["status"] != "resolved: rejected" ||
				!strings.Contains(rej["outcome"].(string), "You confirmed this payment in the app with your authenticator code.") ||
				rej["timeline"] != 3.0 {
				t.Errorf("rejected: %v", rej)
			}
			if st := res.Step("customer_after"); !strings.Contains(st["row"].(string), "rejected") {
				t.Errorf("customer after: %v", st)
			}
			ms, err := mail.List(ctx, p.DB.DB, "bob.sandbox@example.com", 10)
			if err != nil || len(ms) != 2 || !strings.Contains(ms[0].Body, "You confirmed this payment in the app with your authenticator code.") ||
				!strings.Contains(ms[1].Subject, "We received your complaint") {
				t.Errorf("customer mails %+v %v", ms, err)
			}
			var types []string
			if err := p.DB.DB.Raw(`SELECT type FROM webhook_events WHERE partner_id = ? AND type LIKE 'complaint.%' ORDER BY created_at`, pid).Scan(&types).Error; err != nil ||
				strings.Join(types, ",") != "complaint.opened,complaint.resolved" {
				t.Errorf("webhook events %v %v", types, err)
			}
		})
	}
}
