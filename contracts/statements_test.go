package contracts_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

func TestAdjustmentsAndCSV(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.activeContract(t, "ptn_a", standardTerms())
		e.activeContract(t, "ptn_b", standardTerms())
		mustRecord(t, e.s, call("a1", "ptn_a", "accounts", date(2026, 10, 3)), call("a2", "ptn_a", "accounts", date(2026, 11, 3)))
		eur := func(n int64) money.Money { return money.Money{Minor: n, Currency: "EUR"} }
		fe := func(field, reason string) contracts.FieldError {
			return contracts.FieldError{Field: field, Reason: reason}
		}

		_, err := e.s.IssueAdjustment(ctx, contracts.Actor{ID: "stf_pm", Role: staff.RolePartnerManager}, "ptn_a", "2026-10", contracts.AdjustmentCredit, eur(100), "x")
		wantProblem(t, err, problem.CodeForbidden, `role "partner_manager" may not issue adjustments`)
		_, err = e.s.IssueAdjustment(ctx, maker, "", "2026-1", "refund", money.Money{Minor: 0, Currency: "eu"}, " ")
		wantFields(t, err, "adjustment is invalid", fe("partner_id", "is required"), fe("period", "must be YYYY-MM"), fe("kind", "must be credit or debit"),
			fe("amount.amount", "must be positive"), fe("amount.currency", "must be an ISO 4217 code of three upper-case letters"), fe("reason", "is required"))

		credit, err := e.s.IssueAdjustment(ctx, maker, "ptn_a", "2026-10", contracts.AdjustmentCredit, eur(1000), "=HYPERLINK(\"x\") outage")
		if err != nil {
			t.Fatal(err)
		}
		recv := contracts.PartnerAccount(contracts.AccountPartnerReceivable, "ptn_a")
		if b, _ := e.s.Ledger.Balance(ctx, recv, "EUR"); b != -1000 {
			t.Fatalf("credit note not posted at once: %d", b)
		}
		run, err := e.s.Settle(ctx, "2026-10", date(2026, 11, 1))
		if err != nil {
			t.Fatal(err)
		}
		// a debit note for the settled October lands on November's statement
		e.clock.Set(date(2026, 11, 1))
		debit, err := e.s.IssueAdjustment(ctx, checker, "ptn_a", "2026-10", contracts.AdjustmentDebit, eur(250), "late fee")
		if err != nil {
			t.Fatal(err)
		}
		again, _ := e.s.Settle(ctx, "2026-10", date(2026, 11, 2))
		if !again.AlreadySettled {
			t.Fatal("not idempotent")
		}
		oct, err := e.s.Statement(ctx, "ptn_a", run.StatementIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		last := oct.Lines[len(oct.Lines)-1]
		if last.Kind != contracts.LineAdjustment || last.Amount != -1000 || last.Reference != credit.ID || oct.Adjustments != -1000 || oct.Net != 5000-1000 {
			t.Fatalf("october %+v", oct)
		}
		nov, err := e.s.Settle(ctx, "2026-11", date(2026, 12, 1))
		if err != nil {
			t.Fatal(err)
		}
		novA, _ := e.s.Statement(ctx, "", nov.StatementIDs[0])
		if novA.PartnerID != "ptn_a" || novA.Adjustments != 250 || novA.Lines[len(novA.Lines)-1].Reference != debit.ID {
			t.Fatalf("november %+v", novA)
		}
		adjs, _ := e.s.Adjustments(ctx, "ptn_a")
		if len(adjs) != 2 || adjs[0].StatementID != novA.ID || adjs[1].StatementID != oct.ID {
			t.Fatalf("adjustments %+v", adjs)
		}
		// receivable: Oct 5000 − 1000 credit, Nov 5000 + 250 debit
		if b, _ := e.s.Ledger.Balance(ctx, recv, "EUR"); b != 4000+5250 {
			t.Fatalf("receivable %d", b)
		}
		for _, p := range []string{"2026-10", "2026-11"} {
			if rep, err := e.s.Reconcile(ctx, p); err != nil || len(rep.Differences) != 0 || rep.Statements != 2 {
				t.Fatalf("reconcile %s %+v %v", p, rep, err)
			}
		}

		csv, err := e.s.StatementCSV(ctx, "ptn_a", oct.ID)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
		want := []string{
			"statement_id,partner_id,period,currency,seq,kind,product,tier_from,tier_to,quantity,unit_price_micros,rate_bps,base_minor,amount_minor,amount,reference,description",
			oct.ID + ",ptn_a,2026-10,EUR,1,call_fee,accounts,0,1000,1,500000,0,0,0,0.00,,accounts calls 1 to 1000",
			oct.ID + ",ptn_a,2026-10,EUR,2,minimum_topup,,0,0,0,0,0,0,5000,50.00,,minimum commitment 50.00",
			oct.ID + ",ptn_a,2026-10,EUR,3,adjustment,,0,0,0,0,0,0,-1000,-10.00," + credit.ID + `,"credit note for 2026-10: =HYPERLINK(""x"") outage"`,
			oct.ID + ",ptn_a,2026-10,EUR,,net,,,,,,,,4000,40.00,,receivable",
		}
		if !reflect.DeepEqual(lines, want) {
			t.Fatalf("csv:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
		_, err = e.s.StatementCSV(ctx, "ptn_b", oct.ID)
		wantProblem(t, err, problem.CodeNotFound, "statement "+oct.ID+" not found")
		_, err = e.s.Statement(ctx, "ptn_b", oct.ID)
		wantProblem(t, err, problem.CodeNotFound, "statement "+oct.ID+" not found")
		_, err = e.s.StatementCSV(ctx, "ptn_a", "stm_nope")
		wantProblem(t, err, problem.CodeNotFound, "statement stm_nope not found")
		if sts, _ := e.s.Statements(ctx, "ptn_b"); len(sts) != 2 || sts[0].Period != "2026-11" || sts[0].PartnerID != "ptn_b" {
			t.Fatalf("ptn_b statements %+v", sts)
		}
		if runs, _ := e.s.Runs(ctx); len(runs) != 2 || runs[0].Period != "2026-11" {
			t.Fatalf("runs %+v", runs)
		}
		_, err = e.s.Run(ctx, "2026-09")
		wantProblem(t, err, problem.CodeNotFound, "no settlement run for 2026-09")
	})
}

// TestReconcileFindsDifferences tampers with statements and the ledger behind the
// service's back (as a bug or an operator might) and expects every difference.
func TestReconcileFindsDifferences(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.activeContract(t, "ptn_a", standardTerms())
		e.activeContract(t, "ptn_b", standardTerms())
		usd := payment("b-usd", "ptn_b", 999, date(2026, 10, 4))
		usd.PaymentAmount.Currency = "USD"
		mustRecord(t, e.s, call("a1", "ptn_a", "accounts", date(2026, 10, 3)), call("a2", "ptn_a", "accounts", date(2026, 10, 3)),
			call("a3", "ptn_a", "accounts", date(2026, 10, 3)), payment("b1", "ptn_b", 10000, date(2026, 10, 4)),
			payment("b2", "ptn_b", 10000, date(2026, 10, 4)), usd, call("c1", "ptn_c", "accounts", date(2026, 10, 5)))
		run, err := e.s.Settle(ctx, "2026-10", date(2026, 11, 1))
		if err != nil {
			t.Fatal(err)
		}
		stA, _ := e.s.Statement(ctx, "ptn_a", run.StatementIDs[0])
		stB, _ := e.s.Statement(ctx, "ptn_b", run.StatementIDs[1])
		if stA.Net != 5000 || stB.Net != 4995 {
			t.Fatalf("nets %d %d", stA.Net, stB.Net)
		}
		rep, _ := e.s.Reconcile(ctx, "2026-10")
		base := []contracts.Difference{
			{Kind: contracts.DiffForeignCurrency, PartnerID: "ptn_b", StatementID: stB.ID, Detail: "1 payments in USD not billed (contract currency EUR)", Actual: 1},
			{Kind: contracts.DiffUnsettledUsage, PartnerID: "ptn_c", Detail: "1 billable records and no statement for 2026-10", Actual: 1},
		}
		if !reflect.DeepEqual(rep.Differences, base) {
			t.Fatalf("clean reconcile:\n%+v\nwant\n%+v", rep.Differences, base)
		}

		must := func(sql string, args ...any) {
			if err := d.Exec(sql, args...).Error; err != nil {
				t.Fatal(err)
			}
		}
		must(`UPDATE statement_lines SET amount = amount + 1 WHERE statement_id = ? AND seq = 1`, stA.ID)
		pB, _ := e.s.Ledger.PostingByKey(ctx, contracts.StatementKey(stB.ID))
		// The ledger refuses deletes (0061); tampering needs the schema owner's
		// rights, who can drop the guard first.
		dropLedgerGuard(t, d)
		must(`DELETE FROM ledger_entries WHERE posting_id = ?`, pB.ID)
		must(`DELETE FROM ledger_postings WHERE id = ?`, pB.ID)
		pA, _ := e.s.Ledger.PostingByKey(ctx, contracts.StatementKey(stA.ID))
		if _, err := e.s.Ledger.Reverse(ctx, checker, pA.ID, "posted in error"); err != nil {
			t.Fatal(err)
		}
		must(`INSERT INTO ledger_entries (posting_id, account, currency, amount) VALUES (?, 'bank_api_revenue', 'EUR', 7)`, pA.ID)

		rep, err = e.s.Reconcile(ctx, "2026-10")
		if err != nil {
			t.Fatal(err)
		}
		want := []contracts.Difference{
			{Kind: contracts.DiffLineMismatch, PartnerID: "ptn_a", StatementID: stA.ID, Detail: "line 1 (accounts calls 1 to 1000): quantity 3, recomputed 3", Expected: 2, Actual: 3},
			{Kind: contracts.DiffNetMismatch, PartnerID: "ptn_a", StatementID: stA.ID, Detail: "net is not the sum of the lines", Expected: 5001, Actual: 5000},
			{Kind: contracts.DiffPostingNet, PartnerID: "ptn_a", StatementID: stA.ID, Detail: "statement postings do not sum to its amount due", Expected: 5000, Actual: 0},
			base[0],
			{Kind: contracts.DiffPostingMissing, PartnerID: "ptn_b", StatementID: stB.ID, Detail: "statement has no ledger posting (statement:" + stB.ID + ")", Expected: 4995},
			base[1],
			{Kind: contracts.DiffLedgerUnbalanced, Detail: "ledger entries in EUR do not sum to zero", Actual: 7},
		}
		if !reflect.DeepEqual(rep.Differences, want) {
			t.Fatalf("reconcile:\n%+v\nwant\n%+v", rep.Differences, want)
		}
	})
}

