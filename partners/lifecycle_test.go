package partners

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

func TestCanTransition(t *testing.T) {
	legal := map[[2]Status]bool{}
	for from, tos := range transitions {
		for _, to := range tos {
			legal[[2]Status{from, to}] = true
		}
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			want := legal[[2]Status{from, to}]
			switch {
			case to == StatusSuspended:
				want = from != StatusSuspended && from != StatusTerminated
			case to == StatusTerminated:
				want = from != StatusTerminated
			case from == StatusSuspended:
				want = true
			}
			if got := CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
}

// lifecycleOp is one staff or portal operation and the statuses it is legal from.
type lifecycleOp struct {
	name  string
	legal []Status
	// detail is the refusal detail from a status.
	detail func(from Status) string
	run    func(e *env, f *opFixture) error
}

type opFixture struct {
	ownerID, partnerID, appID string
	maker, checker            string
	requestID                 string
}

func needs(op string, need ...Status) func(Status) string {
	return func(from Status) string {
		names := make([]string, len(need))
		for i, n := range need {
			names[i] = string(n)
		}
		return fmt.Sprintf("cannot %s: partner is %s (needs %s)", op, from, strings.Join(names, " or "))
	}
}

func TestLifecycleEveryTransition(t *testing.T) {
	ops := []lifecycleOp{
		{"submit", []Status{StatusSandbox}, needs("submit an application", StatusSandbox),
			func(e *env, f *opFixture) error {
				_, err := e.s.SubmitApplication(ctx, f.ownerID, f.partnerID, application)
				return err
			}},
		{"start_review", []Status{StatusApplied}, needs("start a review", StatusApplied),
			func(e *env, f *opFixture) error { return e.s.StartReview(ctx, f.maker, f.partnerID) }},
		{"due_diligence", []Status{StatusUnderReview}, needs("record due diligence", StatusUnderReview),
			func(e *env, f *opFixture) error {
				_, err := e.s.RecordDueDiligence(ctx, f.checker, f.partnerID, goodDD)
				return err
			}},
		{"decide", []Status{StatusUnderReview}, needs("decide the application", StatusUnderReview),
			func(e *env, f *opFixture) error {
				return e.s.DecideApplication(ctx, f.maker, f.partnerID, DecisionRejected, "incomplete business plan")
			}},
		{"mark_contracted", []Status{StatusApproved}, needs("mark contracted", StatusApproved),
			func(e *env, f *opFixture) error { return e.s.MarkContracted(ctx, f.partnerID) }},
		{"certify", []Status{StatusContracted, StatusCertified}, needs("record a certification", StatusContracted, StatusCertified),
			func(e *env, f *opFixture) error {
				_, err := e.s.RecordCertification(ctx, f.maker, f.partnerID, f.appID)
				return err
			}},
		{"request_go_live", []Status{StatusCertified}, needs("request go-live", StatusCertified),
			func(e *env, f *opFixture) error {
				_, err := e.s.RequestGoLive(ctx, f.maker, f.partnerID)
				return err
			}},
		{"approve_go_live", []Status{StatusCertified}, needs("approve go-live", StatusCertified),
			func(e *env, f *opFixture) error { return e.s.ApproveGoLive(ctx, f.checker, f.requestID) }},
		{"request_reinstate", []Status{StatusSuspended}, needs("request reinstatement", StatusSuspended),
			func(e *env, f *opFixture) error {
				_, err := e.s.RequestReinstate(ctx, f.maker, f.partnerID, "remediated")
				return err
			}},
		{"approve_reinstate", []Status{StatusSuspended}, needs("reinstate", StatusSuspended),
			func(e *env, f *opFixture) error { return e.s.ApproveReinstate(ctx, f.checker, f.requestID) }},
		{"suspend", slices.DeleteFunc(slices.Clone(Statuses), func(s Status) bool { return s == StatusSuspended || s == StatusTerminated }),
			func(from Status) string { return "cannot suspend: partner is " + string(from) },
			func(e *env, f *opFixture) error { return e.s.Suspend(ctx, f.maker, f.partnerID, "fraud alert") }},
		{"terminate", slices.DeleteFunc(slices.Clone(Statuses), func(s Status) bool { return s == StatusTerminated }),
			func(from Status) string { return "cannot terminate: partner is " + string(from) },
			func(e *env, f *opFixture) error { return e.s.Terminate(ctx, f.maker, f.partnerID, "contract ended") }},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		admin1, _ := e.staff(staff.RoleAdmin)
		admin2, _ := e.staff(staff.RoleAdmin)
		n := 0
		for _, op := range ops {
			for _, from := range Statuses {
				name := "fail/"
				if slices.Contains(op.legal, from) {
					name = "ok/"
				}
				t.Run(name+op.name+"/from_"+string(from), func(t *testing.T) {
					n++
					e.t = t
					f := &opFixture{maker: admin1, checker: admin2}
					f.ownerID, f.partnerID = e.signUp(fmt.Sprintf("o%d@acme.example", n), "Acme")
					app, err := e.s.CreateApp(ctx, f.ownerID, f.partnerID, sandboxApp(t))
					mustOK(t, err)
					f.appID = app.ID
					_, err = e.s.SubmitApplication(ctx, f.ownerID, f.partnerID, application)
					mustOK(t, err)
					switch op.name {
					case "approve_go_live":
						e.force(f.partnerID, StatusCertified, "")
						mustOK(t, d.Create(&CertificationRun{ID: "crt_" + f.partnerID, PartnerID: f.partnerID, AppID: f.appID,
							RunBy: admin1, StartedAt: e.clock.now(), FinishedAt: e.clock.now(), Result: CertPassed, Checks: passingChecks}).Error)
						r, err := e.s.RequestGoLive(ctx, admin1, f.partnerID)
						mustOK(t, err)
						f.requestID = r.ID
					case "approve_reinstate":
						e.force(f.partnerID, StatusSuspended, StatusLive)
						r, err := e.s.RequestReinstate(ctx, admin1, f.partnerID, "remediated")
						mustOK(t, err)
						f.requestID = r.ID
					}
					from := from
					sf := Status("")
					if from == StatusSuspended {
						sf = StatusLive
					}
					e.force(f.partnerID, from, sf)
					err = op.run(e, f)
					if slices.Contains(op.legal, from) {
						mustOK(t, err)
						if e.status(f.partnerID) == from && op.name != "due_diligence" && op.name != "request_go_live" &&
							op.name != "request_reinstate" && !(op.name == "certify" && from == StatusCertified) {
							t.Fatalf("status still %s", from)
						}
						return
					}
					wantProblem(t, err, problem.CodeInvalidState, op.detail(from))
					if got := e.status(f.partnerID); got != from {
						t.Fatalf("status changed to %s on a refused operation", got)
					}
				})
			}
		}
	})
}

func TestHappyLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		contracts := &contractSet{m: map[string]bool{}}
		e := newEnv(t, d, func(c *Config) { c.Contracts = contracts })
		pm, _ := e.staff(staff.RolePartnerManager)
		risk, _ := e.staff(staff.RoleRiskOfficer)
		owner, pid := e.signUp("owner@acme.example", "Acme")
		sb, err := e.s.CreateApp(ctx, owner, pid, sandboxApp(t))
		mustOK(t, err)

		_, err = e.s.SubmitApplication(ctx, owner, pid, application)
		mustOK(t, err)
		mustOK(t, e.s.StartReview(ctx, pm, pid))
		_, err = e.s.RecordDueDiligence(ctx, risk, pid, goodDD)
		mustOK(t, err)
		mustOK(t, e.s.DecideApplication(ctx, pm, pid, DecisionApproved, ""))
		mustOK(t, e.s.MarkContracted(ctx, pid))
		run, err := e.s.RecordCertification(ctx, pm, pid, sb.ID)
		mustOK(t, err)
		if run.Result != CertPassed || len(run.Checks) != 2 || e.status(pid) != StatusCertified {
			t.Fatalf("certification run %+v, status %s", run, e.status(pid))
		}
		req, err := e.s.RequestGoLive(ctx, pm, pid)
		mustOK(t, err)
		_, err = e.s.RequestGoLive(ctx, pm, pid)
		wantProblem(t, err, problem.CodeConflict, "a go_live request for partner "+pid+" is already pending")

		wantProblem(t, e.s.ApproveGoLive(ctx, risk, req.ID), problem.CodeInvalidState, "cannot approve go-live: the partner has no active contract")
		contracts.m[pid] = true
		mustOK(t, e.s.ApproveGoLive(ctx, risk, req.ID))
		if e.status(pid) != StatusLive {
			t.Fatalf("status %s", e.status(pid))
		}
		wantProblem(t, e.s.ApproveGoLive(ctx, risk, req.ID), problem.CodeInvalidState, "approval request "+req.ID+" is already approved")

		prod, err := e.s.CreateApp(ctx, owner, pid, prodApp(t))
		mustOK(t, err)
		c, err := e.s.OAuthClient(ctx, prod.ID)
		mustOK(t, err)
		if !c.Active || c.PartnerName != "Acme Payments Ltd" || c.Environment != environment.Production {
			t.Fatalf("client %+v", c)
		}

		// Suspension: inactive at once (cache entry dropped), tokens revoked, event published.
		mustOK(t, e.s.Suspend(ctx, risk, pid, "suspicious payment pattern"))
		c, err = e.s.OAuthClient(ctx, prod.ID)
		mustOK(t, err)
		if c.Active {
			t.Fatal("client still active after suspension")
		}
		if got := e.rev.list(); !slices.Contains(got, prod.ID) || !slices.Contains(got, sb.ID) {
			t.Fatalf("revoked %v", got)
		}
		p, _ := e.s.Partner(ctx, pid)
		if p.StatusReason != "suspicious payment pattern" || p.SuspendedFrom != StatusLive {
			t.Fatalf("partner %+v", p)
		}
		// The suspension is an incident: the risk rating goes to high, with
		// the suspension as its source, in the same transaction.
		if h, err := e.s.RiskHistory(ctx, pid); err != nil || p.RiskRating != RiskHigh || len(h) != 1 ||
			h[0].Source != "suspension:"+pid || h[0].Reason != "suspended: suspicious payment pattern" || h[0].Previous != RiskMedium || h[0].ActorID != risk {
			t.Fatalf("rating %q history %+v %v", p.RiskRating, h, err)
		}
		// Reinstatement is maker-checker.
		rr, err := e.s.RequestReinstate(ctx, pm, pid, "investigation closed")
		mustOK(t, err)
		wantProblem(t, e.s.ApproveReinstate(ctx, pm, rr.ID), problem.CodeMakerChecker,
			"the reinstate request must be decided by another staff member than the one who made it")
		mustOK(t, e.s.ApproveReinstate(ctx, risk, rr.ID))
		if e.status(pid) != StatusLive {
			t.Fatalf("status %s after reinstatement", e.status(pid))
		}
		if c, _ = e.s.OAuthClient(ctx, prod.ID); !c.Active {
			t.Fatal("client inactive after reinstatement")
		}

		evs := e.pub.list()
		var changes []string
		for _, ev := range evs {
			if strings.HasPrefix(ev, EventPartnerStatusChanged) {
				changes = append(changes, ev)
			}
		}
		want := []string{"applied", "under_review", "approved", "contracted", "certified", "live", "suspended", "live"}
		if len(changes) != len(want) {
			t.Fatalf("status events %d, want %d: %v", len(changes), len(want), changes)
		}
		for i, w := range want {
			if !strings.Contains(changes[i], `"to":"`+w+`"`) {
				t.Fatalf("event %d = %s, want to %s", i, changes[i], w)
			}
		}
		trail, err := audit.List(ctx, d.DB, audit.Filter{PartnerID: pid, Action: "partner.status_changed", Limit: 100})
		mustOK(t, err)
		if len(trail) != len(want) {
			t.Fatalf("audit has %d status changes, want %d", len(trail), len(want))
		}

		mustOK(t, e.s.Terminate(ctx, pm, pid, "partnership ended"))
		if c, _ = e.s.OAuthClient(ctx, sb.ID); c.Active {
			t.Fatal("sandbox client active after termination")
		}
	})
}

