package contracts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/monitoring"
)

// slaTerms are standardTerms with every clause: 99.90 % availability (below
// 99.90 → 5 %, below 99.00 → 10 %), p95 300 ms (over → 2.5 %), cap 12 %.
func slaTerms() contracts.Terms {
	t := standardTerms()
	t.Confidentiality = contracts.Confidentiality{Clause: "Each party keeps the other's information confidential.", MonthsAfterTermination: 24}
	t.ServiceLevels = contracts.ServiceLevels{AvailabilityTargetBPS: 9990,
		AvailabilityCredits: []contracts.AvailabilityCredit{{BelowBPS: 9990, CreditBPS: 500}, {BelowBPS: 9900, CreditBPS: 1000}},
		P95TargetMS:         300, LatencyCreditBPS: 250, CreditCapBPS: 1200}
	t.Liability = contracts.Liability{CapMinor: 100_000_00, FraudLossBankBPS: 7000, FraudLossPartnerBPS: 3000,
		IndemnityClause: "The partner indemnifies the bank against claims arising from its app."}
	t.DisputeResolution = contracts.DisputeResolution{EscalationSteps: []string{"Relationship managers", "Heads of partnerships", "Mediation (CEDR)"},
		DaysToEscalate: 14, GoverningLaw: "England and Wales", Venue: "London"}
	return t
}

