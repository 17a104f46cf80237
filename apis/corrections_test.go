package apis_test

import (
	"testing"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/corrections"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// TestPaymentCorrectionsAPI: the partner asks for refunds of its accepted
// payment and lists them; another partner's payment is not found; a
// rejected payment cannot be reversed; malformed bodies are refused
// exactly. Staff approval posts the refund: the list shows it posted and
// the customer's balance has it back.
func TestPaymentCorrectionsAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		a := e.partner("ptn_corr_a", environment.Sandbox)
		b := e.partner("ptn_corr_b", environment.Sandbox)
		alice, carol := e.customer("alice"), e.customer("carol.insufficient")
		pid, status := a.pay(alice, "10.00", externalCreditor, "INV-7")
		if status != "AcceptedSettlementInProcess" {
			t.Fatalf("payment %s", status)
		}
		rejected, status := a.pay(carol, "5000.00", externalCreditor, "INV-8")
		if status != "Rejected" {
			t.Fatalf("payment %s", status)
		}
		path := pisp + "/domestic-payments/" + pid + "/corrections"
		refund := func(amount string) map[string]any {
			return map[string]any{"Kind": "refund", "Amount": map[string]any{"Amount": amount, "Currency": "GBP"}, "Reason": "returned goods"}
		}

		r := e.do("POST", path, a.token, refund("4.00"), withKey("refund-1"))
		wantStatus(t, r, 201)
		data := r.data(t)
		if data["DomesticPaymentId"] != pid || data["Kind"] != "refund" || data["Status"] != "pending_approval" ||
			data["Amount"].(map[string]any)["Amount"] != "4.00" || data["Reason"] != "returned goods" {
			t.Fatalf("ok/requested: %s", r.body)
		}
		cid := data["CorrectionId"].(string)
		again := e.do("POST", path, a.token, refund("4.00"), withKey("refund-1"))
		if again.header.Get("x-idempotent-replay") != "true" || string(again.body) != string(r.body) {
			t.Fatalf("ok/replayed: %s %s", again.header, again.body)
		}

		for _, tc := range []struct {
			name         string
			token, path  string
			body         any
			status       int
			code, detail string
		}{
			{"fail/other-partner", b.token, path, refund("1.00"), 404, "not_found", "domestic payment " + pid + " not found"},
			{"fail/over-the-payment", a.token, path, refund("6.01"), 422, "validation_failed",
				"a refund of 6.01 GBP exceeds what is left to refund of payment " + pid + ": 6.00 GBP of 10.00 GBP"},
			{"fail/reversal-of-rejected", a.token, pisp + "/domestic-payments/" + rejected + "/corrections",
				map[string]any{"Kind": "reversal", "Reason": "x"}, 409, "invalid_state_transition",
				"payment " + rejected + " is Rejected: only a payment the bank accepted can be refunded or reversed"},
			{"fail/amount", a.token, path, refund("1.001"), 422, "validation_failed",
				`Amount: amount "1.001" has more decimals than GBP allows (2)`},
			{"fail/unknown-member", a.token, path, map[string]any{"Kind": "refund", "Reason": "x", "Extra": 1}, 400, "malformed_json", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.t = t
				r := e.do("POST", tc.path, tc.token, tc.body)
				if tc.detail == "" {
					wantStatus(t, r, tc.status)
					return
				}
				wantProblem(t, r, tc.status, tc.code, tc.detail)
			})
		}
		e.t = t
		wantProblem(t, e.do("GET", path, b.token, nil), 404, "not_found", "domestic payment "+pid+" not found")

		before := alice.account(core.AccountCurrent)
		bal0, err := e.core.Account(ctx, before.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.corrections.Decide(ctx, corrections.Actor{ID: "stf_checker", Role: staff.RoleFinance}, cid, corrections.Approve, "receipt seen"); err != nil {
			t.Fatal(err)
		}
		r = e.do("GET", path, a.token, nil)
		wantStatus(t, r, 200)
		list := r.data(t)["Corrections"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["Status"] != "posted" || list[0].(map[string]any)["PostingDateTime"] == nil {
			t.Fatalf("ok/list-posted: %s", r.body)
		}
		bal1, err := e.core.Account(ctx, before.ID)
		if err != nil || bal1.Balance.Minor != bal0.Balance.Minor+400 {
			t.Fatalf("ok/balance-restored: %d → %d, %v", bal0.Balance.Minor, bal1.Balance.Minor, err)
		}
		if evs := e.pub.of(corrections.EventRefunded, "correction_id", cid); len(evs) != 1 || evs[0].Data["payment_id"] != pid ||
			evs[0].Data["amount"] != "400" || evs[0].PartnerID != "ptn_corr_a" {
			t.Fatalf("ok/webhook: %+v", evs)
		}
	})
}
