package partners

import (
	"reflect"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// TestReinstatingAPartnerIsMakerChecker: the maker never approves their own
// request, and lifting a risk officer's suspension needs a risk officer; a
// partner manager's suspension may be lifted by two partner managers.
func TestReinstatingAPartnerIsMakerChecker(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		pm1, _ := e.staff(staff.RolePartnerManager)
		pm2, _ := e.staff(staff.RolePartnerManager)
		risk1, _ := e.staff(staff.RoleRiskOfficer)
		risk2, _ := e.staff(staff.RoleRiskOfficer)
		_, riskPID := e.signUp("owner@risky.example", "Risky")
		_, pmPID := e.signUp("owner@quiet.example", "Quiet")
		e.force(riskPID, StatusLive, "")
		e.force(pmPID, StatusLive, "")

		mustOK(t, e.s.Suspend(ctx, risk1, riskPID, "AML alert"))
		p, _ := e.s.Partner(ctx, riskPID)
		if p.SuspendedBy != risk1 || p.SuspendedByRole != staff.RoleRiskOfficer {
			t.Fatalf("suspension not recorded: %+v", p)
		}
		_, err := e.s.RequestReinstate(ctx, risk1, riskPID, "cleared")
		wantProblem(t, err, problem.CodeForbidden, "role risk_officer may not partners.reinstate.request")
		req, err := e.s.RequestReinstate(ctx, pm1, riskPID, "cleared")
		mustOK(t, err)
		if needs, err := e.s.ApprovalNeeds(ctx, *req); err != nil || !reflect.DeepEqual(needs, []staff.Action{staff.ActReinstateApprove, staff.ActLiftRiskSuspension}) {
			t.Fatalf("needs %v %v", needs, err)
		}
		for _, tc := range []struct {
			name, who string
			approve   bool
			code      problem.Code
			detail    string
		}{
			{"fail/maker-approves", pm1, true, problem.CodeMakerChecker, "the reinstate request must be decided by another staff member than the one who made it"},
			{"fail/maker-rejects", pm1, false, problem.CodeMakerChecker, "the reinstate request must be decided by another staff member than the one who made it"},
			{"fail/second-partner-manager-lifts-risk-suspension", pm2, true, problem.CodeMakerChecker,
				"the suspension of partner " + riskPID + " was imposed by a risk officer; only a risk officer may approve lifting it"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantProblem(t, e.s.DecideApproval(ctx, tc.who, req.ID, tc.approve, "no"), tc.code, tc.detail)
				if e.status(riskPID) != StatusSuspended {
					t.Fatal("reinstated by a refused decision")
				}
			})
		}
		mustOK(t, e.s.ApproveReinstate(ctx, risk2, req.ID))
		p, _ = e.s.Partner(ctx, riskPID)
		if p.Status != StatusLive || p.SuspendedBy != "" || p.SuspendedByRole != "" {
			t.Fatalf("after reinstatement %+v", p)
		}
		trail, _ := audit.List(ctx, d.DB, audit.Filter{ObjectID: req.ID, Action: "approval.approved"})
		if len(trail) != 1 || trail[0].ActorID != risk2 ||
			!strings.Contains(trail[0].Details, `"maker":"`+pm1+`"`) || !strings.Contains(trail[0].Details, `"suspended_by_role":"risk_officer"`) {
			t.Fatalf("audit %+v", trail)
		}

		// A partner manager's suspension: two partner managers suffice.
		mustOK(t, e.s.Suspend(ctx, pm1, pmPID, "missing documents"))
		req2, err := e.s.RequestReinstate(ctx, pm1, pmPID, "documents received")
		mustOK(t, err)
		if needs, _ := e.s.ApprovalNeeds(ctx, *req2); !reflect.DeepEqual(needs, []staff.Action{staff.ActReinstateApprove}) {
			t.Fatalf("needs %v", needs)
		}
		wantProblem(t, e.s.ApproveReinstate(ctx, pm1, req2.ID), problem.CodeMakerChecker,
			"the reinstate request must be decided by another staff member than the one who made it")
		mustOK(t, e.s.ApproveReinstate(ctx, pm2, req2.ID))
		if e.status(pmPID) != StatusLive {
			t.Fatalf("status %s", e.status(pmPID))
		}

		// A suspension whose author is unknown (from before authors were
		// recorded) counts as a risk officer's.
		e.force(pmPID, StatusSuspended, StatusLive)
		req3, err := e.s.RequestReinstate(ctx, pm1, pmPID, "legacy")
		mustOK(t, err)
		wantProblem(t, e.s.ApproveReinstate(ctx, pm2, req3.ID), problem.CodeMakerChecker,
			"the suspension of partner "+pmPID+" was imposed by a risk officer; only a risk officer may approve lifting it")
		mustOK(t, e.s.DecideApproval(ctx, pm2, req3.ID, false, "ask risk"))
	})
}