func TestClausesValidate(t *testing.T) {
	long := strings.Repeat("x", contracts.MaxClauseChars+1)
	cases := []struct {
		name string
		edit func(*contracts.Terms)
		want []contracts.FieldError
	}{
		{"ok/all-clauses", func(*contracts.Terms) {}, nil},
		{"ok/no-clauses", func(t *contracts.Terms) {
			*t = standardTerms()
		}, nil},
		{"fail/confidentiality-duration-without-clause", func(t *contracts.Terms) { t.Confidentiality.Clause = "" },
			[]contracts.FieldError{{Field: "confidentiality.clause", Reason: "is required when a duration is given"}}},
		{"fail/confidentiality-months", func(t *contracts.Terms) { t.Confidentiality.MonthsAfterTermination = 241 },
			[]contracts.FieldError{{Field: "confidentiality.months_after_termination", Reason: "must be between 0 and 240"}}},
		{"fail/clause-too-long", func(t *contracts.Terms) { t.Confidentiality.Clause = long },
			[]contracts.FieldError{{Field: "confidentiality.clause", Reason: "must be at most 20000 characters"}}},
		{"fail/availability-target", func(t *contracts.Terms) { t.ServiceLevels.AvailabilityTargetBPS = 10001 },
			[]contracts.FieldError{{Field: "service_levels.availability_target_bps", Reason: "must be between 0 and 10000"}}},
		{"fail/band-above-target", func(t *contracts.Terms) { t.ServiceLevels.AvailabilityCredits[0].BelowBPS = 9995 },
			[]contracts.FieldError{{Field: "service_levels.availability_credits[0].below_bps", Reason: "must be between 1 and the availability target (9990)"}}},
		{"fail/bands-not-descending", func(t *contracts.Terms) { t.ServiceLevels.AvailabilityCredits[1].BelowBPS = 9990 },
			[]contracts.FieldError{{Field: "service_levels.availability_credits[1].below_bps", Reason: "must be below the previous band's (9990)"}}},
		{"fail/credits-not-ascending", func(t *contracts.Terms) { t.ServiceLevels.AvailabilityCredits[1].CreditBPS = 500 },
			[]contracts.FieldError{{Field: "service_levels.availability_credits[1].credit_bps", Reason: "must be above the previous band's (500)"}}},
		{"fail/band-credit-range", func(t *contracts.Terms) { t.ServiceLevels.AvailabilityCredits[0].CreditBPS = 0 },
			[]contracts.FieldError{{Field: "service_levels.availability_credits[0].credit_bps", Reason: "must be between 1 and 10000"}}},
		{"fail/bands-without-target", func(t *contracts.Terms) { t.ServiceLevels.AvailabilityTargetBPS = 0 },
			[]contracts.FieldError{{Field: "service_levels.availability_credits[0]", Reason: "needs an availability target"},
				{Field: "service_levels.availability_credits[1]", Reason: "needs an availability target"}}},
		{"fail/latency-credit-without-target", func(t *contracts.Terms) { t.ServiceLevels.P95TargetMS = 0 },
			[]contracts.FieldError{{Field: "service_levels.latency_credit_bps", Reason: "needs a p95 response time target"}}},
		{"fail/p95-target", func(t *contracts.Terms) { t.ServiceLevels.P95TargetMS = -1 },
			[]contracts.FieldError{{Field: "service_levels.p95_target_ms", Reason: "must be between 0 and 60000"}}},
		{"fail/no-cap", func(t *contracts.Terms) { t.ServiceLevels.CreditCapBPS = 0 },
			[]contracts.FieldError{{Field: "service_levels.credit_cap_bps", Reason: "is required when credits are agreed"}}},
		{"fail/cap-range", func(t *contracts.Terms) { t.ServiceLevels.CreditCapBPS = 10001 },
			[]contracts.FieldError{{Field: "service_levels.credit_cap_bps", Reason: "must be between 0 and 10000"}}},
		{"fail/liability-cap", func(t *contracts.Terms) { t.Liability.CapMinor = -1 },
			[]contracts.FieldError{{Field: "liability.cap_minor", Reason: "must be between 0 and 1000000000000000"}}},
		{"fail/fraud-shares-sum", func(t *contracts.Terms) { t.Liability.FraudLossPartnerBPS = 2000 },
			[]contracts.FieldError{{Field: "liability.fraud_loss_partner_bps", Reason: "bank and partner shares must sum to 10000 (now 9000)"}}},
		{"fail/fraud-share-range", func(t *contracts.Terms) { t.Liability.FraudLossBankBPS = 10001 },
			[]contracts.FieldError{{Field: "liability.fraud_loss_bank_bps", Reason: "must be between 0 and 10000"}}},
		{"fail/indemnity-too-long", func(t *contracts.Terms) { t.Liability.IndemnityClause = long },
			[]contracts.FieldError{{Field: "liability.indemnity_clause", Reason: "must be at most 20000 characters"}}},
		{"fail/empty-step", func(t *contracts.Terms) { t.DisputeResolution.EscalationSteps[1] = " " },
			[]contracts.FieldError{{Field: "dispute_resolution.escalation_steps[1]", Reason: "must not be empty"}}},
		{"fail/days-without-steps", func(t *contracts.Terms) { t.DisputeResolution.EscalationSteps = nil },
			[]contracts.FieldError{{Field: "dispute_resolution.days_to_escalate", Reason: "needs escalation steps"}}},
		{"fail/days-range", func(t *contracts.Terms) { t.DisputeResolution.DaysToEscalate = 366 },
			[]contracts.FieldError{{Field: "dispute_resolution.days_to_escalate", Reason: "must be between 0 and 365"}}},
		{"fail/too-many-steps", func(t *contracts.Terms) {
			t.DisputeResolution.EscalationSteps = strings.Split(strings.Repeat("step,", 10)+"step", ",")
		}, []contracts.FieldError{{Field: "dispute_resolution.escalation_steps", Reason: "at most 10 steps"}}},
		{"fail/venue-too-long", func(t *contracts.Terms) { t.DisputeResolution.Venue = strings.Repeat("v", 201) },
			[]contracts.FieldError{{Field: "dispute_resolution.venue", Reason: "must be at most 200 characters"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			terms := slaTerms()
			tc.edit(&terms)
			err := terms.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantFields(t, err, "contract terms is invalid", tc.want...)
		})
	}
}

// TestServiceCredit: no credit when the levels are met, each band, the p95
// credit, the cap and half-even rounding.
func TestServiceCredit(t *testing.T) {
	sl := slaTerms().ServiceLevels
	cases := []struct {
		name             string
		m                contracts.ServiceMeasure
		base             int64
		avail, lat, rate int64
		capped           bool
		amount           int64
	}{
		{"ok/met", contracts.ServiceMeasure{Requests: 10000, Failed: 10, P95US: 300_000}, 10000, 0, 0, 0, false, 0},
		{"ok/no-requests-no-credit", contracts.ServiceMeasure{}, 10000, 0, 0, 0, false, 0},
		{"ok/just-below-target", contracts.ServiceMeasure{Requests: 10000, Failed: 11, P95US: 1}, 10000, 500, 0, 500, false, 500},
		// 99.0 % exactly is not below 99.00: the first band only
		{"ok/at-second-band", contracts.ServiceMeasure{Requests: 1000, Failed: 10}, 10000, 500, 0, 500, false, 500},
		{"ok/second-band", contracts.ServiceMeasure{Requests: 1000, Failed: 11}, 10000, 1000, 0, 1000, false, 1000},
		// exact comparison: 99.899..% rounds down to 9989 bps, but 1 failure in 1000 is 99.9 %, met
		{"ok/exact-not-rounded", contracts.ServiceMeasure{Requests: 1000, Failed: 1}, 10000, 0, 0, 0, false, 0},
		{"ok/p95-over", contracts.ServiceMeasure{Requests: 10, P95US: 300_001}, 10000, 0, 250, 250, false, 250},
		{"ok/both", contracts.ServiceMeasure{Requests: 1000, Failed: 2, P95US: 400_000}, 10000, 500, 250, 750, false, 750},
		{"ok/capped", contracts.ServiceMeasure{Requests: 1000, Failed: 500, P95US: 400_000}, 10000, 1000, 250, 1200, true, 1200},
		{"ok/half-even-down", contracts.ServiceMeasure{Requests: 1000, Failed: 2}, 50, 500, 0, 500, false, 2}, // 2.5 → 2
		{"ok/half-even-up", contracts.ServiceMeasure{Requests: 1000, Failed: 2}, 30, 500, 0, 500, false, 2},   // 1.5 → 2
		{"ok/half-even-zero", contracts.ServiceMeasure{Requests: 1000, Failed: 2}, 10, 500, 0, 500, false, 0}, // 0.5 → 0
		{"ok/no-fees-no-credit", contracts.ServiceMeasure{Requests: 1000, Failed: 500}, 0, 0, 0, 0, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := contracts.ServiceCredit(sl, tc.m, tc.base)
			want := contracts.CreditDecision{AvailabilityBPS: tc.avail, LatencyBPS: tc.lat, RateBPS: tc.rate, Capped: tc.capped, Amount: tc.amount}
			if d != want {
				t.Fatalf("got %+v, want %+v", d, want)
			}
		})
	}
	t.Run("ok/no-service-levels", func(t *testing.T) {
		if d := contracts.ServiceCredit(contracts.ServiceLevels{}, contracts.ServiceMeasure{Requests: 10, Failed: 10, P95US: 1e9}, 1000); d != (contracts.CreditDecision{}) {
			t.Fatalf("got %+v", d)
		}
	})
}

