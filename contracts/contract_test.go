package contracts_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

func TestTermsValidate(t *testing.T) {
	fe := func(field, reason string) contracts.FieldError {
		return contracts.FieldError{Field: field, Reason: reason}
	}
	for _, tc := range []struct {
		name   string
		change func(*contracts.Terms)
		want   []contracts.FieldError
	}{
		{"ok/standard", func(*contracts.Terms) {}, nil},
		{"ok/no-fees-no-share", func(t *contracts.Terms) {
			t.FeeSchedule = contracts.FeeSchedule{}
			t.RevenueShare = contracts.RevenueShare{}
		}, nil},
		{"fail/end-before-start", func(t *contracts.Terms) { t.End = t.Start }, []contracts.FieldError{fe("end", "must be after start")}},
		{"fail/missing-dates", func(t *contracts.Terms) { t.Start, t.End = time.Time{}, time.Time{} },
			[]contracts.FieldError{fe("start", "is required"), fe("end", "is required")}},
		{"fail/currency-lower", func(t *contracts.Terms) { t.Currency = "eur" },
			[]contracts.FieldError{fe("currency", "must be an ISO 4217 code of three upper-case letters")}},
		{"fail/currency-long", func(t *contracts.Terms) { t.Currency = "EURO" },
			[]contracts.FieldError{fe("currency", "must be an ISO 4217 code of three upper-case letters")}},
		{"fail/notice-negative", func(t *contracts.Terms) { t.NoticeDays = -1 }, []contracts.FieldError{fe("notice_days", "must be between 0 and 3650")}},
		{"fail/tier-gap", func(t *contracts.Terms) { t.FeeSchedule.CallFees[0].Tiers[1].From = 1001 },
			[]contracts.FieldError{fe("fee_schedule.call_fees[0].tiers[1].from", "must equal the previous tier's to (1000)")}},
		{"fail/tier-not-starting-at-zero", func(t *contracts.Terms) { t.FeeSchedule.CallFees[0].Tiers[0].From = 1 },
			[]contracts.FieldError{fe("fee_schedule.call_fees[0].tiers[0].from", "the first tier must start at 0")}},
		{"fail/tier-descending", func(t *contracts.Terms) {
			t.FeeSchedule.CallFees[0].Tiers = []contracts.Tier{{From: 0, To: 1000}, {From: 1000, To: 500}, {From: 500}}
		}, []contracts.FieldError{fe("fee_schedule.call_fees[0].tiers[1].to", "must be greater than from")}},
		{"fail/tier-last-bounded", func(t *contracts.Terms) { t.FeeSchedule.CallFees[0].Tiers[1].To = 5000 },
			[]contracts.FieldError{fe("fee_schedule.call_fees[0].tiers[1].to", "the last tier must be unbounded (0)")}},
		{"fail/tier-middle-unbounded", func(t *contracts.Terms) { t.FeeSchedule.CallFees[0].Tiers[0].To = 0 },
			[]contracts.FieldError{fe("fee_schedule.call_fees[0].tiers[0].to", "only the last tier may be unbounded")}},
		{"fail/tier-negative-price", func(t *contracts.Terms) { t.FeeSchedule.CallFees[0].Tiers[0].UnitPriceMicros = -1 },
			[]contracts.FieldError{fe("fee_schedule.call_fees[0].tiers[0].unit_price_micros", "must be between 0 and 1000000000000")}},
		{"fail/no-tiers", func(t *contracts.Terms) { t.FeeSchedule.CallFees[1].Tiers = nil },
			[]contracts.FieldError{fe("fee_schedule.call_fees[1].tiers", "at least one tier is required")}},
		{"fail/duplicate-product", func(t *contracts.Terms) { t.FeeSchedule.CallFees[1].Product = "accounts" },
			[]contracts.FieldError{fe("fee_schedule.call_fees[1].product", `duplicate product "accounts"`)}},
		{"fail/bad-product", func(t *contracts.Terms) { t.FeeSchedule.CallFees[1].Product = "Pay Ments" },
			[]contracts.FieldError{fe("fee_schedule.call_fees[1].product", "must be a lower-case product name")}},
		{"fail/payment-bps-over-100pct", func(t *contracts.Terms) { t.FeeSchedule.PaymentFee.BPS = 10001 },
			[]contracts.FieldError{fe("fee_schedule.payment_fee.bps", "must be between 0 and 10000")}},
		{"fail/payment-fixed-negative", func(t *contracts.Terms) { t.FeeSchedule.PaymentFee.FixedMinor = -1 },
			[]contracts.FieldError{fe("fee_schedule.payment_fee.fixed_minor", "must be between 0 and 1000000000")}},
		{"fail/minimum-negative", func(t *contracts.Terms) { t.FeeSchedule.MonthlyMinimum = -1 },
			[]contracts.FieldError{fe("fee_schedule.monthly_minimum", "must be between 0 and 1000000000000000")}},
		{"fail/price-too-high", func(t *contracts.Terms) {
			t.FeeSchedule.CallFees[0].Tiers[1].UnitPriceMicros = contracts.MaxUnitPriceMicros + 1
		},
			[]contracts.FieldError{fe("fee_schedule.call_fees[0].tiers[1].unit_price_micros", "must be between 0 and 1000000000000")}},
		{"fail/bound-too-high", func(t *contracts.Terms) {
			t.FeeSchedule.CallFees[0].Tiers[0].To, t.FeeSchedule.CallFees[0].Tiers[1].From = contracts.MaxBandBound+1, contracts.MaxBandBound+1
		}, []contracts.FieldError{fe("fee_schedule.call_fees[0].tiers[0].to", "must be at most 1000000000000000000"),
			fe("fee_schedule.call_fees[0].tiers[1].from", "must be between 0 and 1000000000000000000")}},
		{"fail/share-bps-negative", func(t *contracts.Terms) { t.RevenueShare.Tiers[0].BPS = -1 },
			[]contracts.FieldError{fe("revenue_share.tiers[0].bps", "must be between 0 and 10000")}},
		{"fail/share-gap", func(t *contracts.Terms) { t.RevenueShare.Tiers[1].From = 2_000_000 },
			[]contracts.FieldError{fe("revenue_share.tiers[1].from", "must equal the previous tier's to (1000000)")}},
		{"fail/scope-duplicate-and-bad", func(t *contracts.Terms) { t.DataScopes = []string{"balances", "balances", "Bad Name"} },
			[]contracts.FieldError{fe("data_scopes[1]", `duplicate dataset "balances"`), fe("data_scopes[2]", "must be a lower-case dataset name")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			terms := standardTerms()
			tc.change(&terms)
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

func TestContractLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		pm := contracts.Actor{ID: "stf_pm", Role: staff.RolePartnerManager}
		c, err := e.s.Draft(ctx, pm, "ptn_a", standardTerms())
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != contracts.StatusDraft || c.LatestVersion != 1 || c.ActiveVersion != 0 {
			t.Fatalf("draft %+v", c)
		}
		if ok, _ := e.s.HasActiveContract(ctx, "ptn_a"); ok {
			t.Fatal("draft counts as active")
		}
		_, err = e.s.Draft(ctx, maker, "ptn_a", standardTerms())
		wantProblem(t, err, problem.CodeConflict, "partner ptn_a already has an open contract")

		// partner managers draft but do not edit or approve
		_, err = e.s.Update(ctx, pm, c.ID, standardTerms())
		wantProblem(t, err, problem.CodeForbidden, `role "partner_manager" may not edit contracts`)
		terms := standardTerms()
		terms.FeeSchedule.MonthlyMinimum = 7000
		if _, err := e.s.Update(ctx, maker, c.ID, terms); err != nil {
			t.Fatal(err)
		}
		_, err = e.s.Approve(ctx, checker, c.ID)
		wantProblem(t, err, problem.CodeInvalidState, "contract "+c.ID+" is draft and cannot be approved")
		if _, err := e.s.Submit(ctx, pm, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.s.Submit(ctx, pm, c.ID)
		wantProblem(t, err, problem.CodeInvalidState, "contract "+c.ID+" is pending_approval and cannot be submitted")
		_, err = e.s.Update(ctx, maker, c.ID, terms)
		wantProblem(t, err, problem.CodeInvalidState, "contract "+c.ID+" is pending_approval and cannot be edited")
		_, err = e.s.Approve(ctx, pm, c.ID)
		wantProblem(t, err, problem.CodeForbidden, `role "partner_manager" may not approve contracts`)
		_, err = e.s.Approve(ctx, contracts.Actor{ID: "stf_pm", Role: staff.RoleFinance}, c.ID)
		wantProblem(t, err, problem.CodeMakerChecker, "version 1 of contract "+c.ID+" was submitted by stf_pm, who cannot also approve it")

		// reject, fix, resubmit, approve
		_, err = e.s.Reject(ctx, checker, c.ID, " ")
		wantFields(t, err, "a rejection needs a reason", contracts.FieldError{Field: "reason", Reason: "is required"})
		v, err := e.s.Reject(ctx, checker, c.ID, "minimum too low")
		if err != nil || v.Status != contracts.StatusDraft || v.RejectionReason != "minimum too low" {
			t.Fatalf("reject %+v %v", v, err)
		}
		if _, err := e.s.Submit(ctx, maker, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.s.Approve(ctx, maker, c.ID)
		wantProblem(t, err, problem.CodeMakerChecker, "version 1 of contract "+c.ID+" was submitted by stf_maker, who cannot also approve it")
		c, err = e.s.Approve(ctx, checker, c.ID)
		if err != nil || c.Status != contracts.StatusActive || c.ActiveVersion != 1 {
			t.Fatalf("approve %+v %v", c, err)
		}
		if !reflect.DeepEqual(e.hook.marked, []string{"ptn_a"}) {
			t.Fatalf("hook %v", e.hook.marked)
		}
		if ok, err := e.s.HasActiveContract(ctx, "ptn_a"); !ok || err != nil {
			t.Fatalf("active %v %v", ok, err)
		}
		if ok, _ := e.s.HasActiveContract(ctx, "ptn_other"); ok {
			t.Fatal("other partner active")
		}
		scope, err := e.s.DataSharingScope(ctx, "ptn_a")
		if err != nil || !reflect.DeepEqual(scope, []string{"balances", "transactions"}) {
			t.Fatalf("scope %v %v", scope, err)
		}
		if scope, _ := e.s.DataSharingScope(ctx, "ptn_other"); len(scope) != 0 {
			t.Fatalf("other scope %v", scope)
		}

		// editing an active contract makes version 2; approval supersedes version 1
		terms.DataScopes = []string{"balances"}
		v2, err := e.s.Update(ctx, maker, c.ID, terms)
		if err != nil || v2.Version != 2 || v2.Status != contracts.StatusDraft {
			t.Fatalf("v2 %+v %v", v2, err)
		}
		if scope, _ := e.s.DataSharingScope(ctx, "ptn_a"); len(scope) != 2 {
			t.Fatalf("draft version changed the scope: %v", scope)
		}
		if _, err := e.s.Submit(ctx, maker, c.ID); err != nil {
			t.Fatal(err)
		}
		if c, err = e.s.Approve(ctx, checker, c.ID); err != nil || c.ActiveVersion != 2 || c.Status != contracts.StatusActive {
			t.Fatalf("approve v2 %+v %v", c, err)
		}
		if !reflect.DeepEqual(e.hook.marked, []string{"ptn_a"}) {
			t.Fatalf("hook called again for version 2: %v", e.hook.marked)
		}
		vs, err := e.s.Versions(ctx, c.ID)
		if err != nil || len(vs) != 2 || vs[0].Status != contracts.VersionSuperseded || vs[1].Status != contracts.StatusActive ||
			vs[1].ApprovedBy != checker.ID || vs[1].SubmittedBy != maker.ID {
			t.Fatalf("versions %+v %v", vs, err)
		}
		if scope, _ := e.s.DataSharingScope(ctx, "ptn_a"); !reflect.DeepEqual(scope, []string{"balances"}) {
			t.Fatalf("scope after v2 %v", scope)
		}

		// terminate; afterwards nothing moves
		_, err = e.s.Terminate(ctx, contracts.Actor{ID: "stf_aud", Role: staff.RoleAuditor}, c.ID, "fraud")
		wantProblem(t, err, problem.CodeForbidden, `role "auditor" may not terminate contracts`)
		_, err = e.s.Terminate(ctx, contracts.Actor{Role: staff.RoleAdmin}, c.ID, "fraud")
		wantProblem(t, err, problem.CodeForbidden, "an actor is required to terminate contracts")
		_, err = e.s.Terminate(ctx, contracts.Actor{ID: "stf_x", Role: "janitor"}, c.ID, "fraud")
		wantProblem(t, err, problem.CodeForbidden, `role "janitor" may not terminate contracts`)
		_, err = e.s.Terminate(ctx, checker, c.ID, "")
		wantFields(t, err, "a termination needs a reason", contracts.FieldError{Field: "reason", Reason: "is required"})
		_, err = e.s.Reject(ctx, checker, c.ID, "nothing pending")
		wantProblem(t, err, problem.CodeInvalidState, "version 2 of contract "+c.ID+" is active, not pending_approval")
		if c, err = e.s.Terminate(ctx, checker, c.ID, "partner exit"); err != nil || c.Status != contracts.StatusTerminated || c.TerminatedAt == nil {
			t.Fatalf("terminate %+v %v", c, err)
		}
		_, err = e.s.Terminate(ctx, checker, c.ID, "again")
		wantProblem(t, err, problem.CodeInvalidState, "contract "+c.ID+" is terminated, only an active contract can be terminated")
		_, err = e.s.Update(ctx, maker, c.ID, terms)
		wantProblem(t, err, problem.CodeInvalidState, "contract "+c.ID+" is terminated and cannot be edited")
		_, err = e.s.Submit(ctx, maker, c.ID)
		wantProblem(t, err, problem.CodeInvalidState, "contract "+c.ID+" is terminated and cannot be submitted")
		if ok, _ := e.s.HasActiveContract(ctx, "ptn_a"); ok {
			t.Fatal("terminated contract active")
		}
		_, err = e.s.Approve(ctx, checker, "ctr_nope")
		wantProblem(t, err, problem.CodeNotFound, "contract ctr_nope not found")
		_, err = e.s.Draft(ctx, maker, "", terms)
		wantFields(t, err, "contract is invalid", contracts.FieldError{Field: "partner_id", Reason: "is required"})
		bad := terms
		bad.Currency = "eur"
		_, err = e.s.Draft(ctx, maker, "ptn_b", bad)
		wantFields(t, err, "contract terms is invalid", contracts.FieldError{Field: "currency", Reason: "must be an ISO 4217 code of three upper-case letters"})

		evs, _ := audit.List(ctx, d.DB, audit.Filter{ObjectType: "contract", ObjectID: c.ID})
		var acts []string
		for i := len(evs) - 1; i >= 0; i-- {
			acts = append(acts, evs[i].Action)
		}
		want := []string{"contract.drafted", "contract.updated", "contract.submitted", "contract.rejected", "contract.submitted", "contract.approved",
			"contract.version_created", "contract.submitted", "contract.approved", "contract.terminated"}
		if !reflect.DeepEqual(acts, want) {
			t.Fatalf("audit trail %v\nwant %v", acts, want)
		}
	})
}

func TestExpiryRenewalAndReminders(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		fixed := e.activeContract(t, "ptn_fixed", standardTerms()) // 2026-01-01 … 2027-01-01, 60 days notice, no renewal
		renewing := standardTerms()
		renewing.AutoRenew, renewing.NoticeDays = true, 0
		renewing.Start, renewing.End = date(2026, 1, 31), date(2026, 7, 31) // six months
		auto := e.activeContract(t, "ptn_auto", renewing)

		// reminders: fixed is due from 2027-01-01 − 90 days = 2026-10-03; auto from 2026-07-01
		got, err := e.s.RenewalReminders(ctx, date(2026, 6, 30))
		if err != nil || len(got) != 0 {
			t.Fatalf("early reminders %v %v", got, err)
		}
		dbtest.MustPartnerOwner(t, d, "ptn_auto", "owner@auto.example")
		got, _ = e.s.RenewalReminders(ctx, date(2026, 7, 1))
		if len(got) != 1 || got[0].ID != auto.ID {
			t.Fatalf("reminders %+v", got)
		}
		var mails []mail.Message
		d.Where("template = ?", "contract_renewal_reminder").Find(&mails)
		if len(mails) != 1 || mails[0].Recipient != "owner@auto.example" || mails[0].PartnerID != "ptn_auto" ||
			mails[0].Subject != "Your contract "+auto.ID+" ends on 31 July 2026" ||
			mails[0].Body != "Your contract "+auto.ID+" with the bank ends on 31 July 2026. It renews automatically unless either side gives notice by 31 July 2026 (0 days' notice)." {
			t.Fatalf("reminder mails %+v", mails)
		}
		if again, _ := e.s.RenewalReminders(ctx, date(2026, 7, 2)); len(again) != 0 {
			t.Fatalf("reminder sent twice: %+v", again)
		}
		if got, _ := e.s.ExpireDue(ctx, date(2026, 7, 30)); len(got) != 0 {
			t.Fatalf("expired early %+v", got)
		}
		got, err = e.s.ExpireDue(ctx, date(2026, 7, 31))
		if err != nil || len(got) != 1 || got[0].ID != auto.ID || got[0].Status != contracts.StatusActive || !got[0].End.Equal(date(2027, 1, 31)) {
			t.Fatalf("renewal %+v %v", got, err)
		}
		if got, _ := e.s.RenewalReminders(ctx, date(2026, 10, 3)); len(got) != 1 || got[0].ID != fixed.ID {
			t.Fatalf("fixed reminder %+v", got)
		}
		// the renewed term gets its own reminder, 30 days before its end
		if got, _ := e.s.RenewalReminders(ctx, date(2026, 12, 31)); len(got) != 0 {
			t.Fatalf("reminders too early in new term %+v", got)
		}
		if got, _ := e.s.RenewalReminders(ctx, date(2027, 1, 1)); len(got) != 1 || got[0].ID != auto.ID {
			t.Fatalf("reminders in new term %+v", got)
		}
		if got, _ := e.s.RenewalReminders(ctx, date(2027, 1, 1)); len(got) != 0 {
			t.Fatalf("reminders again %+v", got)
		}
		// a long outage renews as many terms as needed
		got, _ = e.s.ExpireDue(ctx, date(2028, 3, 1))
		byID := map[string]contracts.Contract{}
		for _, c := range got {
			byID[c.ID] = c
		}
		if byID[auto.ID].Status != contracts.StatusActive || !byID[auto.ID].End.Equal(date(2028, 7, 31)) {
			t.Fatalf("auto after outage %+v", byID[auto.ID])
		}
		if byID[fixed.ID].Status != contracts.StatusExpired {
			t.Fatalf("fixed %+v", byID[fixed.ID])
		}
		_, err = e.s.Update(ctx, maker, fixed.ID, standardTerms())
		wantProblem(t, err, problem.CodeInvalidState, "contract "+fixed.ID+" is expired and cannot be edited")
		evs, _ := audit.List(ctx, d.DB, audit.Filter{Action: "contract.renewed"})
		if len(evs) != 2 {
			t.Fatalf("renewal audit %d", len(evs))
		}
	})
}

type failingHook struct{}

func (failingHook) MarkContracted(context.Context, string) error {
	return errors.New("partner not approved yet")
}

func TestApproveHookFailure(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := contracts.New(d, contracts.Options{Partners: failingHook{}, Now: func() time.Time { return date(2026, 2, 1) }})
		c, err := s.Draft(ctx, maker, "ptn_a", standardTerms())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Submit(ctx, maker, c.ID); err != nil {
			t.Fatal(err)
		}
		got, err := s.Approve(ctx, checker, c.ID)
		if err == nil || err.Error() != "contracts: contract "+c.ID+" is active but marking partner ptn_a contracted failed: partner not approved yet" {
			t.Fatalf("err %v", err)
		}
		if got.Status != contracts.StatusActive {
			t.Fatalf("contract %+v", got)
		}
		if ok, _ := s.HasActiveContract(ctx, "ptn_a"); !ok {
			t.Fatal("approval rolled back by the hook")
		}
	})
}

// TestCanRead: every staff role reads contracts (risk_officer included),
// the platform too; nobody else.
func TestCanRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		actor  contracts.Actor
		detail string
	}{
		{"ok/admin", contracts.Actor{ID: "stf_a", Role: staff.RoleAdmin}, ""},
		{"ok/partner-manager", contracts.Actor{ID: "stf_pm", Role: staff.RolePartnerManager}, ""},
		{"ok/risk-officer", contracts.Actor{ID: "stf_risk", Role: staff.RoleRiskOfficer}, ""},
		{"ok/finance", contracts.Actor{ID: "stf_fin", Role: staff.RoleFinance}, ""},
		{"ok/auditor", contracts.Actor{ID: "stf_aud", Role: staff.RoleAuditor}, ""},
		{"ok/system", contracts.SystemActor, ""},
		{"fail/member-role", contracts.Actor{ID: "usr_x", Role: "owner"}, `role "owner" may not read contracts`},
		{"fail/no-actor", contracts.Actor{Role: staff.RoleAdmin}, "an actor is required to read contracts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := contracts.CanRead(tc.actor)
			if tc.detail == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantProblem(t, err, problem.CodeForbidden, tc.detail)
		})
	}
}
