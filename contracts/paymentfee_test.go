package contracts_test

import (
	"testing"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestPaymentFees: the one payment-fee computation is what a statement's
// two payment lines charge, and Scope.PaymentFeeTerms gives the active
// contract's fee and currency (none without an active contract).
func TestPaymentFees(t *testing.T) {
	terms := standardTerms()
	for _, tc := range []struct {
		name       string
		n, value   int64
		fixed, bps int64
	}{
		{name: "ok/one payment", n: 1, value: 1234, fixed: 10, bps: 2},  // 1234 × 15 bps = 1.851 → 2
		{name: "ok/half to even", n: 2, value: 1000, fixed: 20, bps: 2}, // 1.5 → 2
		{name: "ok/exact", n: 3, value: 1_0000, fixed: 30, bps: 15},     // 15 exactly
		{name: "ok/none", n: 0, value: 0, fixed: 0, bps: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, b := contracts.PaymentFees(terms.FeeSchedule.PaymentFee, tc.n, tc.value)
			if f != tc.fixed || b != tc.bps {
				t.Fatalf("PaymentFees = %d, %d; want %d, %d", f, b, tc.fixed, tc.bps)
			}
			if tc.n == 0 {
				return
			}
			var lf, lb int64
			for _, l := range contracts.ComputeLines(terms, contracts.UsageTotals{Payments: tc.n, PaymentValue: tc.value}, nil) {
				switch l.Kind {
				case contracts.LinePaymentFixedFee:
					lf = l.Amount
				case contracts.LinePaymentValueFee:
					lb = l.Amount
				}
			}
			if lf != f || lb != b {
				t.Fatalf("statement lines %d, %d; PaymentFees %d, %d", lf, lb, f, b)
			}
		})
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		scope := contracts.NewScope(d, e.clock.Now)
		if _, _, ok, err := scope.PaymentFeeTerms(ctx, "ptn_fee"); err != nil || ok {
			t.Fatalf("fail/no contract: ok %v err %v", ok, err)
		}
		e.activeContract(t, "ptn_fee", terms)
		e.clock.Set(date(2026, 3, 1))
		pf, cur, ok, err := scope.PaymentFeeTerms(ctx, "ptn_fee")
		if err != nil || !ok || cur != "EUR" || pf != terms.FeeSchedule.PaymentFee {
			t.Fatalf("ok/active contract: %+v %s %v %v", pf, cur, ok, err)
		}
	})
}