// TestServiceCreditProperties: over random measurements the credit is
// between 0 and the cap, never more than the fees, exactly
// MulDivHalfEven(base, rate), and nothing when every level is met.
func TestServiceCreditProperties(t *testing.T) {
	sl := slaTerms().ServiceLevels
	r := rand.New(rand.NewSource(17))
	for i := 0; i < 20000; i++ {
		req := r.Int63n(1_000_000)
		m := contracts.ServiceMeasure{Requests: req, P95US: r.Int63n(600_000)}
		if req > 0 {
			m.Failed = r.Int63n(req/50 + 1)
		}
		base := r.Int63n(1_000_000_000)
		d := contracts.ServiceCredit(sl, m, base)
		if d.RateBPS < 0 || d.RateBPS > sl.CreditCapBPS || d.Amount < 0 || d.Amount > base {
			t.Fatalf("%+v base %d: %+v", m, base, d)
		}
		if d.Amount != money.MulDivHalfEven(base, d.RateBPS, money.BPSDenominator) {
			t.Fatalf("%+v base %d: amount %d", m, base, d.Amount)
		}
		met := req == 0 || ((m.Requests-m.Failed)*10000 >= 9990*m.Requests && m.P95US <= 300_000)
		if met != (d.RateBPS == 0) {
			t.Fatalf("%+v: met %v but %+v", m, met, d)
		}
	}
}

