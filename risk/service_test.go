package risk_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/risk"
)

var (
	ctx     = context.Background()
	officer = risk.Actor{ID: "stf_officer1", Role: staff.RoleRiskOfficer}
	second  = risk.Actor{ID: "stf_officer2", Role: staff.RoleRiskOfficer}
	admin   = risk.Actor{ID: "stf_admin", Role: staff.RoleAdmin}
	auditor = risk.Actor{ID: "stf_auditor", Role: staff.RoleAuditor}
	t0      = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
)

// fakePayments is the payments side: it records what a decision asked.
type fakePayments struct {
	mu                          sync.Mutex
	released, executed, rejects []string
	fail                        error
}

func (f *fakePayments) ReleaseHeld(_ context.Context, id string, _ risk.Actor) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.released = append(f.released, id)
	return nil
}

func (f *fakePayments) Execute(_ context.Context, id string, _ risk.Actor) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.executed = append(f.executed, id)
	return nil
}

func (f *fakePayments) RejectHeld(_ context.Context, id, reason string, _ risk.Actor) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.rejects = append(f.rejects, id+": "+reason)
	return nil
}

type fixture struct {
	d   *db.DB
	a   *risk.Assessor
	s   *risk.Service
	pay *fakePayments
	now time.Time
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	f := &fixture{d: d, pay: &fakePayments{}, now: t0}
	clock := func() time.Time { return f.now }
	var err error
	f.a, err = risk.NewAssessor(risk.AssessorConfig{Store: risk.NewGormStore(d), Now: clock,
		Screener: screenFake{"Ivan Petrov": {{Name: "IVAN PETROV", List: "OFAC SDN", Reference: "OFAC-1", Score: 96}}}})
	if err != nil {
		t.Fatal(err)
	}
	f.s = risk.NewService(risk.Config{Store: risk.NewGormStore(d), Payments: f.pay, Now: clock})
	return f
}

type screenFake map[string][]risk.Match

func (s screenFake) Screen(_ context.Context, name string) ([]risk.Match, error) { return s[name], nil }