func TestApplicationDecisions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		pm, _ := e.staff(staff.RolePartnerManager)
		risk, _ := e.staff(staff.RoleRiskOfficer)
		owner, pid := e.signUp("owner@acme.example", "Acme")
		_, err := e.s.SubmitApplication(ctx, owner, pid, application)
		mustOK(t, err)
		mustOK(t, e.s.StartReview(ctx, pm, pid))

		wantProblem(t, e.s.DecideApplication(ctx, pm, pid, DecisionApproved, ""), problem.CodeInvalidState,
			"cannot approve: no due diligence scorecard recorded")
		bad := goodDD
		bad.IndustryStanding = 6
		_, err = e.s.RecordDueDiligence(ctx, risk, pid, bad)
		wantProblem(t, err, problem.CodeValidation, "industry_standing must be a score from 1 to 5, got 6")
		bad = goodDD
		bad.AMLResult = "maybe"
		_, err = e.s.RecordDueDiligence(ctx, risk, pid, bad)
		wantProblem(t, err, problem.CodeValidation, `aml_result must be clear, review or hit, got "maybe"`)
		_, err = e.s.RecordDueDiligence(ctx, pm, pid, goodDD)
		wantProblem(t, err, problem.CodeForbidden, "role partner_manager may not due_diligence.record")

		hit := goodDD
		hit.AMLResult = AMLHit
		_, err = e.s.RecordDueDiligence(ctx, risk, pid, hit)
		mustOK(t, err)
		wantProblem(t, e.s.DecideApplication(ctx, pm, pid, DecisionApproved, ""), problem.CodeInvalidState,
			"cannot approve: AML screening is hit (needs clear)")
		unverified := goodDD
		unverified.LicenceVerified = false
		_, err = e.s.RecordDueDiligence(ctx, risk, pid, unverified) // replaces the scorecard
		mustOK(t, err)
		wantProblem(t, e.s.DecideApplication(ctx, pm, pid, DecisionApproved, ""), problem.CodeInvalidState,
			"cannot approve: the licence is not verified")
		wantProblem(t, e.s.DecideApplication(ctx, pm, pid, DecisionRejected, " "), problem.CodeValidation,
			"reasons are required to reject an application (the partner sees them)")
		wantProblem(t, e.s.DecideApplication(ctx, risk, pid, DecisionRejected, "x"), problem.CodeForbidden,
			"role risk_officer may not applications.decide")

		mustOK(t, e.s.DecideApplication(ctx, pm, pid, DecisionRejected, "Licence could not be verified"))
		p, _, err := e.s.PartnerForMember(ctx, owner, pid)
		mustOK(t, err)
		if p.Status != StatusSandbox || p.StatusReason != "Licence could not be verified" {
			t.Fatalf("partner after rejection: %s %q", p.Status, p.StatusReason)
		}
		dd, err := e.s.DueDiligenceFor(ctx, pid)
		mustOK(t, err)
		if dd.Decision != DecisionRejected || dd.DecidedBy != pm || dd.ReviewerID != risk {
			t.Fatalf("scorecard %+v", dd)
		}
		// The partner may apply again.
		_, err = e.s.SubmitApplication(ctx, owner, pid, application)
		mustOK(t, err)
	})
}