// monitoringLevels adapts monitoring to contracts.ServiceLevelSource exactly
// as cmd/bankbridge does (partner scope, production, the month's Summary).
type monitoringLevels struct{ m *monitoring.Service }

func (a monitoringLevels) MonthServiceLevel(ctx context.Context, partnerID string, from, to time.Time) (contracts.ServiceMeasure, error) {
	s, err := a.m.Summary(ctx, monitoring.Scope{PartnerID: partnerID, Environment: environment.Production}, from, to)
	if err != nil {
		return contracts.ServiceMeasure{}, err
	}
	return contracts.ServiceMeasure{Requests: s.Total.Requests, Failed: s.Total.ServerErrors + s.Total.Unanswered, P95US: s.Total.P95}, nil
}

// logRequests writes n production request_log rows of partner in October
// 2026: failed of them answered 503, the rest 200 with latencyUS.
func logRequests(t *testing.T, d *db.DB, partner string, n, failed int, latencyUS int64) {
	t.Helper()
	for i := 0; i < n; i++ {
		status := 200
		if i < failed {
			status = 503
		}
		at := date(2026, 10, 1).Add(time.Duration(i) * time.Minute)
		if err := d.Exec(`INSERT INTO request_log (at, client_id, partner_id, environment, method, path, status, latency_us, problem_type)
			VALUES (?, ?, ?, 'production', 'GET', ?, ?, ?, '')`, at, "app_"+partner, partner, monitoring.APIBasePath+"/aisp/accounts", status, latencyUS).Error; err != nil {
			t.Fatal(err)
		}
	}
}

// TestSettleServiceCredit: a month below the availability target gets a
// service credit line from the platform's own request log, posted to the
// ledger with the other lines; reconciliation recomputes it from the stored
// measurement (after the request log is gone) and agrees.
func TestSettleServiceCredit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.s = contracts.New(d, contracts.Options{Events: e.events, Now: e.clock.Now, ServiceLevels: monitoringLevels{monitoring.New(monitoring.NewGormStore(d), nil)}})
		e.activeContract(t, "ptn_a", slaTerms())
		e.activeContract(t, "ptn_b", slaTerms())
		mustRecord(t, e.s, octoberUsage("ptn_a")...)
		mustRecord(t, e.s, octoberUsage("ptn_b")...)
		logRequests(t, d, "ptn_a", 1000, 2, 100_000) // 99.80 %: first band, 5 %
		logRequests(t, d, "ptn_b", 1000, 1, 100_000) // 99.90 %: met
		e.clock.Set(date(2026, 11, 2))
		run, err := e.s.Settle(ctx, "2026-10", e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		sts := map[string]contracts.Statement{}
		for _, id := range run.StatementIDs {
			st, err := e.s.Statement(ctx, "", id)
			if err != nil {
				t.Fatal(err)
			}
			sts[st.PartnerID] = st
		}
		a, b := sts["ptn_a"], sts["ptn_b"]
		// fees 500 + 83 + top-up 4417 = 5000; 5 % = 250
		last := a.Lines[len(a.Lines)-1]
		if last.Kind != contracts.LineServiceCredit || last.Amount != -250 || last.RateBPS != 500 || last.Base != 5000 ||
			last.Description != "service credit: availability 99.80% (target 99.90%), p95 100.000 ms (target 300 ms)" {
			t.Fatalf("credit line %+v", last)
		}
		if a.ServiceCredits != 250 || a.Net != 4992-250 {
			t.Fatalf("statement a %+v", a)
		}
		for _, l := range b.Lines {
			if l.Kind == contracts.LineServiceCredit {
				t.Fatalf("ptn_b met its levels but got %+v", l)
			}
		}
		if b.ServiceCredits != 0 || b.Net != 4992 {
			t.Fatalf("statement b %+v", b)
		}
		m, ok, err := e.s.StatementServiceLevel(ctx, "ptn_a", a.ID)
		if err != nil || !ok || m != (contracts.ServiceMeasure{Requests: 1000, Failed: 2, P95US: 100_000}) {
			t.Fatalf("measure %+v %v %v", m, ok, err)
		}
		if _, ok, _ := e.s.StatementServiceLevel(ctx, "ptn_b", a.ID); ok {
			t.Fatal("another partner's measurement was returned")
		}
		for acct, want := range map[string]int64{
			contracts.PartnerAccount(contracts.AccountPartnerReceivable, "ptn_a"): 4742,
			contracts.AccountBankServiceCredits:                                   250,
		} {
			if got, err := e.s.Ledger.Balance(ctx, acct, "EUR"); err != nil || got != want {
				t.Errorf("balance %s = %d (%v), want %d", acct, got, err, want)
			}
		}
		if err := d.Exec(`DELETE FROM request_log`).Error; err != nil {
			t.Fatal(err)
		}
		rep, err := e.s.Reconcile(ctx, "2026-10")
		if err != nil || len(rep.Differences) != 0 || rep.Statements != 2 {
			t.Fatalf("reconcile %+v %v", rep, err)
		}
		// A statement whose stored credit disagrees with the recomputation is reported.
		if err := d.Exec(`UPDATE statement_service_levels SET failed = 20 WHERE statement_id = ?`, a.ID).Error; err != nil {
			t.Fatal(err)
		}
		rep, err = e.s.Reconcile(ctx, "2026-10")
		if err != nil || len(rep.Differences) != 1 || rep.Differences[0].Kind != contracts.DiffLineMismatch ||
			rep.Differences[0].Expected != -500 || rep.Differences[0].Actual != -250 {
			t.Fatalf("reconcile after tampering %+v %v", rep, err)
		}
		evs, _ := audit.List(ctx, d.DB, audit.Filter{Action: "statement.issued"})
		found := false
		for _, ev := range evs {
			if ev.ObjectID == a.ID && strings.Contains(ev.Details, `"service_credits":250`) {
				found = true
			}
		}
		if !found {
			t.Fatalf("audit %+v", evs)
		}
	})
}

