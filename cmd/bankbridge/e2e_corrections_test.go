package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/partners/staff"
	bankbridge "github.com/bankbridge/bankbridge/sdk/go"
)

var correctionLink = regexp.MustCompile(`/console/corrections/(cor_[0-9a-zA-Z]+)`)

// refundEvents returns the payment.refunded events the sink got for
// paymentID, waiting (up to 20 s) until there are n.
func (s *webhookSink) refundEvents(t *testing.T, paymentID string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out []map[string]any
		s.mu.Lock()
		for _, ev := range s.events {
			var d map[string]any
			if ev.Type == "payment.refunded" && ev.DecodeData(&d) == nil && d["payment_id"] == paymentID {
				out = append(out, d)
			}
		}
		s.mu.Unlock()
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestE2ECorrections, through the real server on both engines: alice pays
// 10.00 through a partner; the partner asks for a refund of 4.00 (SDK,
// x-idempotency-key) and a risk officer approves it in the console; a
// finance officer raises the remaining 6.00 in the console, cannot approve
// it, and the risk officer does; one penny more is refused to the partner.
// Alice's balance is back where it was, her statement shows both refunds
// with the payment's reference, she got two mails, the ledger has both
// postings and the partner's endpoint received both payment.refunded.
func TestE2ECorrections(t *testing.T) {
	requireE2E(t, false)
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, dbURL(t), "--webhooks-allow-loopback")
			ctx := context.Background()
			fx := paidThroughPartner(t, s, "10.00", "corr-e2e", "payment.refunded", "payment.reversed")
			partner, sink, pid, debtor := fx.App, fx.Sink, fx.PaymentID, fx.Debtor
			platform := s.Main.Platform
			balance := func(accountID string) int64 {
				t.Helper()
				a, err := platform.Services.Core.Account(ctx, accountID)
				if err != nil {
					t.Fatal(err)
				}
				return a.Balance.Minor
			}
			paid := balance(debtor)

			// The partner asks for 4.00 back.
			req := bankbridge.CorrectionRequest{Kind: "refund", Reason: "returned goods",
				Amount: &bankbridge.CorrectionRequest_Amount{Amount: "4.00", Currency: "GBP"}}
			cr, err := partner.CreateDomesticPaymentCorrection(ctx, pid, req, bankbridge.WithIdempotencyKey("refund-e2e-1"))
			if err != nil || cr.Data.Status != "pending_approval" {
				t.Fatalf("partner refund: %+v %v", cr, err)
			}
			again, err := partner.CreateDomesticPaymentCorrection(ctx, pid, req, bankbridge.WithIdempotencyKey("refund-e2e-1"))
			if err != nil || again.Data.CorrectionId != cr.Data.CorrectionId {
				t.Fatalf("replayed refund: %+v %v", again, err)
			}

			finCreated, err := platform.Services.Staff.Bootstrap(ctx, "finance@bank.example", staff.RoleFinance)
			if err != nil {
				t.Fatal(err)
			}
			roCreated, err := platform.Services.Staff.Bootstrap(ctx, "officer@bank.example", staff.RoleRiskOfficer)
			if err != nil {
				t.Fatal(err)
			}
			fin, officer := staffConsole(t, s.URL, finCreated), staffConsole(t, s.URL, roCreated)

			page := "/console/corrections/" + cr.Data.CorrectionId
			st, loc, body := officer.submit(page, page+"/decide", url.Values{"decision": {"approve"}, "note": {"receipt checked"}})
			if st != http.StatusSeeOther || loc != page+"?done=posted" {
				t.Fatalf("approve partner refund: %d %q\n%s", st, loc, body)
			}

			// Finance raises the rest in the console; a second person approves.
			st, loc, body = fin.submit("/console/corrections", "/console/corrections", url.Values{"payment_id": {pid}, "kind": {"refund"},
				"amount": {"6.00"}, "currency": {"GBP"}, "reason": {"order cancelled"}})
			m := correctionLink.FindStringSubmatch(loc)
			if st != http.StatusSeeOther || m == nil {
				t.Fatalf("raise: %d %q\n%s", st, loc, body)
			}
			page = "/console/corrections/" + m[1]
			st, _, body = fin.submit(page, page+"/decide", url.Values{"decision": {"approve"}, "note": {"my own"}})
			if st != http.StatusForbidden || !strings.Contains(body, "who cannot also decide it") {
				t.Fatalf("maker approves: %d\n%s", st, body)
			}
			st, loc, body = officer.submit(page, page+"/decide", url.Values{"decision": {"approve"}, "note": {"agreed"}})
			if st != http.StatusSeeOther || loc != page+"?done=posted" {
				t.Fatalf("approve staff refund: %d %q\n%s", st, loc, body)
			}

			_, err = partner.CreateDomesticPaymentCorrection(ctx, pid, bankbridge.CorrectionRequest{Kind: "refund", Reason: "more",
				Amount: &bankbridge.CorrectionRequest_Amount{Amount: "0.01", Currency: "GBP"}})
			var pe *bankbridge.Problem
			if !errors.As(err, &pe) || pe.Status != 422 || pe.Detail != "a refund of 0.01 GBP exceeds what is left to refund of payment "+pid+": 0.00 GBP of 10.00 GBP" {
				t.Fatalf("one penny more: %v", err)
			}

			if b := balance(debtor); b != paid+1000 {
				t.Fatalf("balance %d, want %d (restored)", b, paid+1000)
			}
			list, err := partner.DomesticPaymentCorrections(ctx, pid)
			if err != nil || len(list.Data.Corrections) != 2 || list.Data.Corrections[0].Status != "posted" || list.Data.Corrections[1].Status != "posted" {
				t.Fatalf("partner list: %+v %v", list, err)
			}
			page2, err := platform.Services.Core.Transactions(ctx, debtor, core.TransactionQuery{Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []string{"Refund of payment " + pid + ": order cancelled", "Refund of payment " + pid + ": returned goods"} {
				if e := page2.Transactions[i]; e.Description != want || e.Reference != "corr-e2e" || e.CreditDebit != core.Credit {
					t.Fatalf("statement[%d]: %+v", i, e)
				}
			}
			ms, err := mail.List(ctx, platform.DB.DB, "alice@example.test", 10)
			refunds := 0
			for _, m := range ms {
				if m.Template == "payment_refunded" {
					refunds++
				}
			}
			if err != nil || refunds != 2 {
				t.Fatalf("refund mails: %d, %v", refunds, err)
			}
			var postings int64
			platform.DB.Raw(`SELECT COUNT(*) FROM ledger_postings WHERE description LIKE ?`, "%"+pid+"%").Scan(&postings)
			if postings != 2 {
				t.Fatalf("ledger postings: %d", postings)
			}
			// The customer's dashboard: the Accounts page lists the refunds.
			cust := newBrowserless(t, s.URL)
			if st, loc, body := cust.submit("/sandbox/customer/login", "/sandbox/customer/login",
				url.Values{"username": {"alice"}, "password": {"sandbox-password-1"}}); st != http.StatusSeeOther {
				t.Fatalf("customer sign-in: %d %s\n%s", st, loc, body)
			}
			st, _, body = cust.get("/sandbox/customer/accounts")
			for _, w := range []string{"Refund of payment " + pid + ": returned goods", "Refund of payment " + pid + ": order cancelled", "corr-e2e"} {
				if st != http.StatusOK || !strings.Contains(body, w) {
					t.Fatalf("customer accounts page lacks %q: %d\n%s", w, st, body)
				}
			}
			if evs := sink.refundEvents(t, pid, 2); len(evs) != 2 {
				t.Fatalf("payment.refunded webhooks: %+v", evs)
			}
		})
	}
}
