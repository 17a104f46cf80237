package contracts_test

import (
	"testing"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// TestSettleFinal: the final statement of a partnership that ends on 11
// March bills the usage of 1–10 March only, with the monthly minimum
// prorated (5000 × 10/31 days = 1612.9 → 1613), ends the contract at that
// date, is written once however often it is asked for, and the monthly run
// of March leaves it as it is. Refusals and a partner without a contract.
func TestSettleFinal(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		c := e.activeContract(t, "ptn_a", standardTerms())
		if got, ok, err := e.s.ActiveContract(ctx, "ptn_a"); err != nil || !ok || got.ID != c.ID || got.NoticeDays != 60 {
			t.Fatalf("ActiveContract = %+v %v %v", got, ok, err)
		}
		mustRecord(t, e.s, call("k1", "ptn_a", "accounts", date(2026, 3, 2)), call("k2", "ptn_a", "accounts", date(2026, 3, 20)))
		end := date(2026, 3, 11)
		e.clock.Set(end)
		st, ok, err := e.s.SettleFinal(ctx, "ptn_a", end, "partnership ended")
		if err != nil || !ok {
			t.Fatalf("SettleFinal: %v %v", ok, err)
		}
		if st.Period != "2026-03" || st.RunID != contracts.FinalRunID || st.MinimumTopUp != 1613 || st.CallFees != 0 || st.Net != 1613 {
			t.Fatalf("final statement %+v", st)
		}
		var calls int64
		for _, l := range st.Lines {
			if l.Kind == contracts.LineCallFee {
				calls += l.Quantity
			}
		}
		if calls != 1 {
			t.Fatalf("calls billed %d, want 1 (the one before the end)", calls)
		}
		ended, err := e.s.Contract(ctx, c.ID)
		if err != nil || ended.Status != contracts.StatusTerminated || ended.TerminatedAt == nil || !ended.TerminatedAt.Equal(end) {
			t.Fatalf("contract after %+v %v", ended, err)
		}
		again, ok, err := e.s.SettleFinal(ctx, "ptn_a", end, "partnership ended")
		if err != nil || !ok || again.ID != st.ID {
			t.Fatalf("again: %+v %v %v", again, ok, err)
		}
		e.clock.Set(date(2026, 4, 2))
		run, err := e.s.Settle(ctx, "2026-03", date(2026, 4, 2))
		if err != nil || len(run.StatementIDs) != 1 || run.StatementIDs[0] != st.ID {
			t.Fatalf("monthly run %+v %v", run, err)
		}
		for _, tc := range []struct {
			name            string
			partner, reason string
		}{{"fail/no-reason", "ptn_a", " "}, {"fail/no-partner", "", "ended"}} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := e.s.SettleFinal(ctx, tc.partner, end, tc.reason)
				wantProblem(t, err, problem.CodeValidation, "a final settlement needs a partner, an end and a reason")
			})
		}
		t.Run("ok/no-contract", func(t *testing.T) {
			st, ok, err := e.s.SettleFinal(ctx, "ptn_none", end, "ended")
			if err != nil || ok || st.ID != "" {
				t.Fatalf("%+v %v %v", st, ok, err)
			}
		})
	})
}
