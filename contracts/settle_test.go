package contracts_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// octoberUsage is partner ptn_a's October: 1001 accounts calls (1000 in tier 1,
// one in tier 2), three payments, a replayed key, a refused call, a sandbox call
// and a November call.
func octoberUsage(p string) []contracts.UsageRecord {
	var rs []contracts.UsageRecord
	day := date(2026, 10, 1)
	for i := 0; i < 1001; i++ {
		rs = append(rs, call(keyf("%s-acc-%d", p, i), p, "accounts", day.Add(time.Duration(i)*time.Minute*40)))
	}
	rs = append(rs,
		payment(p+"-pay-1", p, 10000, date(2026, 10, 5)),
		payment(p+"-pay-2", p, 20000, date(2026, 10, 6)),
		payment(p+"-pay-3", p, 5001, date(2026, 10, 31).Add(23*time.Hour+59*time.Minute)),
		payment(p+"-pay-3", p, 5001, date(2026, 10, 31).Add(23*time.Hour+59*time.Minute)), // client retry
		call(p+"-pay-call-1", p, "payments", date(2026, 10, 5)),
	)
	refused := call(p+"-refused", p, "accounts", date(2026, 10, 7))
	refused.Billable, refused.Status = false, 403
	sandbox := call(p+"-sandbox", p, "accounts", date(2026, 10, 7))
	sandbox.Environment = environment.Sandbox
	return append(rs, refused, sandbox, call(p+"-nov", p, "accounts", date(2026, 11, 1)))
}

// wantOctober is the statement octoberUsage yields under standardTerms.
func wantOctober() []contracts.Line {
	return []contracts.Line{
		{Seq: 1, Kind: contracts.LineCallFee, Product: "accounts", TierFrom: 0, TierTo: 1000, Quantity: 1000, UnitPriceMicros: 500_000, Amount: 500, Description: "accounts calls 1 to 1000"},
		{Seq: 2, Kind: contracts.LineCallFee, Product: "accounts", TierFrom: 1000, TierTo: 0, Quantity: 1, UnitPriceMicros: 250_000, Amount: 0, Description: "accounts calls over 1000"},
		{Seq: 3, Kind: contracts.LineCallFee, Product: "payments", Quantity: 1, Amount: 0, Description: "payments calls over 0"},
		{Seq: 4, Kind: contracts.LinePaymentFixedFee, Product: "payments", Quantity: 3, UnitPriceMicros: 10_000_000, Amount: 30, Description: "payment fees, fixed per payment"},
		// 35001 × 15 / 10000 = 52.5015 → 53
		{Seq: 5, Kind: contracts.LinePaymentValueFee, Product: "payments", Quantity: 3, RateBPS: 15, Base: 35001, Amount: 53, Description: "payment fees, basis points of value"},
		// 83 × 10% = 8.3 → 8
		{Seq: 6, Kind: contracts.LineRevenueShare, Product: "payments", Quantity: 3, RateBPS: 1000, Base: 83, Amount: -8, Description: "revenue share at payment volume 350.01"},
		{Seq: 7, Kind: contracts.LineMinimumTopUp, Base: 583, Amount: 4417, Description: "minimum commitment 50.00"},
	}
}