// TestSettleServiceLevelsNeedMeasurements: terms with service levels are not
// settled without a measurement source (a credit silently missing would be
// wrong); terms without them need none.
func TestSettleServiceLevelsNeedMeasurements(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		c := e.activeContract(t, "ptn_a", slaTerms())
		mustRecord(t, e.s, octoberUsage("ptn_a")...)
		e.clock.Set(date(2026, 11, 2))
		_, err := e.s.Settle(ctx, "2026-10", e.clock.Now())
		want := "contracts: settle 2026-10 for ptn_a: contracts: contract " + c.ID + " v1 has service levels and no service-level measurements are wired"
		if err == nil || err.Error() != want {
			t.Fatalf("got %v, want %s", err, want)
		}
	})
}

// oldTerms is a version's terms as stored before the clauses existed.
const oldTerms = `{"start":"2026-01-01T00:00:00Z","end":"2027-01-01T00:00:00Z","auto_renew":false,"notice_days":60,"currency":"EUR",` +
	`"fee_schedule":{"call_fees":[{"product":"accounts","tiers":[{"from":0,"to":1000,"unit_price_micros":500000},{"from":1000,"to":0,"unit_price_micros":250000}]},` +
	`{"product":"payments","tiers":[{"from":0,"to":0,"unit_price_micros":0}]}],"payment_fee":{"fixed_minor":10,"bps":15},"monthly_minimum":5000},` +
	`"revenue_share":{"tiers":[{"from":0,"to":1000000,"bps":1000},{"from":1000000,"to":0,"bps":2000}]},"data_scopes":["balances","transactions"]}`

