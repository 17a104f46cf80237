package main

import (
	"context"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// TestContractFees: apis' FeeTerms adapter prices payments with the active
// contract's payment fee through contracts.PaymentFees; a partner without an
// active contract has none.
func TestContractFees(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := func() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) }
		cs := contracts.New(d, contracts.Options{Now: now})
		fees := contractFees{contracts.NewScope(d, now)}
		if _, ok, err := fees.PaymentFee(ctx, "ptn_fees"); err != nil || ok {
			t.Fatalf("fail/no contract: ok %v err %v", ok, err)
		}
		pf := contracts.PaymentFee{FixedMinor: 25, BPS: 120}
		terms := contracts.Terms{Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
			NoticeDays: 30, Currency: "GBP", FeeSchedule: contracts.FeeSchedule{PaymentFee: pf}}
		maker := contracts.Actor{ID: "stf_maker", Role: staff.RoleFinance}
		checker := contracts.Actor{ID: "stf_checker", Role: staff.RoleFinance}
		c, err := cs.Draft(ctx, maker, "ptn_fees", terms)
		if err == nil {
			_, err = cs.Submit(ctx, maker, c.ID)
		}
		if err == nil {
			_, err = cs.Approve(ctx, checker, c.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
		rule, ok, err := fees.PaymentFee(ctx, "ptn_fees")
		if err != nil || !ok || rule.Currency != "GBP" {
			t.Fatalf("ok/active contract: %+v %v %v", rule, ok, err)
		}
		for _, x := range []struct{ n, value int64 }{{1, 1234}, {5, 12610}, {3, 1}} {
			f, b := contracts.PaymentFees(pf, x.n, x.value)
			if got := rule.Fee(x.n, x.value); got != f+b {
				t.Fatalf("ok/fee of %d payments worth %d: %d, contracts %d", x.n, x.value, got, f+b)
			}
		}
	})
}
