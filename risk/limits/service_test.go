package limits_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/risk/limits"
)

var (
	ctx     = context.Background()
	maker   = limits.Actor{ID: "stf_maker", Role: staff.RoleRiskOfficer}
	checker = limits.Actor{ID: "stf_checker", Role: staff.RoleRiskOfficer}
	admin   = limits.Actor{ID: "stf_admin", Role: staff.RoleAdmin}
	auditor = limits.Actor{ID: "stf_auditor", Role: staff.RoleAuditor}
	finance = limits.Actor{ID: "stf_finance", Role: staff.RoleFinance}
)

func newService(t *testing.T, d *db.DB, bus cachebus.Bus) *limits.Service {
	return limits.New(limits.Config{DB: d, Bus: bus, Now: func() time.Time { return now }})
}

func partnerDaily(amount string) limits.ProposalInput {
	return limits.ProposalInput{Op: limits.OpCreate, Environment: "production", Currency: "GBP", Scope: "partner",
		SubjectID: "ptn_1", Kind: "per_day", Amount: amount, Reason: "partner under review"}
}

func mustPropose(t *testing.T, s *limits.Service, a limits.Actor, in limits.ProposalInput) limits.Proposal {
	t.Helper()
	p, err := s.Propose(ctx, a, in)
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	return p
}

