package reviews

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/complaints"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/monitoring"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

var ctx = context.Background()

// now is the tests' clock: 2026-Q4 is running, 2026-Q3 is complete.
var now = time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)

type env struct {
	t  *testing.T
	d  *db.DB
	ps *partners.Service
	s  *Service
	n  int
}

func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	box, err := secrets.NewBox(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	ps, err := partners.New(partners.Config{DB: d, Box: box, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Store: NewGormStore(d), Figures: monitoring.New(monitoring.NewGormStore(d), clock),
		Statements: contracts.New(d, contracts.Options{Now: clock}), Staff: ps.Staff(), Partners: ps,
		Complaints: complaints.NewGormStore(d), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, d: d, ps: ps, s: s}
}

func (e *env) staff(role staff.Role) string {
	e.t.Helper()
	e.n++
	c, err := e.ps.Staff().Bootstrap(ctx, fmt.Sprintf("%s.%d@bank.example", role, e.n), role)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Staff.ID
}

func (e *env) partner(name string) string {
	e.t.Helper()
	p, err := e.ps.CreatePartner(ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.ID
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if err := e.d.Exec(sql, args...).Error; err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func wantProblem(t testing.TB, err error, code problem.Code, detail string) {
	t.Helper()
	var p *problem.Error
	if !errors.As(err, &p) || p.Code != code || p.Detail != detail {
		t.Fatalf("problem = %v, want %s %q", err, code, detail)
	}
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var complete = Assessment{Ratings: Ratings{"reliability": 4, "performance": 5, "growth": 3, "commercial": 4, "conduct": 2},
	PartnerNotes: "Good quarter; please fix the webhook endpoint.", InternalNotes: "INTERNAL: AML team asked about them.", Outcome: OutcomeWatch}

// TestReviewRefusals: every refusal of drafting, editing, submitting and
// signing off, with its exact problem.
func TestReviewRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		pm, admin, risk, auditor := e.staff(staff.RolePartnerManager), e.staff(staff.RoleAdmin), e.staff(staff.RoleRiskOfficer), e.staff(staff.RoleAuditor)
		pid := e.partner("Acme Payments Ltd")

		for _, tc := range []struct {
			name, who, partner, quarter string
			code                        problem.Code
			detail                      string
		}{
			{"fail/wrong-role-auditor", auditor, pid, "2026-Q3", problem.CodeForbidden, "role auditor may not reviews.draft"},
			{"fail/wrong-role-risk-officer", risk, pid, "2026-Q3", problem.CodeForbidden, "role risk_officer may not reviews.draft"},
			{"fail/unknown-staff", "stf_nobody", pid, "2026-Q3", problem.CodeForbidden, "unknown staff member stf_nobody"},
			{"fail/quarter-format", pm, pid, "2026-Q5", problem.CodeValidation, `quarter must be YYYY-Qn (e.g. 2026-Q4), got "2026-Q5"`},
			{"fail/quarter-lowercase", pm, pid, "2026-q3", problem.CodeValidation, `quarter must be YYYY-Qn (e.g. 2026-Q4), got "2026-q3"`},
			{"fail/quarter-month", pm, pid, "2026-09", problem.CodeValidation, `quarter must be YYYY-Qn (e.g. 2026-Q4), got "2026-09"`},
			{"fail/quarter-future", pm, pid, "2027-Q1", problem.CodeValidation, "quarter 2027-Q1 has not begun yet"},
			{"fail/unknown-partner", pm, "ptn_nope", "2026-Q3", problem.CodeNotFound, "partner ptn_nope not found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.s.Draft(ctx, tc.who, tc.partner, tc.quarter)
				wantProblem(t, err, tc.code, tc.detail)
			})
		}

		r, err := e.s.Draft(ctx, pm, pid, "2026-Q3")
		mustOK(t, err)
		_, err = e.s.Draft(ctx, admin, pid, "2026-Q3")
		wantProblem(t, err, problem.CodeConflict, "partner "+pid+" already has a review for 2026-Q3")

		// Editing.
		for _, tc := range []struct {
			name   string
			edit   func(*Assessment)
			detail string
		}{
			{"fail/rating-high", func(a *Assessment) { a.Ratings = Ratings{"reliability": 6} }, "rating of reliability must be 1 to 5, got 6"},
			{"fail/rating-zero", func(a *Assessment) { a.Ratings = Ratings{"conduct": 0} }, "rating of conduct must be 1 to 5, got 0"},
			{"fail/dimension", func(a *Assessment) { a.Ratings = Ratings{"charm": 3} }, `unknown rating dimension "charm"`},
			{"fail/outcome", func(a *Assessment) { a.Outcome = "terminate" }, `outcome must be continue, watch, renegotiate or exit, got "terminate"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := complete
				tc.edit(&a)
				_, err := e.s.Edit(ctx, pm, r.ID, a)
				wantProblem(t, err, problem.CodeValidation, tc.detail)
			})
		}
		_, err = e.s.Edit(ctx, risk, r.ID, complete)
		wantProblem(t, err, problem.CodeForbidden, "role risk_officer may not reviews.draft")
		_, err = e.s.Edit(ctx, pm, "prv_nope", complete)
		wantProblem(t, err, problem.CodeNotFound, "review prv_nope not found")

		// Submitting an incomplete draft.
		_, err = e.s.Edit(ctx, pm, r.ID, Assessment{Ratings: Ratings{"reliability": 3}})
		mustOK(t, err)
		_, err = e.s.Submit(ctx, pm, r.ID)
		wantProblem(t, err, problem.CodeValidation, "rate every dimension before submitting; missing: performance, growth, commercial, conduct")
		_, err = e.s.Edit(ctx, pm, r.ID, Assessment{Ratings: complete.Ratings})
		mustOK(t, err)
		_, err = e.s.Submit(ctx, pm, r.ID)
		wantProblem(t, err, problem.CodeValidation, "choose an outcome before submitting")

		// Wrong states on a draft.
		_, err = e.s.Approve(ctx, risk, r.ID)
		wantProblem(t, err, problem.CodeInvalidState, "cannot approve review "+r.ID+": it is draft (needs submitted)")
		_, err = e.s.Reject(ctx, risk, r.ID, "no")
		wantProblem(t, err, problem.CodeInvalidState, "cannot return review "+r.ID+": it is draft (needs submitted)")

		_, err = e.s.Edit(ctx, pm, r.ID, complete)
		mustOK(t, err)
		_, err = e.s.Submit(ctx, pm, r.ID)
		mustOK(t, err)

		// Wrong states on a submitted review.
		_, err = e.s.Edit(ctx, pm, r.ID, complete)
		wantProblem(t, err, problem.CodeInvalidState, "cannot edit review "+r.ID+": it is submitted (needs draft)")
		_, err = e.s.Refresh(ctx, pm, r.ID)
		wantProblem(t, err, problem.CodeInvalidState, "cannot refresh review "+r.ID+": it is submitted (needs draft)")
		_, err = e.s.Submit(ctx, pm, r.ID)
		wantProblem(t, err, problem.CodeInvalidState, "cannot submit review "+r.ID+": it is submitted (needs draft)")

		// Checkers.
		_, err = e.s.Approve(ctx, pm, r.ID)
		wantProblem(t, err, problem.CodeForbidden, "role partner_manager may not reviews.approve")
		_, err = e.s.Approve(ctx, auditor, r.ID)
		wantProblem(t, err, problem.CodeForbidden, "role auditor may not reviews.approve")
		_, err = e.s.Reject(ctx, risk, r.ID, "  ")
		wantProblem(t, err, problem.CodeValidation, "a note is required to send a review back (the maker sees it)")

		// An admin is maker and would-be checker of their own review.
		pid2 := e.partner("Beta Wallet Ltd")
		own, err := e.s.Draft(ctx, admin, pid2, "2026-Q3")
		mustOK(t, err)
		_, err = e.s.Edit(ctx, admin, own.ID, complete)
		mustOK(t, err)
		_, err = e.s.Submit(ctx, admin, own.ID)
		mustOK(t, err)
		for _, tc := range []struct {
			name string
			do   func() error
		}{
			{"fail/maker-approves-own", func() error { _, err := e.s.Approve(ctx, admin, own.ID); return err }},
			{"fail/maker-rejects-own", func() error { _, err := e.s.Reject(ctx, admin, own.ID, "hmm"); return err }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantProblem(t, tc.do(), problem.CodeMakerChecker,
					"review "+own.ID+" was prepared by you; another staff member with reviews.approve must sign it off")
			})
		}
		got, _ := e.s.Get(ctx, own.ID)
		if got.Status != StatusSubmitted {
			t.Fatalf("refused decisions changed the review: %s", got.Status)
		}
		// A creator who did not submit may not sign off either.
		pid3 := e.partner("Gamma Ltd")
		mixed, err := e.s.Draft(ctx, admin, pid3, "2026-Q3")
		mustOK(t, err)
		_, err = e.s.Edit(ctx, pm, mixed.ID, complete)
		mustOK(t, err)
		_, err = e.s.Submit(ctx, pm, mixed.ID)
		mustOK(t, err)
		_, err = e.s.Approve(ctx, admin, mixed.ID)
		wantProblem(t, err, problem.CodeMakerChecker,
			"review "+mixed.ID+" was prepared by you; another staff member with reviews.approve must sign it off")
	})
}

// TestReviewSignOff: draft → submitted → back to draft with the checker's
// note → submitted → published by a risk officer; the outcome sets the
// partner's risk rating with the review as its source; every step is
// audited; the published review is final; the partner sees its published
// reviews without internal notes, and neither drafts nor other partners'
// reviews.
func TestReviewSignOff(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		pm, risk := e.staff(staff.RolePartnerManager), e.staff(staff.RoleRiskOfficer)
		pid, other := e.partner("Acme Payments Ltd"), e.partner("Other Ltd")

		r, err := e.s.Draft(ctx, pm, pid, "2026-Q3")
		mustOK(t, err)
		_, err = e.s.Edit(ctx, pm, r.ID, complete)
		mustOK(t, err)
		_, err = e.s.Submit(ctx, pm, r.ID)
		mustOK(t, err)
		back, err := e.s.Reject(ctx, risk, r.ID, "Rate conduct again: the suspension was lifted.")
		mustOK(t, err)
		if back.Status != StatusDraft || back.ReturnNote != "Rate conduct again: the suspension was lifted." || back.SubmittedBy != "" {
			t.Fatalf("returned: %+v", back)
		}
		a := complete
		a.Ratings = Ratings{"reliability": 4, "performance": 5, "growth": 3, "commercial": 4, "conduct": 3}
		_, err = e.s.Edit(ctx, pm, r.ID, a)
		mustOK(t, err)
		sub, err := e.s.Submit(ctx, pm, r.ID)
		mustOK(t, err)
		if sub.ReturnNote != "" || sub.SubmittedBy != pm {
			t.Fatalf("resubmitted: %+v", sub)
		}

		// Before publication the partner sees nothing.
		_, err = e.s.PublishedReview(ctx, pid, r.ID)
		wantProblem(t, err, problem.CodeNotFound, "review "+r.ID+" not found")

		pub, err := e.s.Approve(ctx, risk, r.ID)
		mustOK(t, err)
		if pub.Status != StatusPublished || pub.DecidedBy != risk || pub.DecidedAt == nil {
			t.Fatalf("published: %+v", pub)
		}
		_, err = e.s.Reject(ctx, risk, r.ID, "late")
		wantProblem(t, err, problem.CodeInvalidState, "cannot return review "+r.ID+": it is published (needs submitted)")
		_, err = e.s.Edit(ctx, pm, r.ID, complete)
		wantProblem(t, err, problem.CodeInvalidState, "cannot edit review "+r.ID+": it is published (needs draft)")

		// The risk rating: watch → medium, which it already was; an exit
		// review of the next quarter moves it to high.
		p, _ := e.ps.Partner(ctx, pid)
		if p.RiskRating != partners.RiskMedium {
			t.Fatalf("rating %q", p.RiskRating)
		}
		r4, err := e.s.Draft(ctx, pm, pid, "2026-Q4")
		mustOK(t, err)
		exit := complete
		exit.Outcome = OutcomeExit
		_, err = e.s.Edit(ctx, pm, r4.ID, exit)
		mustOK(t, err)
		_, err = e.s.Submit(ctx, pm, r4.ID)
		mustOK(t, err)
		_, err = e.s.Approve(ctx, risk, r4.ID)
		mustOK(t, err)
		p, _ = e.ps.Partner(ctx, pid)
		h, _ := e.ps.RiskHistory(ctx, pid)
		if p.RiskRating != partners.RiskHigh || len(h) != 1 || h[0].Source != "review:"+r4.ID || h[0].ActorID != risk ||
			h[0].Reason != "performance review 2026-Q4: exit" || h[0].Previous != partners.RiskMedium {
			t.Fatalf("rating %q history %+v", p.RiskRating, h)
		}

		trail, err := audit.List(ctx, d.DB, audit.Filter{ObjectID: r.ID})
		mustOK(t, err)
		var actions []string
		for i := len(trail) - 1; i >= 0; i-- {
			actions = append(actions, trail[i].ActorID+" "+trail[i].Action)
		}
		want := []string{pm + " review.drafted", pm + " review.edited", pm + " review.submitted", risk + " review.returned",
			pm + " review.edited", pm + " review.submitted", risk + " review.published"}
		if !reflect.DeepEqual(actions, want) {
			t.Fatalf("audit trail\n got %q\nwant %q", actions, want)
		}

		// The portal's view.
		seen, err := e.s.PublishedReview(ctx, pid, r.ID)
		mustOK(t, err)
		b, _ := json.Marshal(seen)
		if strings.Contains(string(b), "INTERNAL") || strings.Contains(string(b), pm) || strings.Contains(string(b), risk) ||
			seen.PartnerNotes != complete.PartnerNotes || seen.Outcome != OutcomeWatch {
			t.Fatalf("partner's view: %s", b)
		}
		list, err := e.s.Published(ctx, pid)
		mustOK(t, err)
		if len(list) != 2 || list[0].Quarter != "2026-Q4" || list[1].Quarter != "2026-Q3" {
			t.Fatalf("published list %+v", list)
		}
		_, err = e.s.PublishedReview(ctx, other, r.ID)
		wantProblem(t, err, problem.CodeNotFound, "review "+r.ID+" not found")
		if l, _ := e.s.Published(ctx, other); len(l) != 0 {
			t.Fatalf("other partner sees %+v", l)
		}
		draft, err := e.s.Draft(ctx, pm, other, "2026-Q3")
		mustOK(t, err)
		_, err = e.s.PublishedReview(ctx, other, draft.ID)
		wantProblem(t, err, problem.CodeNotFound, "review "+draft.ID+" not found")
	})
}

// TestParallelApprovalsOneWins: several checkers approve the same submitted
// review at once; exactly one succeeds (the conditional update), the others
// are refused, and the risk rating changes once.
func TestParallelApprovalsOneWins(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		pm := e.staff(staff.RolePartnerManager)
		checkers := []string{e.staff(staff.RoleRiskOfficer), e.staff(staff.RoleRiskOfficer), e.staff(staff.RoleAdmin), e.staff(staff.RoleRiskOfficer)}
		pid := e.partner("Race Ltd")
		r, err := e.s.Draft(ctx, pm, pid, "2026-Q3")
		mustOK(t, err)
		a := complete
		a.Outcome = OutcomeExit
		_, err = e.s.Edit(ctx, pm, r.ID, a)
		mustOK(t, err)
		_, err = e.s.Submit(ctx, pm, r.ID)
		mustOK(t, err)

		errs := make([]error, len(checkers))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, c := range checkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = e.s.Approve(ctx, c, r.ID)
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			var p *problem.Error
			switch {
			case err == nil:
				wins++
			case errors.As(err, &p) && p.Code == problem.CodeConflict:
				wantProblem(t, err, problem.CodeConflict, "review "+r.ID+" was changed by someone else; reload and retry")
			case errors.As(err, &p) && p.Code == problem.CodeInvalidState:
				wantProblem(t, err, problem.CodeInvalidState, "cannot approve review "+r.ID+": it is published (needs submitted)")
			default:
				t.Errorf("unexpected refusal %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d approvals won: %v", wins, errs)
		}
		h, _ := e.ps.RiskHistory(ctx, pid)
		trail, _ := audit.List(ctx, d.DB, audit.Filter{ObjectID: r.ID, Action: "review.published"})
		if len(h) != 1 || len(trail) != 1 {
			t.Fatalf("history %+v, audit %+v", h, trail)
		}
	})
}

// TestScorecardFromPlatformData: a partner's 2026-Q3 scorecard counts its
// production calls, consents, payments, webhook attempts, statements and
// lifecycle incidents written in Q3 (and Q2 for growth), and nothing of
// the sandbox, of other quarters or of other partners; it is frozen in the
// draft until refreshed.
func TestScorecardFromPlatformData(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		pm := e.staff(staff.RolePartnerManager)
		pid, other := e.partner("Acme Payments Ltd"), e.partner("Other Ltd")
		q3 := func(month, day int) time.Time { return time.Date(2026, time.Month(month), day, 10, 0, 0, 0, time.UTC) }
		call := func(partner, env string, at time.Time, status int, latency int64) {
			e.exec(`INSERT INTO request_log (at, client_id, partner_id, environment, method, path, status, latency_us, problem_type)
				VALUES (?, 'app_1', ?, ?, 'GET', '/open-banking/v3.1/aisp/accounts', ?, ?, '')`, at, partner, env, status, latency)
		}
		call(pid, "production", q3(7, 1), 200, 1000)
		call(pid, "production", q3(8, 2), 200, 3000)
		call(pid, "production", q3(9, 3), 404, 2000)
		call(pid, "production", q3(9, 30), 500, 10000)
		call(pid, "production", q3(5, 1), 200, 50) // Q2
		call(pid, "production", q3(6, 1), 200, 50) // Q2
		call(pid, "sandbox", q3(8, 1), 500, 99999)
		call(other, "production", q3(8, 1), 500, 99999)
		call(pid, "production", q3(10, 1), 500, 99999) // Q4
		consent := func(id, partner, env string, at time.Time) {
			e.exec(`INSERT INTO api_consents (id, type, partner_id, client_id, environment, status, created_at, status_updated_at)
				VALUES (?, 'account_access', ?, 'app_1', ?, 'Authorised', ?, ?)`, id, partner, env, at, at)
		}
		consent("cns_1", pid, "production", q3(7, 2))
		consent("cns_2", pid, "production", q3(8, 2))
		consent("cns_3", pid, "production", q3(9, 2))
		consent("cns_4", pid, "production", q3(4, 2)) // Q2
		consent("cns_5", pid, "sandbox", q3(8, 2))
		e.exec(`INSERT INTO api_payments (id, consent_id, partner_id, client_id, environment, debtor_account_id, amount_minor, currency,
			initiation, status, created_at, status_updated_at) VALUES ('pay_1', 'pcn_1', ?, 'app_1', 'production', 'acc_1', 100, 'GBP', '{}', 'AcceptedSettlementCompleted', ?, ?)`,
			pid, q3(8, 5), q3(8, 5))
		e.exec(`INSERT INTO webhook_endpoints (id, partner_id, app_id, environment, url, enabled, signing, secret_sealed, created_at, updated_at)
			VALUES ('whe_1', ?, 'app_1', 'production', 'https://acme.example/hook', ?, 'hmac', 'sealed', ?, ?)`, pid, true, q3(7, 1), q3(7, 1))
		e.exec(`INSERT INTO webhook_deliveries (id, event_id, endpoint_id, partner_id, status, next_attempt_at, created_at, updated_at, delivered_at)
			VALUES ('dlv_1', 'evt_1', 'whe_1', ?, 'succeeded', ?, ?, ?, ?)`, pid, q3(8, 5), q3(8, 5), q3(8, 5), q3(8, 5))
		complaint := func(id, partner string, at time.Time) {
			e.exec(`INSERT INTO complaints (id, payment_id, consent_id, partner_id, client_id, environment, customer_id, amount_minor, currency,
				category, description, status, received_at, due_at, partner_due_at) VALUES (?, ?, 'pcn_1', ?, 'app_1', 'production', 'cus_1', 100, 'GBP',
				'other', 'x', 'resolved', ?, ?, ?)`, id, "pay_"+id, partner, at, at, at)
		}
		complaint("cmp_1", pid, q3(7, 1).Truncate(24*time.Hour)) // the quarter's first instant
		complaint("cmp_2", pid, q3(9, 30))
		complaint("cmp_3", pid, q3(6, 30))  // Q2
		complaint("cmp_4", pid, q3(10, 1))  // Q4
		complaint("cmp_5", other, q3(8, 1)) // another partner
		for _, code := range []int{500, 503, 200} {
			e.exec(`INSERT INTO webhook_attempts (delivery_id, endpoint_id, event_id, event_type, partner_id, attempt, at, status_code)
				VALUES ('dlv_1', 'whe_1', 'evt_1', 'payment.updated', ?, 1, ?, ?)`, pid, q3(8, 5), code)
		}
		stm := func(id, partner, period string, fees, share, net int64) {
			e.exec(`INSERT INTO statements (id, partner_id, period, run_id, contract_id, contract_version, currency, call_fees, payment_fees,
				minimum_topup, revenue_share, adjustments, net, direction, issued_at) VALUES (?, ?, ?, 'run', 'ctr', 1, 'GBP', ?, 100, 0, ?, 0, ?, 'receivable', ?)`,
				id, partner, period, fees, share, net, q3(10, 1))
		}
		stm("stm_1", pid, "2026-07", 1000, 200, 900)
		stm("stm_2", pid, "2026-09", 2000, 0, 2100)
		stm("stm_3", pid, "2026-10", 5000, 0, 5000)
		stm("stm_4", other, "2026-08", 7000, 0, 7000)
		event := func(id, action, object string, at time.Time, details string) {
			e.exec(`INSERT INTO audit_events (id, at, actor_type, actor_id, action, object_type, object_id, partner_id, interaction_id, details)
				VALUES (?, ?, 'staff', 'stf_x', ?, 'partner', ?, ?, '', ?)`, id, at, action, object, pid, details)
		}
		event("aud_1", "partner.status_changed", pid, q3(8, 10), `{"from":"live","to":"suspended","reason":"AML alert"}`)
		event("aud_2", "partner.status_changed", pid, q3(8, 12), `{"from":"suspended","to":"live"}`)
		event("aud_3", "app.suspended", "app_1", q3(9, 1), `{"from":"active","to":"suspended","reason":"leaked key"}`)
		event("aud_4", "app.updated", "app_1", q3(9, 2), `{}`)
		event("aud_5", "partner.status_changed", pid, q3(10, 2), `{"from":"live","to":"suspended","reason":"Q4"}`)

		r, err := e.s.Draft(ctx, pm, pid, "2026-Q3")
		mustOK(t, err)
		sc := r.Scorecard
		if sc.Quarter != "2026-Q3" || sc.Partial || !sc.From.Equal(q3(7, 1).Truncate(24*time.Hour)) || !sc.ComputedAt.Equal(now) {
			t.Fatalf("period %+v", sc)
		}
		if sc.Calls != (Volume{4, 2}) || sc.Calls.Growth() != "+100.0 %" || sc.Consents != (Volume{3, 1}) || sc.Consents.Growth() != "+200.0 %" ||
			sc.Payments != (Volume{1, 0}) || sc.Payments.Growth() != "n/a (none the previous quarter)" {
			t.Fatalf("volumes %+v %+v %+v", sc.Calls, sc.Consents, sc.Payments)
		}
		if sc.ClientErrors != 1 || sc.ServerErrors != 1 || sc.ErrorRateBPS() != 2500 || sc.P50US != 2000 || sc.P95US != 10000 {
			t.Fatalf("errors/latency %+v", sc)
		}
		if av, ok := sc.WebhookAvailabilityBPS(); !ok || av != 3333 || sc.WebhooksFailedAttempts != 2 || sc.WebhooksDelivered != 1 {
			t.Fatalf("webhooks %d %v %+v", av, ok, sc)
		}
		if sc.Complaints == nil || *sc.Complaints != 2 {
			t.Fatalf("complaints %v: want 2 received in Q3", sc.Complaints)
		}
		if !reflect.DeepEqual(sc.Statements, []string{"2026-07", "2026-09"}) || !reflect.DeepEqual(sc.Fees, []money.Money{money.GBP(3200)}) ||
			!reflect.DeepEqual(sc.RevenueShare, []money.Money{money.GBP(200)}) || !reflect.DeepEqual(sc.Net, []money.Money{money.GBP(3000)}) {
			t.Fatalf("money %+v %+v %+v %+v", sc.Statements, sc.Fees, sc.RevenueShare, sc.Net)
		}
		var kinds []string
		for _, in := range sc.Incidents {
			kinds = append(kinds, in.Kind+" "+in.Object+" "+in.Reason)
		}
		if sc.Suspensions != 2 || !reflect.DeepEqual(kinds, []string{"partner.suspended " + pid + " AML alert", "partner.reinstated " + pid + " ",
			"app.suspended app_1 leaked key"}) {
			t.Fatalf("incidents %d %q", sc.Suspensions, kinds)
		}

		// Frozen: new traffic changes nothing until refreshed.
		call(pid, "production", q3(9, 4), 200, 1)
		got, _ := e.s.Get(ctx, r.ID)
		if got.Scorecard.Calls.Count != 4 {
			t.Fatalf("stored scorecard moved: %+v", got.Scorecard.Calls)
		}
		ref, err := e.s.Refresh(ctx, pm, r.ID)
		mustOK(t, err)
		if ref.Scorecard.Calls != (Volume{5, 2}) {
			t.Fatalf("refreshed %+v", ref.Scorecard.Calls)
		}

		// The running quarter is counted up to now.
		r4, err := e.s.Draft(ctx, pm, pid, "2026-Q4")
		mustOK(t, err)
		if !r4.Scorecard.Partial || !r4.Scorecard.To.Equal(now) || r4.Scorecard.Calls != (Volume{1, 5}) || r4.Scorecard.Suspensions != 1 {
			t.Fatalf("Q4 %+v", r4.Scorecard)
		}
	})
}

// TestQuarter: parsing and bounds.
func TestQuarter(t *testing.T) {
	for _, tc := range []struct {
		in, start, prev string
		months          []string
	}{
		{"2026-Q1", "2026-01-01", "2025-Q4", []string{"2026-01", "2026-02", "2026-03"}},
		{"2026-Q4", "2026-10-01", "2026-Q3", []string{"2026-10", "2026-11", "2026-12"}},
	} {
		q, err := ParseQuarter(tc.in)
		mustOK(t, err)
		if q.String() != tc.in || q.Start().Format("2006-01-02") != tc.start || q.Previous().String() != tc.prev ||
			!reflect.DeepEqual(q.Months(), tc.months) || !q.End().Equal(q.Start().AddDate(0, 3, 0)) {
			t.Errorf("%s: %v %v %v", tc.in, q.Start(), q.Previous(), q.Months())
		}
	}
	for _, bad := range []string{"", "2026-Q0", "2026Q1", " 2026-Q1", "1999-Q4", "2026-Q1x", "२०२६-Q1"} {
		_, err := ParseQuarter(bad)
		wantProblem(t, err, problem.CodeValidation, fmt.Sprintf("quarter must be YYYY-Qn (e.g. 2026-Q4), got %q", bad))
	}
}

// FuzzParseQuarter: whatever staff type, ParseQuarter either refuses it or
// returns a quarter whose String is the input.
func FuzzParseQuarter(f *testing.F) {
	for _, s := range []string{"2026-Q4", "2026-Q5", "", "9999-Q1", "2026-q1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuarter(s)
		if err != nil {
			return
		}
		if q.String() != s || q.Q < 1 || q.Q > 4 || !q.Start().Before(q.End()) {
			t.Fatalf("%q → %+v", s, q)
		}
	})
}