func TestGoLiveRequirements(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		pm, _ := e.staff(staff.RolePartnerManager)
		risk, _ := e.staff(staff.RoleRiskOfficer)
		admin, _ := e.staff(staff.RoleAdmin)
		cases := []struct {
			name   string
			setup  func(pid, appID string)
			maker  string
			check  string
			code   problem.Code
			detail string
		}{
			{"fail/no-certification-run", func(pid, _ string) { e.force(pid, StatusCertified, "") }, pm, risk,
				problem.CodeInvalidState, "cannot approve go-live: the latest certification run has not passed"},
			{"fail/latest-run-failed", func(pid, appID string) {
				e.force(pid, StatusContracted, "")
				_, err := e.s.RecordCertification(ctx, pm, pid, appID)
				mustOK(t, err)
				e.force(pid, StatusCertified, "")
				e.clock.advance(time.Minute)
				e.ev.checks = []CertificationCheck{{Name: "dpop", Passed: false, Detail: "no DPoP proof seen"}}
				run, err := e.s.RecordCertification(ctx, pm, pid, appID)
				e.ev.checks = passingChecks
				mustOK(t, err)
				if run.Result != CertFailed {
					t.Fatalf("run %+v", run)
				}
			}, pm, risk, problem.CodeInvalidState, "cannot approve go-live: the latest certification run has not passed"},
			{"fail/self-approval", func(pid, appID string) {
				e.force(pid, StatusContracted, "")
				_, err := e.s.RecordCertification(ctx, pm, pid, appID)
				mustOK(t, err)
			}, admin, admin, problem.CodeMakerChecker, "the go_live request must be decided by another staff member than the one who made it"},
			{"fail/checker-role", func(pid, appID string) {
				e.force(pid, StatusContracted, "")
				_, err := e.s.RecordCertification(ctx, pm, pid, appID)
				mustOK(t, err)
			}, admin, pm, problem.CodeForbidden, "role partner_manager may not go_live.approve"},
			{"ok/certified", func(pid, appID string) {
				e.force(pid, StatusContracted, "")
				_, err := e.s.RecordCertification(ctx, pm, pid, appID)
				mustOK(t, err)
			}, pm, risk, "", ""},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e.t = t
				owner, pid := e.signUp(fmt.Sprintf("golive%d@acme.example", i), "Acme")
				app, err := e.s.CreateApp(ctx, owner, pid, sandboxApp(t))
				mustOK(t, err)
				tc.setup(pid, app.ID)
				req, err := e.s.RequestGoLive(ctx, tc.maker, pid)
				mustOK(t, err)
				err = e.s.ApproveGoLive(ctx, tc.check, req.ID)
				if tc.code == "" {
					mustOK(t, err)
					if e.status(pid) != StatusLive {
						t.Fatalf("status %s", e.status(pid))
					}
					return
				}
				wantProblem(t, err, tc.code, tc.detail)
				if e.status(pid) != StatusCertified {
					t.Fatalf("status %s", e.status(pid))
				}
			})
		}
		// Rejecting a request needs reasons and leaves the partner certified.
		owner, pid := e.signUp("reject@acme.example", "Acme")
		app, err := e.s.CreateApp(ctx, owner, pid, sandboxApp(t))
		mustOK(t, err)
		e.force(pid, StatusContracted, "")
		_, err = e.s.RecordCertification(ctx, pm, pid, app.ID)
		mustOK(t, err)
		req, err := e.s.RequestGoLive(ctx, pm, pid)
		mustOK(t, err)
		wantProblem(t, e.s.DecideApproval(ctx, risk, req.ID, false, ""), problem.CodeValidation, "reasons are required to reject a request")
		mustOK(t, e.s.DecideApproval(ctx, risk, req.ID, false, "evidence incomplete"))
		pending, err := e.s.Approvals(ctx, ApprovalPending)
		mustOK(t, err)
		if slices.ContainsFunc(pending, func(r ApprovalRequest) bool { return r.PartnerID == pid }) {
			t.Fatalf("pending %v", pending)
		}
	})
}