// TestSettlePayable: a full revenue share cancels the payment fees (nothing due),
// and a credit note then makes the bank owe the partner.
func TestSettlePayable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		terms := standardTerms()
		terms.FeeSchedule.MonthlyMinimum = 0
		terms.RevenueShare = contracts.RevenueShare{Tiers: []contracts.ShareTier{{From: 0, BPS: 10000}}}
		e.activeContract(t, "ptn_a", terms)
		e.activeContract(t, "ptn_b", terms)
		mustRecord(t, e.s, payment("a1", "ptn_a", 10000, date(2026, 10, 3)), payment("b1", "ptn_b", 10000, date(2026, 10, 3)))
		if _, err := e.s.IssueAdjustment(ctx, maker, "ptn_b", "2026-10", contracts.AdjustmentCredit, money.Money{Minor: 500, Currency: "EUR"}, "goodwill"); err != nil {
			t.Fatal(err)
		}
		run, err := e.s.Settle(ctx, "2026-10", date(2026, 11, 1))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := e.s.Statement(ctx, "ptn_a", run.StatementIDs[0])
		b, _ := e.s.Statement(ctx, "ptn_b", run.StatementIDs[1])
		// fees 10 + 15 = 25, share 100 % = 25
		if a.PaymentFees != 25 || a.RevenueShare != 25 || a.Net != 0 || a.Direction != contracts.DirectionNone {
			t.Fatalf("ptn_a %+v", a)
		}
		if b.Net != -500 || b.Direction != contracts.DirectionPayable {
			t.Fatalf("ptn_b %+v", b)
		}
		p, _ := e.s.Ledger.PostingByKey(ctx, contracts.StatementKey(a.ID))
		want := []contracts.Entry{{Account: contracts.AccountBankPaymentRevenue, Currency: "EUR", Amount: -25}, {Account: contracts.AccountRevenueShareExpense, Currency: "EUR", Amount: 25}}
		for i := range p.Entries {
			p.Entries[i].Seq = 0
		}
		if !reflect.DeepEqual(p.Entries, want) {
			t.Fatalf("netted posting %+v", p.Entries)
		}
		if bal, _ := e.s.Ledger.Balance(ctx, contracts.PartnerAccount(contracts.AccountPartnerReceivable, "ptn_b"), "EUR"); bal != -500 {
			t.Fatalf("ptn_b receivable %d", bal)
		}
		if rep, _ := e.s.Reconcile(ctx, "2026-10"); len(rep.Differences) != 0 {
			t.Fatalf("reconcile %+v", rep.Differences)
		}
	})
}
