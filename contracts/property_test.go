package contracts_test

import (
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
)

// genMonth makes a random month of usage for partners ptn_p0…ptn_pN: calls on
// several products, payments of random value, refused calls, sandbox calls,
// client retries (repeated keys) and records just outside the month.
func genMonth(rng *rand.Rand, partners, n int) []contracts.UsageRecord {
	start := date(2026, 10, 1)
	products := []string{"accounts", "payments", "data_sharing", "consents"}
	var rs []contracts.UsageRecord
	for i := 0; i < n; i++ {
		p := keyf("ptn_p%d", rng.Intn(partners))
		at := start.Add(time.Duration(rng.Int63n(int64(31 * 24 * time.Hour))))
		var r contracts.UsageRecord
		if rng.Intn(6) == 0 {
			r = payment(keyf("r%d", i), p, rng.Int63n(5_000_000), at)
		} else {
			r = call(keyf("r%d", i), p, products[rng.Intn(len(products))], at)
		}
		switch rng.Intn(20) {
		case 0:
			r.Billable, r.Status = false, 403
		case 1:
			r.Environment = environment.Sandbox
		case 2:
			r.At = start.Add(-time.Nanosecond) // September
		case 3:
			r.At = start.AddDate(0, 1, 0) // November
		}
		rs = append(rs, r)
		if rng.Intn(15) == 0 {
			rs = append(rs, r) // retry
		}
	}
	return rs
}

// genTerms makes random but valid terms.
func genTerms(rng *rand.Rand) contracts.Terms {
	t := standardTerms()
	edge := rng.Int63n(300) + 1
	t.FeeSchedule.CallFees[0].Tiers = []contracts.Tier{{From: 0, To: edge, UnitPriceMicros: rng.Int63n(2_000_000)},
		{From: edge, To: edge * 3, UnitPriceMicros: rng.Int63n(1_000_000)}, {From: edge * 3, UnitPriceMicros: rng.Int63n(500_000)}}
	t.FeeSchedule.PaymentFee = contracts.PaymentFee{FixedMinor: rng.Int63n(50), BPS: rng.Int63n(100)}
	t.FeeSchedule.MonthlyMinimum = rng.Int63n(3) * 5000
	t.RevenueShare.Tiers[0].To = rng.Int63n(50_000_000) + 1
	t.RevenueShare.Tiers[1].From = t.RevenueShare.Tiers[0].To
	t.RevenueShare.Tiers[0].BPS, t.RevenueShare.Tiers[1].BPS = rng.Int63n(3000), rng.Int63n(10001)
	return t
}