func TestStaffRoles(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		auditor, _ := e.staff(staff.RoleAuditor)
		finance, _ := e.staff(staff.RoleFinance)
		risk, _ := e.staff(staff.RoleRiskOfficer)
		owner, pid := e.signUp("owner@acme.example", "Acme")
		app, err := e.s.CreateApp(ctx, owner, pid, sandboxApp(t))
		mustOK(t, err)
		cases := []struct {
			name   string
			run    func() error
			detail string
		}{
			{"fail/auditor-suspends", func() error { return e.s.Suspend(ctx, auditor, pid, "x") }, "role auditor may not partners.suspend"},
			{"fail/auditor-suspends-app", func() error { return e.s.SuspendApp(ctx, auditor, app.ID, "x") }, "role auditor may not partners.suspend"},
			{"fail/finance-reviews", func() error { return e.s.StartReview(ctx, finance, pid) }, "role finance may not applications.review"},
			{"fail/risk-terminates", func() error { return e.s.Terminate(ctx, risk, pid, "x") }, "role risk_officer may not partners.terminate"},
			{"fail/risk-requests-go-live", func() error { _, err := e.s.RequestGoLive(ctx, risk, pid); return err }, "role risk_officer may not go_live.request"},
			{"fail/auditor-creates-staff", func() error {
				_, err := e.s.Staff().Create(ctx, auditor, "x@bank.example", staff.RoleAdmin)
				return err
			}, "role auditor may not staff.manage"},
			{"fail/unknown-staff", func() error { return e.s.Suspend(ctx, "stf_nobody", pid, "x") }, "unknown staff member stf_nobody"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) { wantProblem(t, tc.run(), problem.CodeForbidden, tc.detail) })
		}
		if e.status(pid) != StatusSandbox {
			t.Fatal("status changed")
		}
		// Risk officers may suspend (and the app suspension publishes app.suspended).
		mustOK(t, e.s.SuspendApp(ctx, risk, app.ID, "key leaked"))
		if c, _ := e.s.OAuthClient(ctx, app.ID); c.Active {
			t.Fatal("suspended app active")
		}
		found := false
		for _, ev := range e.pub.list() {
			found = found || strings.HasPrefix(ev, EventAppSuspended+" "+pid+" "+app.ID)
		}
		if !found {
			t.Fatalf("no app.suspended event: %v", e.pub.list())
		}
		if h, err := e.s.RiskHistory(ctx, pid); err != nil || len(h) != 1 || h[0].Rating != RiskHigh ||
			h[0].Source != "suspension:"+app.ID || h[0].Reason != "suspended: key leaked" {
			t.Fatalf("risk history after the app's suspension: %+v %v", h, err)
		}
		// A refused suspension (auditor above, already suspended below)
		// leaves the rating alone.
		wantProblem(t, e.s.SuspendApp(ctx, risk, app.ID, "again"), problem.CodeInvalidState, "cannot suspend app "+app.ID+": it is suspended")
		pm, _ := e.staff(staff.RolePartnerManager)
		risk2, _ := e.staff(staff.RoleRiskOfficer)
		r, err := e.s.RequestAppReinstate(ctx, pm, app.ID, "key rotated")
		mustOK(t, err)
		mustOK(t, e.s.DecideApproval(ctx, risk2, r.ID, true, ""))
		if c, _ := e.s.OAuthClient(ctx, app.ID); !c.Active {
			t.Fatal("reinstated app inactive")
		}
	})
}