func TestSettleStatement(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.activeContract(t, "ptn_a", standardTerms())
		recs := octoberUsage("ptn_a")
		if err := e.s.RecordUsageBatch(ctx, recs[:1001]); err != nil {
			t.Fatal(err)
		}
		mustRecord(t, e.s, recs[1001:]...)
		e.clock.Set(date(2026, 11, 2))

		run, err := e.s.Settle(ctx, "2026-10", e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if run.AlreadySettled || run.CompletedAt == nil || len(run.StatementIDs) != 1 {
			t.Fatalf("run %+v", run)
		}
		st, err := e.s.Statement(ctx, "ptn_a", run.StatementIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(st.Lines, wantOctober()) {
			t.Fatalf("lines:\n got %+v\nwant %+v", st.Lines, wantOctober())
		}
		if st.CallFees != 500 || st.PaymentFees != 83 || st.RevenueShare != 8 || st.MinimumTopUp != 4417 || st.Net != 4992 ||
			st.Direction != contracts.DirectionReceivable || st.Currency != "EUR" || st.Period != "2026-10" {
			t.Fatalf("statement %+v", st)
		}
		// Ledger: the receivable carries the net, revenue accounts the fees.
		for acct, want := range map[string]int64{
			contracts.PartnerAccount(contracts.AccountPartnerReceivable, "ptn_a"): 4992,
			contracts.PartnerAccount(contracts.AccountPartnerPayable, "ptn_a"):    0,
			contracts.AccountBankAPIRevenue:                                       -(500 + 4417),
			contracts.AccountBankPaymentRevenue:                                   -83,
			contracts.AccountRevenueShareExpense:                                  8,
		} {
			got, err := e.s.Ledger.Balance(ctx, acct, "EUR")
			if err != nil || got != want {
				t.Errorf("balance %s = %d (%v), want %d", acct, got, err, want)
			}
		}
		p, err := e.s.Ledger.PostingByKey(ctx, contracts.StatementKey(st.ID))
		if err != nil || len(p.Entries) != 4 { // the payable side nets to zero
			t.Fatalf("posting %+v %v", p, err)
		}
		if len(e.events.events) != 1 || e.events.events[0].Type != contracts.EventStatementIssued || e.events.events[0].PartnerID != "ptn_a" ||
			e.events.events[0].Data["statement_id"] != st.ID || e.events.events[0].Data["net"] != int64(4992) {
			t.Fatalf("events %+v", e.events.events)
		}
		// Re-running changes nothing.
		again, err := e.s.Settle(ctx, "2026-10", date(2026, 12, 1))
		if err != nil {
			t.Fatal(err)
		}
		if !again.AlreadySettled || again.ID != run.ID || !reflect.DeepEqual(again.StatementIDs, run.StatementIDs) || len(e.events.events) != 1 {
			t.Fatalf("rerun %+v", again)
		}
		rep, err := e.s.Reconcile(ctx, "2026-10")
		if err != nil {
			t.Fatal(err)
		}
		if rep.Statements != 1 || len(rep.Differences) != 0 {
			t.Fatalf("reconcile %+v", rep)
		}
		evs, _ := audit.List(ctx, d.DB, audit.Filter{Action: "statement.issued"})
		if len(evs) != 1 || evs[0].ObjectID != st.ID {
			t.Fatalf("audit %+v", evs)
		}
	})
}

func TestSettleRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		_, err := e.s.Settle(ctx, "2026-13", date(2027, 1, 1))
		wantFields(t, err, `period "2026-13" is not of the form YYYY-MM`, contracts.FieldError{Field: "period", Reason: "must be YYYY-MM"})
		_, err = e.s.Settle(ctx, "2026-10", date(2026, 10, 31))
		wantProblem(t, err, problem.CodeInvalidRequest, "period 2026-10 has not ended yet; it can be settled from 2026-11-01T00:00:00Z")
		_, err = e.s.SettleAs(ctx, contracts.Actor{ID: "stf_pm", Role: staff.RolePartnerManager}, "2026-10", date(2026, 11, 2))
		wantProblem(t, err, problem.CodeForbidden, `role "partner_manager" may not run settlements`)
		_, err = e.s.SettleAs(ctx, contracts.Actor{ID: "stf_aud", Role: staff.RoleAuditor}, "2026-10", date(2026, 11, 2))
		wantProblem(t, err, problem.CodeForbidden, `role "auditor" may not run settlements`)
		if run, err := e.s.SettleAs(ctx, maker, "2026-10", date(2026, 11, 2)); err != nil || len(run.StatementIDs) != 0 {
			t.Fatalf("settle as finance: %+v %v", run, err)
		}
	})
}

func TestSettleEventFailureRollsBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.activeContract(t, "ptn_a", standardTerms())
		mustRecord(t, e.s, call("k1", "ptn_a", "accounts", date(2026, 10, 3)))
		e.events.fail = errors.New("outbox unavailable")
		if _, err := e.s.Settle(ctx, "2026-10", date(2026, 11, 2)); err == nil || !strings.Contains(err.Error(), "outbox unavailable") {
			t.Fatalf("err %v", err)
		}
		sts, _ := e.s.Statements(ctx, "")
		totals, _ := e.s.Ledger.Totals(ctx)
		if len(sts) != 0 || len(totals) != 0 {
			t.Fatalf("statement or posting survived a failed event: %v %v", sts, totals)
		}
		e.events.fail = nil
		run, err := e.s.Settle(ctx, "2026-10", date(2026, 11, 2))
		if err != nil || run.AlreadySettled || len(run.StatementIDs) != 1 {
			t.Fatalf("resumed run %+v %v", run, err)
		}
	})
}