// normalized drops what legitimately differs between two databases (random ids,
// issue times) so statements can be compared.
func normalized(t *testing.T, e *env) []contracts.Statement {
	t.Helper()
	heads, err := e.s.Statements(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []contracts.Statement
	for _, h := range heads {
		st, err := e.s.Statement(ctx, h.PartnerID, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		st.ID, st.RunID, st.ContractID, st.IssuedAt = "", "", "", time.Time{}
		for i := range st.Lines {
			st.Lines[i].Reference = ""
		}
		out = append(out, st)
	}
	return out
}

func balances(t *testing.T, e *env, partners int) map[string]int64 {
	out := map[string]int64{}
	accts := []string{contracts.AccountBankAPIRevenue, contracts.AccountBankPaymentRevenue, contracts.AccountRevenueShareExpense, contracts.AccountBankAdjustments}
	for i := 0; i < partners; i++ {
		p := keyf("ptn_p%d", i)
		accts = append(accts, contracts.PartnerAccount(contracts.AccountPartnerReceivable, p), contracts.PartnerAccount(contracts.AccountPartnerPayable, p))
	}
	for _, a := range accts {
		b, err := e.s.Ledger.Balance(ctx, a, "EUR")
		if err != nil {
			t.Fatal(err)
		}
		out[a] = b
	}
	return out
}

func countRows(t *testing.T, e *env, table string) int64 {
	var n int64
	if err := e.d.Raw(`SELECT COUNT(*) FROM ` + table).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSettlementProperties: for random months (fixed seed), settling is
// idempotent (a second run adds no statement, posting or event) and does not
// depend on the order the usage records were inserted in (two databases fed the
// same records, one shuffled, yield identical statements and balances), and the
// result reconciles without differences.
func TestSettlementProperties(t *testing.T) {
	for _, eng := range dbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			rounds := 8
			if eng.Name != "sqlite" || testing.Short() {
				rounds = 2
			}
			rng := rand.New(rand.NewSource(42))
			for round := 0; round < rounds; round++ {
				const partners = 4
				recs := genMonth(rng, partners, 400+rng.Intn(800))
				shuffled := append([]contracts.UsageRecord(nil), recs...)
				rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				terms := make([]contracts.Terms, partners)
				for i := range terms {
					terms[i] = genTerms(rng)
				}
				credit := rng.Int63n(10_000) + 1
				var envs []*env
				for _, order := range [][]contracts.UsageRecord{recs, shuffled} {
					e := newEnv(t, eng.Open(t))
					for i := 0; i < partners-1; i++ { // the last partner has usage but no contract
						e.activeContract(t, keyf("ptn_p%d", i), terms[i])
					}
					if err := e.s.RecordUsageBatch(ctx, order[:len(order)/2]); err != nil {
						t.Fatal(err)
					}
					mustRecord(t, e.s, order[len(order)/2:len(order)/2+20]...) // some one by one
					if err := e.s.RecordUsageBatch(ctx, order[len(order)/2:]); err != nil {
						t.Fatal(err)
					}
					e.clock.Set(date(2026, 11, 1).Add(time.Hour))
					if _, err := e.s.IssueAdjustment(ctx, maker, "ptn_p0", "2026-10", contracts.AdjustmentCredit, money.Money{Minor: credit, Currency: "EUR"}, "outage credit"); err != nil {
						t.Fatal(err)
					}
					run, err := e.s.Settle(ctx, "2026-10", date(2026, 11, 2))
					if err != nil {
						t.Fatal(err)
					}
					if len(run.StatementIDs) != partners-1 {
						t.Fatalf("round %d: %d statements", round, len(run.StatementIDs))
					}
					before := [3]int64{countRows(t, e, "statements"), countRows(t, e, "ledger_postings"), countRows(t, e, "ledger_entries")}
					events := len(e.events.events)
					again, err := e.s.Settle(ctx, "2026-10", date(2026, 12, 2))
					if err != nil || !again.AlreadySettled || !reflect.DeepEqual(again.StatementIDs, run.StatementIDs) {
						t.Fatalf("round %d: rerun %+v %v", round, again, err)
					}
					after := [3]int64{countRows(t, e, "statements"), countRows(t, e, "ledger_postings"), countRows(t, e, "ledger_entries")}
					if before != after || len(e.events.events) != events {
						t.Fatalf("round %d: rerun changed rows %v → %v, events %d → %d", round, before, after, events, len(e.events.events))
					}
					rep, err := e.s.Reconcile(ctx, "2026-10")
					if err != nil {
						t.Fatal(err)
					}
					if len(rep.Differences) != 1 || rep.Differences[0].Kind != contracts.DiffUnsettledUsage || rep.Differences[0].PartnerID != keyf("ptn_p%d", partners-1) {
						t.Fatalf("round %d: reconcile %+v", round, rep.Differences)
					}
					totals, _ := e.s.Ledger.Totals(ctx)
					if totals["EUR"] != 0 {
						t.Fatalf("round %d: ledger %v", round, totals)
					}
					envs = append(envs, e)
				}
				a, b := normalized(t, envs[0]), normalized(t, envs[1])
				var p0 *contracts.Statement
				for i := range a {
					if a[i].PartnerID == "ptn_p0" {
						p0 = &a[i]
					}
				}
				if p0 == nil || len(p0.Lines) < 2 || p0.Lines[len(p0.Lines)-1].Kind != contracts.LineAdjustment || p0.Adjustments != -credit || p0.CallFees == 0 {
					t.Fatalf("round %d: ptn_p0 statement %+v", round, p0)
				}
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("round %d: insertion order changed the statements:\n%+v\n%+v", round, a, b)
				}
				if ba, bb := balances(t, envs[0], partners), balances(t, envs[1], partners); !reflect.DeepEqual(ba, bb) {
					t.Fatalf("round %d: balances differ %v %v", round, ba, bb)
				}
			}
		})
	}
}