// TestCan pins the member (portal) table; the staff table is pinned in
// partners/staff.
func TestCan(t *testing.T) {
	for _, a := range MemberActions {
		if !Can(RoleOwner, a) {
			t.Errorf("owner may not %s", a)
		}
		if Can(Role(staff.RoleAdmin), a) {
			t.Errorf("admin may %s", a)
		}
	}
	for _, c := range []struct {
		role   Role
		action Action
		want   bool
	}{
		{RoleDeveloper, ActAppsSandbox, true}, {RoleDeveloper, ActAppsProduction, false}, {RoleDeveloper, ActTeamManage, false},
		{RoleViewer, ActAppsRead, true}, {RoleViewer, ActAppsSandbox, false}, {Role("nobody"), ActOrgRead, false},
		{RoleOwner, ActContractDocuments, true}, {RoleDeveloper, ActContractDocuments, false}, {RoleViewer, ActContractDocuments, false},
	} {
		if got := Can(c.role, c.action); got != c.want {
			t.Errorf("Can(%s, %s) = %v, want %v", c.role, c.action, got, c.want)
		}
	}
}

type failingPublisher struct{}

func (failingPublisher) Publish(context.Context, *gorm.DB, string, string, string, map[string]any) error {
	return errors.New("outbox unavailable")
}

// The status change, its audit entry and its event share one transaction: a
// failing publish rolls all of them back and no token is revoked.
func TestStatusChangeIsAtomic(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		risk, _ := e.staff(staff.RoleRiskOfficer)
		owner, pid := e.signUp("owner@acme.example", "Acme")
		_, err := e.s.CreateApp(ctx, owner, pid, sandboxApp(t))
		mustOK(t, err)
		e.rebuild(func(c *Config) { c.Publisher = failingPublisher{} })
		err = e.s.Suspend(ctx, risk, pid, "fraud")
		if problem.CodeOf(err) != problem.CodeInternal || !strings.Contains(err.Error(), "outbox unavailable") {
			t.Fatalf("err %v", err)
		}
		if e.status(pid) != StatusSandbox {
			t.Fatalf("status %s", e.status(pid))
		}
		trail, err := audit.List(ctx, d.DB, audit.Filter{PartnerID: pid, Action: "partner.status_changed"})
		mustOK(t, err)
		if len(trail) != 0 || len(e.rev.list()) != 0 {
			t.Fatalf("audit %v, revoked %v", trail, e.rev.list())
		}
		e.rebuild(func(c *Config) { c.Publisher = nil }) // nil publisher: events skipped
		mustOK(t, e.s.Suspend(ctx, risk, pid, "fraud"))
	})
}