// TestReinstatingAnAppIsMakerChecker: an app suspended by a risk officer is
// no longer reinstated by one partner manager alone: one staff member asks,
// a risk officer approves, and it is audited.
func TestReinstatingAnAppIsMakerChecker(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		pm1, _ := e.staff(staff.RolePartnerManager)
		pm2, _ := e.staff(staff.RolePartnerManager)
		risk, _ := e.staff(staff.RoleRiskOfficer)
		owner, pid := e.signUp("owner@acme.example", "Acme")
		app, err := e.s.CreateApp(ctx, owner, pid, sandboxApp(t))
		mustOK(t, err)
		app2, err := e.s.CreateApp(ctx, owner, pid, sandboxApp(t))
		mustOK(t, err)
		active := func(id string) bool {
			c, err := e.s.OAuthClient(ctx, id)
			mustOK(t, err)
			return c.Active
		}

		_, err = e.s.RequestAppReinstate(ctx, pm1, app.ID, "fine")
		wantProblem(t, err, problem.CodeInvalidState, "cannot reinstate app "+app.ID+": it is active")
		mustOK(t, e.s.SuspendApp(ctx, risk, app.ID, "key leaked"))
		a, _ := e.s.App(ctx, app.ID)
		if a.SuspendedBy != risk || a.SuspendedByRole != staff.RoleRiskOfficer {
			t.Fatalf("app suspension not recorded %+v", a)
		}
		for _, tc := range []struct {
			name, who, app, reason string
			code                   problem.Code
			detail                 string
		}{
			{"fail/risk-requests", risk, app.ID, "x", problem.CodeForbidden, "role risk_officer may not partners.reinstate.request"},
			{"fail/no-reason", pm1, app.ID, " ", problem.CodeValidation, "reason is required"},
			{"fail/unknown-app", pm1, "app_nope", "x", problem.CodeNotFound, "app app_nope not found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.s.RequestAppReinstate(ctx, tc.who, tc.app, tc.reason)
				wantProblem(t, err, tc.code, tc.detail)
			})
		}
		req, err := e.s.RequestAppReinstate(ctx, pm1, app.ID, "key rotated")
		mustOK(t, err)
		if req.Kind != KindAppReinstate || req.AppID != app.ID || req.PartnerID != pid {
			t.Fatalf("request %+v", req)
		}
		if active(app.ID) {
			t.Fatal("the request alone reinstated the app")
		}
		_, err = e.s.RequestAppReinstate(ctx, pm2, app.ID, "again")
		wantProblem(t, err, problem.CodeConflict, "an app reinstatement request for app "+app.ID+" is already pending")
		wantProblem(t, e.s.DecideApproval(ctx, pm1, req.ID, true, ""), problem.CodeMakerChecker,
			"the app_reinstate request must be decided by another staff member than the one who made it")
		wantProblem(t, e.s.DecideApproval(ctx, pm2, req.ID, true, ""), problem.CodeMakerChecker,
			"the suspension of app "+app.ID+" was imposed by a risk officer; only a risk officer may approve lifting it")
		if active(app.ID) {
			t.Fatal("reinstated by a refused decision")
		}
		mustOK(t, e.s.DecideApproval(ctx, risk, req.ID, true, ""))
		if !active(app.ID) {
			t.Fatal("app inactive after approval")
		}
		a, _ = e.s.App(ctx, app.ID)
		if a.Status != AppActive || a.SuspendedBy != "" || a.SuspendedByRole != "" {
			t.Fatalf("app after reinstatement %+v", a)
		}
		trail, _ := audit.List(ctx, d.DB, audit.Filter{ObjectID: req.ID})
		if len(trail) != 2 || trail[0].Action != "approval.approved" || trail[0].ActorID != risk ||
			!strings.Contains(trail[0].Details, `"app_id":"`+app.ID+`"`) || trail[1].Action != "approval.requested" || trail[1].ActorID != pm1 {
			t.Fatalf("audit %+v", trail)
		}

		// A partner manager's app suspension: a second partner manager may lift it.
		mustOK(t, e.s.SuspendApp(ctx, pm1, app2.ID, "misconfigured"))
		req2, err := e.s.RequestAppReinstate(ctx, pm1, app2.ID, "fixed")
		mustOK(t, err)
		wantProblem(t, e.s.DecideApproval(ctx, pm2, req2.ID, false, ""), problem.CodeValidation, "reasons are required to reject a request")
		mustOK(t, e.s.DecideApproval(ctx, pm2, req2.ID, true, ""))
		if !active(app2.ID) {
			t.Fatal("app2 inactive after approval")
		}
		wantProblem(t, e.s.DecideApproval(ctx, risk, req2.ID, true, ""), problem.CodeInvalidState,
			"approval request "+req2.ID+" is already approved")
	})
}
