package contracts_test

import (
	"testing"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

func TestCreditNoteLimitDefaults(t *testing.T) {
	s := contracts.New(dbtest.MustSQLite(t), contracts.Options{CreditNoteLimits: map[string]int64{"eur": 500, "USD": 0}})
	for cur, want := range map[string]int64{"EUR": 500, "USD": 0, "GBP": 100000, "JPY": 1000, "BHD": 1000000, "CLF": 10000000} {
		if got := s.CreditNoteLimit(cur); got != want {
			t.Errorf("CreditNoteLimit(%s) = %d, want %d", cur, got, want)
		}
	}
}

// TestCreditNoteAboveLimitNeedsSecondApprover: one finance user may issue a
// credit note up to the currency's limit alone; above it the note waits,
// unposted and unbilled, for a second finance or admin user.
func TestCreditNoteAboveLimitNeedsSecondApprover(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.s = contracts.New(d, contracts.Options{Events: e.events, Partners: e.hook, Now: e.clock.Now,
			CreditNoteLimits: map[string]int64{"EUR": 10000}})
		e.activeContract(t, "ptn_a", standardTerms())
		mustRecord(t, e.s, call("a1", "ptn_a", "accounts", date(2026, 10, 3)))
		eur := func(n int64) money.Money { return money.Money{Minor: n, Currency: "EUR"} }
		recv := contracts.PartnerAccount(contracts.AccountPartnerReceivable, "ptn_a")
		balance := func() int64 {
			b, err := e.s.Ledger.Balance(ctx, recv, "EUR")
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		finance2 := contracts.Actor{ID: "stf_finance2", Role: staff.RoleFinance}

		// At the limit, and debit notes of any size: issued at once.
		atLimit, err := e.s.IssueAdjustment(ctx, maker, "ptn_a", "2026-10", contracts.AdjustmentCredit, eur(10000), "outage")
		if err != nil || atLimit.Status != contracts.AdjustmentIssued || atLimit.PostingID == "" {
			t.Fatalf("credit at the limit %+v %v", atLimit, err)
		}
		debit, err := e.s.IssueAdjustment(ctx, maker, "ptn_a", "2026-10", contracts.AdjustmentDebit, eur(900000), "late fee")
		if err != nil || debit.Status != contracts.AdjustmentIssued {
			t.Fatalf("debit %+v %v", debit, err)
		}
		if b := balance(); b != -10000+900000 {
			t.Fatalf("receivable %d", b)
		}

		// Above the limit: pending, not posted.
		big, err := e.s.IssueAdjustment(ctx, maker, "ptn_a", "2026-10", contracts.AdjustmentCredit, eur(10001), "goodwill")
		if err != nil {
			t.Fatal(err)
		}
		if big.Status != contracts.AdjustmentPending || big.PostingID != "" {
			t.Fatalf("credit above the limit was issued by one person: %+v", big)
		}
		if b := balance(); b != -10000+900000 {
			t.Fatalf("pending credit note posted: receivable %d", b)
		}
		_, err = e.s.Ledger.PostingByKey(ctx, contracts.AdjustmentKey(big.ID))
		wantProblem(t, err, problem.CodeNotFound, "posting "+contracts.AdjustmentKey(big.ID)+" not found")
		other, err := e.s.IssueAdjustment(ctx, finance2, "ptn_a", "2026-10", contracts.AdjustmentCredit, eur(50000), "typo")
		if err != nil || other.Status != contracts.AdjustmentPending {
			t.Fatalf("second pending %+v %v", other, err)
		}

		for _, tc := range []struct {
			name   string
			run    func() error
			code   problem.Code
			detail string
		}{
			{"fail/maker-approves", func() error { _, err := e.s.ApproveAdjustment(ctx, maker, big.ID); return err },
				problem.CodeMakerChecker, "credit note " + big.ID + " was issued by stf_maker, who cannot also approve it"},
			{"fail/partner-manager-approves", func() error {
				_, err := e.s.ApproveAdjustment(ctx, contracts.Actor{ID: "stf_pm", Role: staff.RolePartnerManager}, big.ID)
				return err
			}, problem.CodeForbidden, `role "partner_manager" may not approve credit notes`},
			{"fail/auditor-rejects", func() error {
				_, err := e.s.RejectAdjustment(ctx, contracts.Actor{ID: "stf_aud", Role: staff.RoleAuditor}, big.ID, "no")
				return err
			}, problem.CodeForbidden, `role "auditor" may not approve credit notes`},
			{"fail/unknown", func() error { _, err := e.s.ApproveAdjustment(ctx, checker, "adj_nope"); return err },
				problem.CodeNotFound, "adjustment adj_nope not found"},
			{"fail/issued-one", func() error { _, err := e.s.ApproveAdjustment(ctx, checker, atLimit.ID); return err },
				problem.CodeInvalidState, "adjustment " + atLimit.ID + " is issued, not pending_approval"},
			{"fail/reject-without-reason", func() error { _, err := e.s.RejectAdjustment(ctx, checker, other.ID, " "); return err },
				problem.CodeValidation, "a rejection needs a reason"},
		} {
			t.Run(tc.name, func(t *testing.T) { wantProblem(t, tc.run(), tc.code, tc.detail) })
		}

		// A second finance user approves: posted now, audited with the maker.
		ok, err := e.s.ApproveAdjustment(ctx, finance2, big.ID)
		if err != nil || ok.Status != contracts.AdjustmentIssued || ok.PostingID == "" || ok.DecidedBy != finance2.ID || ok.DecidedAt == nil {
			t.Fatalf("approve %+v %v", ok, err)
		}
		if b := balance(); b != -10000+900000-10001 {
			t.Fatalf("receivable after approval %d", b)
		}
		_, err = e.s.ApproveAdjustment(ctx, checker, big.ID)
		wantProblem(t, err, problem.CodeInvalidState, "adjustment "+big.ID+" is issued, not pending_approval")
		rej, err := e.s.RejectAdjustment(ctx, checker, other.ID, "duplicate of "+big.ID)
		if err != nil || rej.Status != contracts.AdjustmentRejected || rej.DecisionReason != "duplicate of "+big.ID || rej.PostingID != "" {
			t.Fatalf("reject %+v %v", rej, err)
		}
		_, err = e.s.ApproveAdjustment(ctx, checker, other.ID)
		wantProblem(t, err, problem.CodeInvalidState, "adjustment "+other.ID+" is rejected, not pending_approval")

		trail, _ := audit.List(ctx, d.DB, audit.Filter{ObjectType: "adjustment", ObjectID: big.ID})
		if len(trail) != 2 || trail[0].Action != "adjustment.approved" || trail[0].ActorID != finance2.ID ||
			trail[1].Action != "adjustment.requested" || trail[1].ActorID != maker.ID {
			t.Fatalf("audit %+v", trail)
		}
		if trail, _ := audit.List(ctx, d.DB, audit.Filter{ObjectID: other.ID, Action: "adjustment.rejected"}); len(trail) != 1 || trail[0].ActorID != checker.ID {
			t.Fatalf("audit of the rejection %+v", trail)
		}

		// The statement carries the issued notes only.
		run, err := e.s.Settle(ctx, "2026-10", date(2026, 11, 1))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := e.s.Statement(ctx, "ptn_a", run.StatementIDs[0])
		if st.Adjustments != -10000+900000-10001 {
			t.Fatalf("statement adjustments %d", st.Adjustments)
		}
		adjs, _ := e.s.Adjustments(ctx, "ptn_a")
		carried := map[string]string{}
		for _, a := range adjs {
			carried[a.ID] = a.StatementID + "/" + a.Status
		}
		if carried[big.ID] != st.ID+"/issued" || carried[other.ID] != "/rejected" || carried[atLimit.ID] != st.ID+"/issued" {
			t.Fatalf("adjustments %v", carried)
		}
		if rep, err := e.s.Reconcile(ctx, "2026-10"); err != nil || len(rep.Differences) != 0 {
			t.Fatalf("reconcile %+v %v", rep, err)
		}
	})
}