// TestOldTermsGetDefaults: a contract stored before the clauses (its terms
// JSON without them) reads with every clause at its zero value, settles
// exactly as before with no service credit and no measurement source, and
// reconciles.
func TestOldTermsGetDefaults(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		at := date(2026, 1, 1)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO contracts (id, partner_id, status, active_version, latest_version, start_at, end_at, auto_renew, notice_days, created_by, created_at, updated_at)
				VALUES ('ctr_old', 'ptn_a', 'active', 1, 1, ?, ?, ?, 60, 'stf_maker', ?, ?)`, []any{at, date(2027, 1, 1), false, at, at}},
			{`INSERT INTO contract_versions (contract_id, version, status, terms, created_by, created_at, submitted_by, submitted_at, approved_by, approved_at)
				VALUES ('ctr_old', 1, 'active', ?, 'stf_maker', ?, 'stf_maker', ?, 'stf_checker', ?)`, []any{oldTerms, at, at, at}},
		} {
			if err := d.Exec(q.sql, q.args...).Error; err != nil {
				t.Fatal(err)
			}
		}
		vs, err := e.s.Versions(ctx, "ctr_old")
		if err != nil {
			t.Fatal(err)
		}
		terms := vs[0].Terms
		if terms.Confidentiality != (contracts.Confidentiality{}) || terms.ServiceLevels.Enabled() || len(terms.ServiceLevels.AvailabilityCredits) != 0 ||
			terms.Liability != (contracts.Liability{}) || len(terms.DisputeResolution.EscalationSteps) != 0 || terms.DisputeResolution.GoverningLaw != "" {
			t.Fatalf("old terms read as %+v", terms)
		}
		if err := terms.Validate(); err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(terms); err != nil {
			t.Fatal(err)
		}
		mustRecord(t, e.s, octoberUsage("ptn_a")...)
		e.clock.Set(date(2026, 11, 2))
		run, err := e.s.Settle(ctx, "2026-10", e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		st, err := e.s.Statement(ctx, "ptn_a", run.StatementIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(st.Lines) != fmt.Sprint(wantOctober()) || st.ServiceCredits != 0 || st.Net != 4992 {
			t.Fatalf("statement %+v", st)
		}
		if _, ok, _ := e.s.StatementServiceLevel(ctx, "", st.ID); ok {
			t.Fatal("a measurement was stored for terms without service levels")
		}
		if rep, err := e.s.Reconcile(ctx, "2026-10"); err != nil || len(rep.Differences) != 0 {
			t.Fatalf("reconcile %+v %v", rep, err)
		}
		// Editing the old contract keeps working: the new version has the clauses.
		v, err := e.s.Update(ctx, maker, "ctr_old", slaTerms())
		if err != nil || v.Version != 2 || !v.Terms.ServiceLevels.Enabled() {
			t.Fatalf("update %+v %v", v, err)
		}
	})
}

// pdf is a small document with PDF magic bytes.
func pdf(s string) []byte { return []byte("%PDF-1.7\n" + s + "\n%%EOF\n") }

// TestSignedAgreement: the signed PDF is attached to a version with its
// hash, required before approval, its own per version, refused when not a
// PDF or too big, audited with its hash, and another partner cannot see it.
func TestSignedAgreement(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.s = contracts.New(d, contracts.Options{Events: e.events, Partners: e.hook, Now: e.clock.Now, RequireSignedAgreement: true})
		c, err := e.s.Draft(ctx, maker, "ptn_a", slaTerms())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Submit(ctx, maker, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.s.Approve(ctx, checker, c.ID)
		wantProblem(t, err, problem.CodeInvalidState, "version 1 of contract "+c.ID+" has no signed agreement; attach the signed PDF before approving it")

		for _, tc := range []struct {
			name    string
			content []byte
			reason  string
		}{
			{"fail/empty", nil, "is required"},
			{"fail/not-pdf", []byte("PK\x03\x04 a zip"), "must be a PDF file"},
			{"fail/too-big", append(pdf(""), make([]byte, contracts.MaxAgreementBytes)...), "must be at most 10485760 bytes (10 MB)"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.s.UploadAgreement(ctx, maker, c.ID, "x.pdf", tc.content)
				wantFields(t, err, "signed agreement is invalid", contracts.FieldError{Field: "document", Reason: tc.reason})
			})
		}
		_, err = e.s.UploadAgreement(ctx, contracts.Actor{ID: "stf_ro", Role: "auditor"}, c.ID, "x.pdf", pdf("v1"))
		wantProblem(t, err, problem.CodeForbidden, `role "auditor" may not edit contracts`)
		_, err = e.s.UploadAgreement(ctx, maker, "ctr_nope", "x.pdf", pdf("v1"))
		wantProblem(t, err, problem.CodeNotFound, "contract ctr_nope not found")

		// The checker attaching the document becomes a writer: a third person approves.
		ag, err := e.s.UploadAgreement(ctx, checker, c.ID, "../../etc/Signed \"v1\".pdf", pdf("v1"))
		if err != nil {
			t.Fatal(err)
		}
		if ag.Filename != "Signed v1.pdf" || ag.Version != 1 || ag.Size != int64(len(pdf("v1"))) || len(ag.SHA256) != 64 || ag.ContentType != "application/pdf" {
			t.Fatalf("agreement %+v", ag)
		}
		_, err = e.s.Approve(ctx, checker, c.ID)
		wantProblem(t, err, problem.CodeMakerChecker, "version 1 of contract "+c.ID+" was written by stf_checker, who cannot also approve it")
		third := contracts.Actor{ID: "stf_third", Role: checker.Role}
		if _, err := e.s.Approve(ctx, third, c.ID); err != nil {
			t.Fatal(err)
		}
		evs, _ := audit.List(ctx, d.DB, audit.Filter{Action: "contract.approved"})
		if len(evs) != 1 || !strings.Contains(evs[0].Details, `"agreement_sha256":"`+ag.SHA256+`"`) {
			t.Fatalf("approval audit %+v", evs)
		}
		evs, _ = audit.List(ctx, d.DB, audit.Filter{Action: "contract.agreement_attached"})
		if len(evs) != 1 || !strings.Contains(evs[0].Details, `"sha256":"`+ag.SHA256+`"`) {
			t.Fatalf("attach audit %+v", evs)
		}
		// The active version's document cannot be replaced.
		_, err = e.s.UploadAgreement(ctx, maker, c.ID, "x.pdf", pdf("other"))
		wantProblem(t, err, problem.CodeInvalidState, "version 1 of contract "+c.ID+" is active; draft a new version to attach another signed agreement")

		// A new version needs its own document.
		if _, err := e.s.Update(ctx, maker, c.ID, slaTerms()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Submit(ctx, maker, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.s.Approve(ctx, checker, c.ID)
		wantProblem(t, err, problem.CodeInvalidState, "version 2 of contract "+c.ID+" has no signed agreement; attach the signed PDF before approving it")
		first, err := e.s.UploadAgreement(ctx, maker, c.ID, "v2.pdf", pdf("v2 draft"))
		if err != nil {
			t.Fatal(err)
		}
		ag2, err := e.s.UploadAgreement(ctx, maker, c.ID, "v2.pdf", pdf("v2")) // replaced while pending
		if err != nil {
			t.Fatal(err)
		}
		evs, _ = audit.List(ctx, d.DB, audit.Filter{Action: "contract.agreement_attached"})
		if len(evs) != 3 || !strings.Contains(evs[0].Details, `"replaced_sha256":"`+first.SHA256+`"`) || !strings.Contains(evs[0].Details, `"sha256":"`+ag2.SHA256+`"`) {
			t.Fatalf("replace audit %+v", evs)
		}
		if _, err := e.s.Approve(ctx, checker, c.ID); err != nil {
			t.Fatal(err)
		}
		list, err := e.s.Agreements(ctx, "ptn_a", c.ID)
		if err != nil || len(list) != 2 || list[0].SHA256 != ag.SHA256 || list[1].SHA256 != ag2.SHA256 || list[1].Version != 2 {
			t.Fatalf("agreements %+v %v", list, err)
		}
		got, body, err := e.s.AgreementDocument(ctx, "ptn_a", c.ID, 2)
		if err != nil || string(body) != string(pdf("v2")) || got.SHA256 != ag2.SHA256 {
			t.Fatalf("document %+v %q %v", got, body, err)
		}
		// Another partner: not found, exactly as an unknown contract.
		_, err = e.s.Agreements(ctx, "ptn_b", c.ID)
		wantProblem(t, err, problem.CodeNotFound, "contract "+c.ID+" not found")
		_, _, err = e.s.AgreementDocument(ctx, "ptn_b", c.ID, 1)
		wantProblem(t, err, problem.CodeNotFound, "contract "+c.ID+" not found")
		_, _, err = e.s.AgreementDocument(ctx, "ptn_a", c.ID, 3)
		wantProblem(t, err, problem.CodeNotFound, "signed agreement of contract "+c.ID+" v3 not found")
	})
}
