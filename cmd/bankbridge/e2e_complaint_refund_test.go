package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/mail"
)

// typesFor returns, in the order received, the types of the events the
// sink got about paymentID, waiting (up to 20 s) until it has n.
func (s *webhookSink) typesFor(t *testing.T, paymentID string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out []string
		s.mu.Lock()
		for _, ev := range s.events {
			var d map[string]any
			if ev.DecodeData(&d) == nil && d["payment_id"] == paymentID {
				out = append(out, ev.Type)
			}
		}
		s.mu.Unlock()
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestE2EComplaintRefund is issue 17's browser test, on both engines: alice
// pays 10.00 through a partner (the SDK, a real consent and payment); in
// chromium she reports it as a wrong amount, the partner's owner answers in
// the portal agreeing to a refund, a partner manager raises a refund of 4.00
// from the case and a risk officer approves it (maker-checker). Her balance
// and statement show the refund, the complaint is resolved with outcome
// refund, she was mailed, and the partner's endpoint received
// complaint.opened, payment.refunded and complaint.resolved
// (e2e/complaint-refund.mjs).
func TestE2EComplaintRefund(t *testing.T) {
	requireE2E(t, true)
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, dbURL(t), "--webhooks-allow-loopback")
			ctx := context.Background()
			platform := s.Main.Platform
			fx := paidThroughPartner(t, s, "10.00", "dispute-e2e", "complaint.opened", "complaint.resolved", "payment.refunded")
			f, sink, pid := fx.Partner, fx.Sink, fx.PaymentID
			balance := func() int64 {
				t.Helper()
				a, err := platform.Services.Core.Account(ctx, fx.Debtor)
				if err != nil {
					t.Fatal(err)
				}
				return a.Balance.Minor
			}
			paid := balance()

			maker := runCLI(t, s, "staff", "create", "--email", "pat.manager@bank.example", "--role", "partner_manager", "--json")
			checker := runCLI(t, s, "staff", "create", "--email", "rita.risk@bank.example", "--role", "risk_officer", "--json")
			res := runNode(t, "complaint-refund.mjs", map[string]string{
				"BASE": s.URL, "PAYMENT_ID": pid, "CUSTOMER_USERNAME": "alice", "CUSTOMER_PASSWORD": "sandbox-password-1",
				"PORTAL_EMAIL": f.OwnerEmail, "PORTAL_PASSWORD": f.OwnerPassword,
				"MAKER_EMAIL": maker["email"].(string), "MAKER_PASSWORD": maker["one_time_password"].(string), "MAKER_TOTP": maker["totp_secret"].(string),
				"CHECKER_EMAIL": checker["email"].(string), "CHECKER_PASSWORD": checker["one_time_password"].(string), "CHECKER_TOTP": checker["totp_secret"].(string),
				"ARTIFACTS": artifactsDir(t), "CHROMIUM": chromiumPath(),
			})
			if res.Error != nil {
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Fatalf("flow failed:\n%s", b)
			}
			rep := res.Step("reported")
			if !strings.Contains(rep["listed"].(string), "10.00 GBP") || !strings.Contains(rep["listed"].(string), "Cert Wallet Limited") ||
				!strings.HasPrefix(rep["flash"].(string), "Thank you. We received your complaint (reference cmp_") {
				t.Errorf("reported: %v", rep)
			}
			if ans := res.Step("answered"); ans["flash"] != "Answer sent. The bank's staff see it on the case." {
				t.Errorf("answered: %v", ans)
			}
			raised := res.Step("raised")
			if raised["agrees"] != "The partner agrees to a refund." || raised["flash"] != "Correction raised. A second member of staff must approve it." ||
				raised["status"] != "pending_approval" || raised["amount"] != "4.00 GBP" ||
				!strings.HasPrefix(raised["reason"].(string), "Complaint cmp_") || !strings.HasSuffix(raised["reason"].(string), " upheld") ||
				raised["mine"] != "You raised this correction: a different member of staff approves or rejects it." ||
				strings.HasPrefix(raised["caseStatus"].(string), "resolved") {
				t.Errorf("raised: %v", raised)
			}
			if ap := res.Step("approved"); ap["flash"] != "Correction approved and posted: the customer's account was credited." || ap["status"] != "posted" ||
				!strings.Contains(ap["decision"].(string), "The partner confirms the double charge.") {
				t.Errorf("approved: %v", ap)
			}
			if r := res.Step("resolved"); r["status"] != "resolved: refund" || !strings.HasPrefix(r["outcome"].(string), "Refunded 4.00 GBP by correction cor_") {
				t.Errorf("resolved: %v", r)
			}
			st := res.Step("statement")
			found := false
			for _, e := range st["entries"].([]any) {
				cells := e.([]any)
				if strings.HasPrefix(cells[1].(string), "Refund of payment "+pid+": Complaint cmp_") && cells[2] == "dispute-e2e" && strings.Contains(cells[3].(string), "4.00") {
					found = true
				}
			}
			if !found {
				t.Errorf("statement lacks the refund: %v", st["entries"])
			}
			if got := balance(); got != paid+400 {
				t.Errorf("balance %d, want %d (4.00 refunded)", got, paid+400)
			}
			before, after := rep["balancesBefore"].([]any), st["balancesAfter"].([]any)
			if len(before) == 0 || len(before) != len(after) || before[0] == after[0] {
				t.Errorf("the Accounts page's balances did not change: %v → %v", before, after)
			}
			if row := res.Step("customer_after")["row"].(string); !strings.Contains(row, "refund") {
				t.Errorf("customer's payments after: %q", row)
			}
			tx, err := platform.Services.Core.Transactions(ctx, fx.Debtor, core.TransactionQuery{Limit: 1})
			if err != nil || len(tx.Transactions) != 1 || tx.Transactions[0].Amount.Minor != 400 || tx.Transactions[0].CreditDebit != core.Credit {
				t.Errorf("core statement: %+v %v", tx, err)
			}
			ms, err := mail.List(ctx, platform.DB.DB, "alice@example.test", 20)
			templates := map[string]bool{}
			for _, m := range ms {
				templates[m.Template] = true
			}
			if err != nil || !templates["payment_refunded"] {
				t.Errorf("customer mails %v %v", templates, err)
			}
			// complaint.opened long before; the other two commit together
			// (the refund's posting resolves the complaint), so either may
			// arrive first.
			got := sink.typesFor(t, pid, 3)
			if len(got) != 3 || got[0] != "complaint.opened" || !slices.Contains(got, "payment.refunded") || !slices.Contains(got, "complaint.resolved") {
				t.Errorf("partner's webhooks: %v", got)
			}
		})
	}
}
