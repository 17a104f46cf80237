package apis_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/risk"
)

// watchList is a fake screening port: the names it lists match at 96%.
type watchList map[string]bool

func (w watchList) Screen(_ context.Context, name string) ([]risk.Match, error) {
	if !w[name] {
		return nil, nil
	}
	return []risk.Match{{Name: name, List: "TEST LIST", Reference: "T-1", Score: 96}}, nil
}

// ratings is a fake partner-rating port (absent partners: medium).
type ratings map[string]string

func (r ratings) RiskRating(_ context.Context, partnerID string) (string, error) {
	if v, ok := r[partnerID]; ok {
		return v, nil
	}
	return risk.RatingMedium, nil
}

func riskEnv(t *testing.T, d *db.DB) (*env, *risk.Assessor) {
	a, err := risk.NewAssessor(risk.AssessorConfig{Store: risk.NewGormStore(d),
		Screener: watchList{"Ivan Sanctioned": true}, Ratings: ratings{"ptn_high": risk.RatingHigh}})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, d, func(c *apis.Config) { c.Risk = a }), a
}

func riskyBlock() map[string]any {
	return map[string]any{"PaymentContextCode": "PartyToParty", "MerchantCategoryCode": "7995",
		"DeliveryAddress": map[string]any{"TownName": "Paris", "Country": "FR"}}
}