func TestMakerChecker(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		bus := cachebus.NewLocal()
		s := newService(t, d, bus)

		t.Run("ok/propose-approve-change-remove", func(t *testing.T) {
			p := mustPropose(t, s, maker, partnerDaily("20.00"))
			if rs, _ := s.Rules(ctx, environment.Production); len(rs) != 0 {
				t.Fatalf("a pending proposal is in force: %+v", rs)
			}
			got, err := s.Approve(ctx, checker, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := s.Rules(ctx, environment.Production)
			if err != nil || len(rs) != 1 || rs[0].ID != got.RuleID || rs[0].Amount != 20_00 || rs[0].ProposedBy != maker.ID ||
				rs[0].ApprovedBy != checker.ID || rs[0].Limit() != "20.00 GBP" {
				t.Fatalf("rules %+v, %v", rs, err)
			}
			ch := mustPropose(t, s, checker, limits.ProposalInput{Op: limits.OpChange, RuleID: got.RuleID, Amount: "35.5", Reason: "raise"})
			if _, err := s.Approve(ctx, admin, ch.ID); err != nil {
				t.Fatal(err)
			}
			if rs, _ := s.Rules(ctx, environment.Production); len(rs) != 1 || rs[0].Amount != 35_50 {
				t.Fatalf("after change %+v", rs)
			}
			rm := mustPropose(t, s, maker, limits.ProposalInput{Op: limits.OpRemove, RuleID: got.RuleID, Reason: "review done"})
			if _, err := s.Approve(ctx, checker, rm.ID); err != nil {
				t.Fatal(err)
			}
			if rs, _ := s.Rules(ctx, environment.Production); len(rs) != 0 {
				t.Fatalf("after removal %+v", rs)
			}
			// Audited: each proposal and each decision, with maker and checker.
			evs, err := audit.List(ctx, d.DB, audit.Filter{Action: "limit."})
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for i := len(evs) - 1; i >= 0; i-- {
				actions = append(actions, evs[i].Action+"/"+evs[i].ActorID)
			}
			want := []string{"limit.proposed/stf_maker", "limit.approved/stf_checker", "limit.rule_created/stf_checker",
				"limit.proposed/stf_checker", "limit.approved/stf_admin", "limit.rule_changed/stf_admin",
				"limit.proposed/stf_maker", "limit.approved/stf_checker", "limit.rule_removed/stf_checker"}
			if len(actions) != len(want) {
				t.Fatalf("audit %v, want %v", actions, want)
			}
			for i := range want {
				if actions[i] != want[i] {
					t.Fatalf("audit %v, want %v", actions, want)
				}
			}
		})

		t.Run("ok/approval-invalidates-the-cache", func(t *testing.T) {
			rs, _ := s.Rules(ctx, environment.Sandbox) // cached now
			// A row written behind the service's back is not seen: the
			// rules are served from the node's cache...
			if err := limits.NewGormStore(d).InsertRule(ctx, limits.Rule{ID: "lim_behind", Environment: environment.Sandbox,
				Currency: "JPY", Scope: limits.ScopePlatform, Kind: limits.KindPerPayment, Amount: 5, ProposedBy: "x", ApprovedBy: "y",
				UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if again, _ := s.Rules(ctx, environment.Sandbox); len(again) != len(rs) {
				t.Fatalf("not cached: %d then %d rules", len(rs), len(again))
			}
			// ... until an approval publishes the change.
			in := limits.ProposalInput{Op: limits.OpCreate, Environment: "sandbox", Currency: "BHD", Scope: "app", SubjectID: "app_1",
				Kind: "per_month", Amount: "1.250", Reason: "r"}
			if _, err := s.Approve(ctx, checker, mustPropose(t, s, maker, in).ID); err != nil {
				t.Fatal(err)
			}
			after, _ := s.Rules(ctx, environment.Sandbox)
			if len(after) != len(rs)+2 {
				t.Fatalf("after approval %+v", after)
			}
		})

		t.Run("fail/refusals", func(t *testing.T) {
			p := mustPropose(t, s, maker, limits.ProposalInput{Op: limits.OpCreate, Environment: "production", Currency: "JPY",
				Scope: "customer", SubjectID: "cus_1", Kind: "per_payment", Amount: "30000", Reason: "r"})
			existing := mustPropose(t, s, maker, partnerDaily("10.00"))
			if _, err := s.Approve(ctx, checker, existing.ID); err != nil {
				t.Fatal(err)
			}
			rules, _ := s.List(ctx, auditor, environment.Production)
			var existingRule string
			for _, r := range rules {
				if r.SubjectID == "ptn_1" && r.Kind == limits.KindPerDay {
					existingRule = r.ID
				}
			}
			dup := mustPropose(t, s, maker, limits.ProposalInput{Op: limits.OpCreate, Environment: "production", Currency: "JPY",
				Scope: "customer", SubjectID: "cus_1", Kind: "per_payment", Amount: "1", Reason: "r"})
			if _, err := s.Approve(ctx, checker, p.ID); err != nil {
				t.Fatal(err)
			}
			withRule := func(in limits.ProposalInput) limits.ProposalInput {
				in.Op, in.RuleID = limits.OpChange, existingRule
				return in
			}
			for _, tc := range []struct {
				name   string
				call   func() error
				code   problem.Code
				detail string
			}{
				{"fail/maker-approves-own", func() error { _, err := s.Approve(ctx, maker, dup.ID); return err },
					problem.CodeMakerChecker, "limit proposal " + dup.ID + " was made by stf_maker, who cannot also approve it"},
				{"fail/approve-twice", func() error { _, err := s.Approve(ctx, admin, p.ID); return err },
					problem.CodeInvalidState, "limit proposal " + p.ID + " is already approved"},
				{"fail/reject-approved", func() error { _, err := s.Reject(ctx, admin, p.ID, "no"); return err },
					problem.CodeInvalidState, "limit proposal " + p.ID + " is already approved"},
				{"fail/approve-unknown", func() error { _, err := s.Approve(ctx, admin, "lpr_nope"); return err },
					problem.CodeNotFound, "no limit proposal lpr_nope"},
				{"fail/slot-taken-at-approval", func() error { _, err := s.Approve(ctx, checker, dup.ID); return err },
					problem.CodeConflict, "a per-payment JPY rule in production for customer cus_1 exists now: reject this proposal and propose a change of it"},
				{"fail/slot-taken-at-proposal", func() error { _, err := s.Propose(ctx, maker, partnerDaily("1")); return err },
					problem.CodeConflict, "a per-day GBP rule in production for partner ptn_1 exists (" + existingRule + "): propose a change of it"},
				{"fail/auditor-proposes", func() error { _, err := s.Propose(ctx, auditor, partnerDaily("1")); return err },
					problem.CodeForbidden, `role "auditor" may not limits.propose`},
				{"fail/auditor-approves", func() error { _, err := s.Approve(ctx, auditor, dup.ID); return err },
					problem.CodeForbidden, `role "auditor" may not limits.approve`},
				{"fail/finance-reads", func() error { _, err := s.List(ctx, finance, ""); return err },
					problem.CodeForbidden, `role "finance" may not limits.read`},
				{"fail/no-actor", func() error { _, err := s.Propose(ctx, limits.Actor{}, partnerDaily("1")); return err },
					problem.CodeForbidden, "an actor is required to limits.propose"},
				{"fail/reject-without-note", func() error { _, err := s.Reject(ctx, checker, dup.ID, " "); return err },
					problem.CodeValidation, "a rejection needs a note"},
				{"fail/no-reason", func() error {
					in := partnerDaily("1")
					in.Reason = ""
					_, err := s.Propose(ctx, maker, in)
					return err
				}, problem.CodeValidation, "reason is required"},
				{"fail/unknown-op", func() error {
					_, err := s.Propose(ctx, maker, limits.ProposalInput{Op: "raise", Reason: "r"})
					return err
				}, problem.CodeValidation, "op must be create, change or remove"},
				{"fail/unknown-currency", func() error {
					in := partnerDaily("1")
					in.Currency = "XXX"
					_, err := s.Propose(ctx, maker, in)
					return err
				}, problem.CodeValidation, "currency must be an ISO 4217 currency code such as GBP"},
				{"fail/jpy-decimals", func() error {
					in := partnerDaily("12.5")
					in.Currency = "JPY"
					_, err := s.Propose(ctx, maker, in)
					return err
				}, problem.CodeValidation, "amount has more decimals than JPY allows (0)"},
				{"fail/bhd-decimals", func() error {
					in := partnerDaily("1.2345")
					in.Currency = "BHD"
					_, err := s.Propose(ctx, maker, in)
					return err
				}, problem.CodeValidation, "amount has more decimals than BHD allows (3)"},
				{"fail/zero-amount", func() error { _, err := s.Propose(ctx, maker, partnerDaily("0.00")); return err },
					problem.CodeValidation, "amount must be positive"},
				{"fail/amount-not-a-number", func() error { _, err := s.Propose(ctx, maker, partnerDaily("1e3")); return err },
					problem.CodeValidation, "amount must be a number such as 12.50"},
				{"fail/amount-too-large", func() error {
					_, err := s.Propose(ctx, maker, partnerDaily("92233720368547758.08"))
					return err
				}, problem.CodeValidation, "amount is too large"},
				{"fail/partner-without-subject", func() error {
					in := partnerDaily("1")
					in.SubjectID = ""
					_, err := s.Propose(ctx, maker, in)
					return err
				}, problem.CodeValidation, "subject_id must name the partner"},
				{"fail/unknown-scope", func() error {
					in := partnerDaily("1")
					in.Scope = "bank"
					_, err := s.Propose(ctx, maker, in)
					return err
				}, problem.CodeValidation, "scope must be platform, partner, app or customer"},
				{"fail/unknown-environment", func() error {
					in := partnerDaily("1")
					in.Environment = "staging"
					_, err := s.Propose(ctx, maker, in)
					return err
				}, problem.CodeValidation, "environment must be sandbox or production"},
				{"fail/velocity-without-window", func() error {
					_, err := s.Propose(ctx, maker, limits.ProposalInput{Op: limits.OpCreate, Environment: "production", Currency: "GBP",
						Scope: "platform", Kind: "velocity", Count: "3", WindowSeconds: "0", Reason: "r"})
					return err
				}, problem.CodeValidation, "window must be whole seconds between 1 and 2678400"},
				{"fail/velocity-count-not-a-number", func() error {
					_, err := s.Propose(ctx, maker, limits.ProposalInput{Op: limits.OpCreate, Environment: "production", Currency: "GBP",
						Scope: "platform", Kind: "velocity", Count: "three", WindowSeconds: "60", Reason: "r"})
					return err
				}, problem.CodeValidation, "count must be a whole number of payments"},
				{"fail/change-unknown-rule", func() error {
					_, err := s.Propose(ctx, maker, limits.ProposalInput{Op: limits.OpChange, RuleID: "lim_nope", Amount: "1", Reason: "r"})
					return err
				}, problem.CodeNotFound, "no limit rule lim_nope"},
				{"fail/change-to-zero", func() error {
					_, err := s.Propose(ctx, maker, withRule(limits.ProposalInput{Amount: "0", Reason: "r"}))
					return err
				},
					problem.CodeValidation, "amount must be positive"},
			} {
				t.Run(tc.name, func(t *testing.T) { wantProblem(t, tc.call(), tc.code, tc.detail) })
			}
		})

		t.Run("ok/reject-changes-nothing", func(t *testing.T) {
			before, _ := s.List(ctx, admin, "")
			p := mustPropose(t, s, maker, limits.ProposalInput{Op: limits.OpCreate, Environment: "production", Currency: "EUR",
				Scope: "platform", Kind: "per_payment", Amount: "5.00", Reason: "r"})
			got, err := s.Reject(ctx, checker, p.ID, "too tight")
			if err != nil || got.Status != limits.ProposalRejected || got.DecidedBy != checker.ID || got.DecisionNote != "too tight" {
				t.Fatalf("%+v %v", got, err)
			}
			if after, _ := s.List(ctx, admin, ""); len(after) != len(before) {
				t.Fatalf("a rejected proposal changed the rules: %d → %d", len(before), len(after))
			}
		})
	})
}

// TestParallelApprovals: two checkers approving one proposal at once: one
// wins, the other is told it is already approved; the rule exists once.
func TestParallelApprovals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newService(t, d, cachebus.NewLocal())
		for round := 0; round < 5; round++ {
			in := limits.ProposalInput{Op: limits.OpCreate, Environment: "production", Currency: "GBP", Scope: "app",
				SubjectID: "app_" + string(rune('a'+round)), Kind: "per_day", Amount: "100", Reason: "r"}
			p := mustPropose(t, s, maker, in)
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				a := checker
				if i%2 == 1 {
					a = admin
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = s.Approve(ctx, a, p.ID)
				}()
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				if err == nil {
					wins++
					continue
				}
				var pe *problem.Error
				if !errors.As(err, &pe) || pe.Code != problem.CodeInvalidState || pe.Detail != "limit proposal "+p.ID+" is already approved" {
					t.Fatalf("round %d: loser got %v", round, err)
				}
			}
			if wins != 1 {
				t.Fatalf("round %d: %d approvals won", round, wins)
			}
		}
		rs, err := s.List(ctx, admin, environment.Production)
		if err != nil || len(rs) != 5 {
			t.Fatalf("%d rules, %v", len(rs), err)
		}
	})
}