// held opens the case of a held payment of amount minor GBP.
func (f *fixture) held(t *testing.T, payment string, minor int64) *risk.Case {
	t.Helper()
	a, err := f.a.Assess(ctx, "ptn_1", "Ivan Petrov", risk.Input{Amount: money.GBP(minor), Customer: true,
		History: risk.History{Count: 5, Mean: minor, Max: minor}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Decision != risk.DecisionHold {
		t.Fatalf("assessment %+v, want hold", a)
	}
	c, err := f.a.OpenCase(ctx, risk.NewCase{PaymentID: payment, ConsentID: "pcn_" + payment, PartnerID: "ptn_1", ClientID: "app_1",
		Environment: environment.Sandbox, CustomerID: "cus_1", Amount: money.GBP(minor), CreditorName: "Ivan Petrov",
		CreditorAccount: "UK.OBIE.SortCodeAccountNumber:20000012345678", Assessment: a})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantProblem(t *testing.T, err error, code problem.Code, detail string) {
	t.Helper()
	var p *problem.Error
	if !errors.As(err, &p) || p.Code != code || p.Detail != detail {
		t.Fatalf("error %v, want %s %q", err, code, detail)
	}
}

func actions(t *testing.T, d *db.DB, objectID string) []string {
	t.Helper()
	evs, err := audit.List(ctx, d.DB, audit.Filter{ObjectID: objectID})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, evs[i].Action+" by "+evs[i].ActorID)
	}
	return out
}

func TestCaseQueue(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		small := f.held(t, "pay_small", 50_000) // 500.00 GBP: one officer
		f.now = t0.Add(time.Minute)
		big := f.held(t, "pay_big", 1_000_000) // 10,000.00 GBP: two officers
		f.now = t0.Add(25 * time.Hour)

		t.Run("ok/open-cases-oldest-first", func(t *testing.T) {
			list, err := f.s.OpenCases(ctx, admin)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].ID != small.ID || list[1].ID != big.ID {
				t.Fatalf("open cases %+v", list)
			}
			if !f.s.Overdue(&list[0], f.now) || f.s.NeedsTwo(&list[0]) || !f.s.NeedsTwo(&list[1]) {
				t.Errorf("overdue %v, needs two %v %v", f.s.Overdue(&list[0], f.now), f.s.NeedsTwo(&list[0]), f.s.NeedsTwo(&list[1]))
			}
			if len(list[0].Matches) != 1 || list[0].Matches[0].Reference != "OFAC-1" || list[0].Score == 0 || len(list[0].Reasons) == 0 {
				t.Errorf("case lacks its matches or reasons: %+v", list[0])
			}
		})
		t.Run("fail/refusals", func(t *testing.T) {
			_, err := f.s.OpenCases(ctx, auditor)
			wantProblem(t, err, problem.CodeForbidden, "role auditor may not risk_cases.read")
			_, err = f.s.Decide(ctx, admin, small.ID, risk.Release, "fine")
			wantProblem(t, err, problem.CodeForbidden, "role admin may not risk_cases.decide")
			_, err = f.s.Decide(ctx, officer, small.ID, "approve", "fine")
			wantProblem(t, err, problem.CodeValidation, "decision must be release or reject")
			_, err = f.s.Decide(ctx, officer, small.ID, risk.Release, "  ")
			wantProblem(t, err, problem.CodeValidation, "a decision needs a note")
			_, err = f.s.Decide(ctx, officer, "rcs_nope", risk.Release, "fine")
			wantProblem(t, err, problem.CodeNotFound, "risk case rcs_nope not found")
			_, err = f.s.Case(ctx, officer, "rcs_nope")
			wantProblem(t, err, problem.CodeNotFound, "risk case rcs_nope not found")
			_, err = risk.NewAssessor(risk.AssessorConfig{Thresholds: risk.Thresholds{SCA: 50, Hold: 40, Reject: 90, ScreeningMatch: 90}})
			if err == nil {
				t.Error("bad thresholds accepted")
			}
			_, err = f.a.OpenCase(ctx, risk.NewCase{PaymentID: "pay_x", ConsentID: "pcn_x", PartnerID: "ptn_1", Amount: money.GBP(1),
				Assessment: risk.Assessment{Decision: risk.DecisionAllow}})
			wantProblem(t, err, problem.CodeValidation, `only a held payment opens a risk case (decision "allow")`)
			_, err = f.a.OpenCase(ctx, risk.NewCase{PaymentID: "pay_small", ConsentID: "pcn_x", PartnerID: "ptn_1", Amount: money.GBP(1),
				Assessment: risk.Assessment{Decision: risk.DecisionHold}})
			if !errors.Is(err, risk.ErrCaseExists) {
				t.Errorf("second case of a payment: %v", err)
			}
		})
		t.Run("ok/one-officer-releases-below-the-amount", func(t *testing.T) {
			c, err := f.s.Decide(ctx, officer, small.ID, risk.Release, "customer confirmed by phone")
			if err != nil {
				t.Fatal(err)
			}
			if c.Status != risk.CaseReleased || c.DecidedBy != officer.ID || c.DecisionNote != "customer confirmed by phone" {
				t.Errorf("case %+v", c)
			}
			if fmt.Sprint(f.pay.released, f.pay.executed) != "[pay_small] [pay_small]" {
				t.Errorf("released %v executed %v", f.pay.released, f.pay.executed)
			}
			_, err = f.s.Decide(ctx, second, small.ID, risk.Reject, "too late")
			wantProblem(t, err, problem.CodeInvalidState, "risk case "+small.ID+" is already released")
			if got := strings.Join(actions(t, d, small.ID), ", "); got != "risk_case.opened by risk, risk_case.released by stf_officer1" {
				t.Errorf("audit %s", got)
			}
		})
		t.Run("ok/dual-control-above-the-amount", func(t *testing.T) {
			c, err := f.s.Decide(ctx, officer, big.ID, risk.Reject, "mule pattern")
			if err != nil {
				t.Fatal(err)
			}
			if c.Status != risk.CaseProposed || c.ProposedBy != officer.ID || len(f.pay.rejects) != 0 {
				t.Fatalf("after the proposal: %+v, rejects %v", c, f.pay.rejects)
			}
			_, err = f.s.Decide(ctx, officer, big.ID, risk.Reject, "again")
			wantProblem(t, err, problem.CodeMakerChecker, "risk case "+big.ID+" was proposed by stf_officer1, who cannot also approve it")
			// The second officer disagrees: their release is a new proposal
			// the first may approve.
			if c, err = f.s.Decide(ctx, second, big.ID, risk.Release, "known supplier"); err != nil || c.Status != risk.CaseProposed || c.ProposedBy != second.ID {
				t.Fatalf("counter-proposal: %+v %v", c, err)
			}
			if c, err = f.s.Decide(ctx, officer, big.ID, risk.Release, "agreed"); err != nil || c.Status != risk.CaseReleased {
				t.Fatalf("approval: %+v %v", c, err)
			}
			want := "risk_case.opened by risk, risk_case.proposed by stf_officer1, risk_case.proposed by stf_officer2, risk_case.released by stf_officer1"
			if got := strings.Join(actions(t, d, big.ID), ", "); got != want {
				t.Errorf("audit %s\nwant  %s", got, want)
			}
			if list, _ := f.s.OpenCases(ctx, officer); len(list) != 0 {
				t.Errorf("open cases left: %+v", list)
			}
		})
		t.Run("fail/payments-side-refusal-rolls-back", func(t *testing.T) {
			c := f.held(t, "pay_gone", 100)
			f.pay.fail = risk.PaymentNotHeld("pay_gone")
			_, err := f.s.Decide(ctx, officer, c.ID, risk.Reject, "no")
			wantProblem(t, err, problem.CodeInvalidState, "payment pay_gone is not held for review")
			f.pay.fail = nil
			if got, _ := f.s.Case(ctx, officer, c.ID); got.Status != risk.CaseOpen {
				t.Errorf("case %s after a refused decision", got.Status)
			}
			if _, err := f.s.Decide(ctx, officer, c.ID, risk.Reject, "no"); err != nil {
				t.Fatal(err)
			}
			if f.pay.rejects[0] != "pay_gone: "+risk.RejectReason {
				t.Errorf("rejects %v", f.pay.rejects)
			}
		})
	})
}