func reasonCodes(rs []risk.Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

// TestRiskScoring: payment consents and payments are scored; a reject
// refuses the consent (risk_rejected) or rejects the payment without the
// core; a hold keeps the payment Pending, unsent, with a case and the
// Suspended reason in payment-details, until it is released or rejected.
func TestRiskScoring(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e, _ := riskEnv(t, d)
		store := apis.NewGormStore(d)
		cases := risk.NewGormStore(d)
		alice := e.customer("alice")
		debtor := alice.account(core.AccountCurrent)
		consent := func(p *partner, in, riskBlock map[string]any) *response {
			return e.do("POST", pisp+"/domestic-payment-consents", p.token, map[string]any{"Data": map[string]any{"Initiation": in}, "Risk": riskBlock})
		}

		t.Run("fail/consent refused by the scoring", func(t *testing.T) {
			e.t = t
			high := e.partner("ptn_high", environment.Sandbox)
			r := consent(high, initiation("10.00", externalCreditor, "Ivan Sanctioned", "R-1"), riskyBlock())
			wantProblem(t, r, 403, "risk_rejected", "the bank's risk controls refused this payment consent")
			evs, err := audit.List(ctx, d.DB, audit.Filter{Action: "consent.refused_by_risk", PartnerID: "ptn_high"})
			if err != nil || len(evs) != 1 {
				t.Fatalf("refusal audit %v %v", evs, err)
			}
		})

		t.Run("fail/a high-risk partner has half the limits", func(t *testing.T) {
			e.t = t
			// The sandbox per-payment default is 25000.00 GBP: 12500.01 is
			// over half of it for ptn_high, within it for a medium partner.
			in := initiation("12500.01", externalCreditor, "Corner Cafe", "HALF-1")
			r := consent(e.partner("ptn_high", environment.Sandbox), in, map[string]any{})
			wantProblem(t, r, 422, "limit_exceeded", "the per-payment limit is 12500.00 GBP (half the usual: the partner's risk rating is high)")
			wantStatus(t, consent(e.partner("ptn_medium", environment.Sandbox), in, map[string]any{}), 201)
		})

		t.Run("ok/allowed payment is scored and executed", func(t *testing.T) {
			e.t = t
			p := e.partner("ptn_ok", environment.Sandbox)
			in := initiation("12.00", externalCreditor, "Corner Cafe", "OK-1")
			r := consent(p, in, map[string]any{"PaymentContextCode": "BillPayment"})
			wantStatus(t, r, 201)
			cid := r.data(t)["ConsentId"].(string)
			c, err := store.Consent(ctx, cid)
			if err != nil || c.Scoring.Decision != risk.DecisionAllow || c.Scoring.Score != 5 {
				t.Fatalf("consent scoring %+v %v", c.Scoring, err)
			}
			tok := p.authorise(apis.TypePaymentInitiation, cid, alice, debtor.ID)
			r = e.do("POST", pisp+"/domestic-payments", tok, map[string]any{"Data": map[string]any{"ConsentId": cid, "Initiation": in},
				"Risk": map[string]any{"PaymentContextCode": "BillPayment"}})
			wantStatus(t, r, 201)
			if r.data(t)["Status"] != "AcceptedSettlementInProcess" {
				t.Fatalf("status %v", r.data(t)["Status"])
			}
			pay, err := store.Payment(ctx, r.data(t)["DomesticPaymentId"].(string))
			if err != nil {
				t.Fatal(err)
			}
			// first GBP payment of alice (no history), new payee, medium partner: 30 → sca, recorded.
			if pay.Scoring.Decision != risk.DecisionSCA || pay.Scoring.Score != 30 || pay.Held || pay.CustomerID != alice.id ||
				!slices.Equal(reasonCodes(pay.Scoring.Reasons), []string{"no_history", "new_payee", "partner_rating"}) {
				t.Fatalf("payment scoring %+v held %v customer %s", pay.Scoring, pay.Held, pay.CustomerID)
			}
		})

		var heldID string
		t.Run("ok/held payment stays Pending and unsent", func(t *testing.T) {
			e.t = t
			p := e.partner("ptn_hold", environment.Sandbox)
			in := initiation("40.00", externalCreditor, "Ivan Sanctioned", "HOLD-1")
			block := map[string]any{"PaymentContextCode": "BillPayment"}
			r := consent(p, in, block)
			wantStatus(t, r, 201)
			cid := r.data(t)["ConsentId"].(string)
			tok := p.authorise(apis.TypePaymentInitiation, cid, alice, debtor.ID)
			before, _ := e.core.Account(ctx, debtor.ID)
			r = e.do("POST", pisp+"/domestic-payments", tok, map[string]any{"Data": map[string]any{"ConsentId": cid, "Initiation": in}, "Risk": block})
			wantStatus(t, r, 201)
			validateOB(t, "POST", pisp+"/domestic-payments", r)
			heldID = r.data(t)["DomesticPaymentId"].(string)
			if r.data(t)["Status"] != "Pending" {
				t.Fatalf("status %v", r.data(t)["Status"])
			}
			for range 2 { // a read does not send it either
				r = e.do("GET", pisp+"/domestic-payments/"+heldID, p.token, nil)
				if r.data(t)["Status"] != "Pending" {
					t.Fatalf("status after GET %v", r.data(t)["Status"])
				}
			}
			r = e.do("GET", pisp+"/domestic-payments/"+heldID+"/payment-details", p.token, nil)
			validateOB(t, "GET", pisp+"/domestic-payments/{DomesticPaymentId}/payment-details", r)
			sd := r.data(t)["PaymentStatus"].([]any)[0].(map[string]any)["StatusDetail"].(map[string]any)
			if sd["Status"] != "Pending" || sd["StatusReason"] != "Suspended" || sd["StatusReasonDescription"] != "Held for review by the bank" {
				t.Fatalf("status detail %v", sd)
			}
			after, _ := e.core.Account(ctx, debtor.ID)
			if after.Balance != before.Balance {
				t.Fatalf("held payment moved the balance %v → %v", before.Balance, after.Balance)
			}
			if _, err := e.core.Payment(ctx, heldID); !errors.Is(err, core.ErrNotFound) {
				t.Fatalf("core knows the held payment: %v", err)
			}
			open, err := cases.OpenCases(ctx)
			if err != nil || len(open) != 1 || open[0].PaymentID != heldID || open[0].CustomerID != alice.id ||
				open[0].CreditorName != "Ivan Sanctioned" || len(open[0].Matches) != 1 {
				t.Fatalf("cases %+v %v", open, err)
			}
			pay, _ := store.Payment(ctx, heldID)
			if !pay.Held || pay.Scoring.Decision != risk.DecisionHold || !slices.Contains(reasonCodes(pay.Scoring.Reasons), "screening_match") {
				t.Fatalf("stored payment %+v", pay)
			}
		})

		t.Run("ok/release sends it to the core", func(t *testing.T) {
			e.t = t
			actor := apis.Actor{Type: audit.ActorStaff, ID: "stf_1"}
			if err := e.svc.ExecuteReleased(ctx, heldID, actor); err != nil { // still held: nothing happens
				t.Fatal(err)
			}
			if pay, _ := store.Payment(ctx, heldID); pay.Status != apis.PaymentPending {
				t.Fatalf("executed while held: %s", pay.Status)
			}
			if err := e.svc.ReleaseHeld(ctx, heldID, actor); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.ReleaseHeld(ctx, heldID, actor); !errors.Is(err, apis.ErrNotHeld) {
				t.Fatalf("second release: %v", err)
			}
			if err := e.svc.ExecuteReleased(ctx, heldID, actor); err != nil {
				t.Fatal(err)
			}
			pay, _ := store.Payment(ctx, heldID)
			if pay.Status != apis.PaymentAcceptedSettlementInProcess || pay.Held {
				t.Fatalf("after release %s held %v", pay.Status, pay.Held)
			}
			if len(e.pub.of("payment.status_changed", "payment_id", heldID)) != 1 {
				t.Fatalf("events %+v", e.pub.of("payment.status_changed", "payment_id", heldID))
			}
			if err := e.svc.RejectHeld(ctx, heldID, "late", actor); !errors.Is(err, apis.ErrNotHeld) {
				t.Fatalf("reject after release: %v", err)
			}
		})

		t.Run("ok/reject after review", func(t *testing.T) {
			e.t = t
			p := e.partner("ptn_hold2", environment.Sandbox)
			in := initiation("41.00", externalCreditor, "Ivan Sanctioned", "HOLD-2")
			block := map[string]any{"PaymentContextCode": "BillPayment"}
			r := consent(p, in, block)
			cid := r.data(t)["ConsentId"].(string)
			tok := p.authorise(apis.TypePaymentInitiation, cid, alice, debtor.ID)
			r = e.do("POST", pisp+"/domestic-payments", tok, map[string]any{"Data": map[string]any{"ConsentId": cid, "Initiation": in}, "Risk": block})
			pid := r.data(t)["DomesticPaymentId"].(string)
			if err := e.svc.RejectHeld(ctx, pid, risk.RejectReason, apis.Actor{Type: audit.ActorStaff, ID: "stf_1"}); err != nil {
				t.Fatal(err)
			}
			r = e.do("GET", pisp+"/domestic-payments/"+pid+"/payment-details", p.token, nil)
			validateOB(t, "GET", pisp+"/domestic-payments/{DomesticPaymentId}/payment-details", r)
			sd := r.data(t)["PaymentStatus"].([]any)[0].(map[string]any)["StatusDetail"].(map[string]any)
			if r.data(t)["PaymentStatus"].([]any)[0].(map[string]any)["Status"] != "Rejected" || sd["StatusReason"] != "ProprietaryRejection" ||
				sd["StatusReasonDescription"] != risk.RejectReason {
				t.Fatalf("payment details %s", r.body)
			}
			if ev := e.pub.of("payment.status_changed", "payment_id", pid); len(ev) != 1 || ev[0].Data["status"] != "Rejected" {
				t.Fatalf("events %+v", ev)
			}
		})

		t.Run("fail/payment rejected by the scoring is never sent", func(t *testing.T) {
			e.t = t
			high := e.partner("ptn_high", environment.Sandbox)
			in := initiation("15.00", "20000099999999", "Someone New", "REJ-1")
			// Consent: high rating 20 + party to party 10 + MCC 15 + abroad 10 = 55 (hold: no SCA asked).
			r := consent(high, in, riskyBlock())
			wantStatus(t, r, 201)
			cid := r.data(t)["ConsentId"].(string)
			bob := e.customer("bob")
			bd := bob.account(core.AccountCurrent)
			tok := high.authorise(apis.TypePaymentInitiation, cid, bob, bd.ID)
			// Payment: + no history 10 + new payee 15 = 80: reject.
			r = e.do("POST", pisp+"/domestic-payments", tok, map[string]any{"Data": map[string]any{"ConsentId": cid, "Initiation": in}, "Risk": riskyBlock()})
			wantStatus(t, r, 201)
			pid := r.data(t)["DomesticPaymentId"].(string)
			if r.data(t)["Status"] != "Rejected" {
				t.Fatalf("status %v", r.data(t)["Status"])
			}
			r = e.do("GET", pisp+"/domestic-payments/"+pid+"/payment-details", high.token, nil)
			sd := r.data(t)["PaymentStatus"].([]any)[0].(map[string]any)["StatusDetail"].(map[string]any)
			if sd["StatusReasonDescription"] != apis.RiskRejectReason {
				t.Fatalf("status detail %v", sd)
			}
			if _, err := e.core.Payment(ctx, pid); !errors.Is(err, core.ErrNotFound) {
				t.Fatalf("core knows the rejected payment: %v", err)
			}
			pay, _ := store.Payment(ctx, pid)
			if pay.Scoring.Score != 80 || pay.Scoring.Decision != risk.DecisionReject {
				t.Fatalf("scoring %+v", pay.Scoring)
			}
		})
	})
}