// TestRewrittenVersionNeedsAnotherApprover: whoever wrote a version's terms
// (its creator, any editor, e.g. the checker who rejected it and rewrote it)
// cannot approve it, even when someone else submits it.
func TestRewrittenVersionNeedsAnotherApprover(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		finance3 := contracts.Actor{ID: "stf_finance3", Role: staff.RoleFinance}
		c, err := e.s.Draft(ctx, maker, "ptn_a", standardTerms())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Submit(ctx, maker, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Reject(ctx, checker, c.ID, "minimum too low"); err != nil {
			t.Fatal(err)
		}
		// The checker rewrites the rejected version; the maker submits it again.
		terms := standardTerms()
		terms.FeeSchedule.MonthlyMinimum = 1
		v, err := e.s.Update(ctx, checker, c.ID, terms)
		if err != nil || v.UpdatedBy != checker.ID || len(v.Editors) != 2 || v.Editors[0] != maker.ID || v.Editors[1] != checker.ID {
			t.Fatalf("rewritten %+v %v", v, err)
		}
		if _, err := e.s.Submit(ctx, maker, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.s.Approve(ctx, checker, c.ID)
		wantProblem(t, err, problem.CodeMakerChecker, "version 1 of contract "+c.ID+" was written by stf_checker, who cannot also approve it")
		if got, _ := e.s.Contract(ctx, c.ID); got.Status != contracts.StatusPendingApproval {
			t.Fatalf("contract %s after a refused approval", got.Status)
		}
		if c, err = e.s.Approve(ctx, finance3, c.ID); err != nil || c.Status != contracts.StatusActive {
			t.Fatalf("approve by a third person %+v %v", c, err)
		}

		// Version 2: created by finance3, edited by the maker, submitted by the
		// checker. Neither writer may approve it; the fourth person may.
		if _, err := e.s.Update(ctx, finance3, c.ID, standardTerms()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Update(ctx, maker, c.ID, terms); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Submit(ctx, checker, c.ID); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			who    contracts.Actor
			detail string
		}{
			{"fail/creator", finance3, "version 2 of contract " + c.ID + " was written by stf_finance3, who cannot also approve it"},
			{"fail/editor", maker, "version 2 of contract " + c.ID + " was written by stf_maker, who cannot also approve it"},
			{"fail/submitter", checker, "version 2 of contract " + c.ID + " was submitted by stf_checker, who cannot also approve it"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.s.Approve(ctx, tc.who, c.ID)
				wantProblem(t, err, problem.CodeMakerChecker, tc.detail)
			})
		}
		if c, err = e.s.Approve(ctx, contracts.Actor{ID: "stf_finance4", Role: staff.RoleFinance}, c.ID); err != nil || c.ActiveVersion != 2 {
			t.Fatalf("approve v2 %+v %v", c, err)
		}
		vs, _ := e.s.Versions(ctx, c.ID)
		if len(vs) != 2 || vs[1].UpdatedBy != maker.ID || len(vs[1].Editors) != 2 || vs[1].Editors[0] != finance3.ID || vs[1].Editors[1] != maker.ID {
			t.Fatalf("versions %+v", vs)
		}
		trail, _ := audit.List(ctx, d.DB, audit.Filter{ObjectID: c.ID, Action: "contract.approved", Limit: 1})
		if len(trail) != 1 || trail[0].Details != `{"editors":["stf_finance3","stf_maker"],"submitted_by":"stf_checker","version":2}` {
			t.Fatalf("audit %+v", trail)
		}
	})
}