// TestDecideExactlyOnce: officers deciding one case at once; exactly one
// decision wins, the payment is released or rejected once.
func TestDecideExactlyOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		c := f.held(t, "pay_race", 20_000)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				decision := risk.Release
				if i%2 == 1 {
					decision = risk.Reject
				}
				_, errs[i] = f.s.Decide(ctx, risk.Actor{ID: fmt.Sprintf("stf_%d", i), Role: staff.RoleRiskOfficer}, c.ID, decision, "race")
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			var p *problem.Error
			switch {
			case err == nil:
				ok++
			case errors.As(err, &p) && (p.Code == problem.CodeConflict || p.Code == problem.CodeInvalidState):
			default:
				t.Errorf("unexpected error %v", err)
			}
		}
		if ok != 1 || len(f.pay.released)+len(f.pay.rejects) != 1 || len(f.pay.executed) != len(f.pay.released) {
			t.Fatalf("%d decisions won; released %v rejected %v executed %v (%v)", ok, f.pay.released, f.pay.rejects, f.pay.executed, errs)
		}
	})
}

func TestSuspiciousActivityReports(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		c := f.held(t, "pay_sar", 700)
		if _, err := f.s.Decide(ctx, officer, c.ID, risk.Reject, "listed payee"); err != nil {
			t.Fatal(err)
		}
		t.Run("fail/refusals", func(t *testing.T) {
			_, err := f.s.FileSAR(ctx, admin, c.ID, "x")
			wantProblem(t, err, problem.CodeForbidden, "role admin may not sars.file")
			_, err = f.s.FileSAR(ctx, officer, c.ID, " \n")
			wantProblem(t, err, problem.CodeValidation, "a suspicious activity report needs a narrative")
			_, err = f.s.FileSAR(ctx, officer, "rcs_nope", "x")
			wantProblem(t, err, problem.CodeNotFound, "risk case rcs_nope not found")
			_, err = f.s.ExportSAR(ctx, admin, "sar_nope")
			wantProblem(t, err, problem.CodeForbidden, "role admin may not sars.read")
			_, err = f.s.ExportSAR(ctx, officer, "sar_nope")
			wantProblem(t, err, problem.CodeNotFound, "suspicious activity report sar_nope not found")
			_, err = f.s.CaseSARs(ctx, auditor, c.ID)
			wantProblem(t, err, problem.CodeForbidden, "role auditor may not sars.read")
		})
		t.Run("ok/file-and-export", func(t *testing.T) {
			r, err := f.s.FileSAR(ctx, second, c.ID, "  structuring below the threshold  ")
			if err != nil {
				t.Fatal(err)
			}
			if list, err := f.s.CaseSARs(ctx, officer, c.ID); err != nil || len(list) != 1 || list[0].ID != r.ID {
				t.Fatalf("case reports %+v %v", list, err)
			}
			x, err := f.s.ExportSAR(ctx, risk.Actor{ID: "cli", Role: staff.RoleSystem}, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			var trail []string
			for _, e := range x.Audit {
				trail = append(trail, e.Action+"/"+e.ObjectID)
			}
			if x.Format != "bankbridge.sar.v1" || x.SAR.Narrative != "structuring below the threshold" || x.SAR.FiledBy != second.ID ||
				x.Case.ID != c.ID || x.Case.Status != risk.CaseRejected || x.Case.DecisionNote != "listed payee" || len(x.Case.Matches) != 1 {
				t.Errorf("export %+v", x)
			}
			for _, w := range []string{"risk_case.opened/" + c.ID, "risk_case.rejected/" + c.ID, "sar.filed/" + r.ID, "sar.exported/" + r.ID} {
				if !slices.Contains(trail, w) {
					t.Errorf("audit trail %v lacks %s", trail, w)
				}
			}
			evs, err := audit.List(ctx, d.DB, audit.Filter{ObjectID: r.ID})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.PartnerID != "" {
					t.Errorf("report audit %s names partner %s", e.Action, e.PartnerID)
				}
			}
		})
	})
}
