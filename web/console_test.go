package web

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

const staffPW = "a staff password 1"

// newStaff creates a staff account (by the admin, or bootstrapped when
// adminID is "").
func (e *pagesEnv) newStaff(adminID, email string, role staff.Role) *staff.Created {
	e.t.Helper()
	var (
		ns  *staff.Created
		err error
	)
	if adminID == "" {
		ns, err = e.svc.Staff().Bootstrap(context.Background(), email, role)
	} else {
		ns, err = e.svc.Staff().Create(context.Background(), adminID, email, role)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return ns
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// wrongCode is a code valid in none of the steps the service accepts now.
func wrongCode(t *testing.T, secret string) string {
	now := time.Now()
	near := map[string]bool{}
	for _, d := range []time.Duration{-60 * time.Second, -30 * time.Second, 0, 30 * time.Second, 60 * time.Second} {
		near[totpCode(t, secret, now.Add(d))] = true
	}
	for i := 0; ; i++ {
		if c := fmt.Sprintf("%06d", i); !near[c] {
			return c
		}
	}
}

// staffSignIn signs in with password and TOTP and replaces the one-time
// password when asked to.
func (b *browser) staffSignIn(ns *staff.Created) {
	b.t.Helper()
	b.get("/console/sign-in")
	status, body := b.post("/console/sign-in", url.Values{"email": {ns.Staff.Email}, "password": {ns.OneTimePassword},
		"code": {totpCode(b.t, ns.TOTPSecret, time.Now())}})
	want(b.t, "ok/staff-sign-in", status, body, 200, "Choose a new password")
	status, body = b.post("/console/password", url.Values{"current_password": {ns.OneTimePassword},
		"new_password": {staffPW}, "confirm_password": {staffPW}})
	want(b.t, "ok/password-changed", status, body, 200, "Password changed.", "<h1>Partners</h1>")
}

func TestConsoleSignIn(t *testing.T) {
	e := newPagesEnv(t, nil)
	admin := e.newStaff("", "admin@bank.example", staff.RoleAdmin)
	b := e.browser()
	status, body := b.get("/console/partners")
	want(t, "redirected to sign-in", status, body, 200, `<label for="code">Authenticator code</label>`)

	cases := []struct {
		name       string
		form       url.Values
		noCSRF     bool
		wantStatus int
		wantText   string
	}{
		{"fail/csrf-missing", url.Values{"email": {admin.Staff.Email}, "password": {admin.OneTimePassword}, "code": {"123456"}}, true, 403, csrfMessage},
		{"fail/wrong-code", url.Values{"email": {admin.Staff.Email}, "password": {admin.OneTimePassword}, "code": {wrongCode(t, admin.TOTPSecret)}}, false, 401,
			"Unknown email, wrong password or wrong code."},
		{"fail/wrong-password", url.Values{"email": {admin.Staff.Email}, "password": {"nope nope nope"}, "code": {totpCode(t, admin.TOTPSecret, time.Now())}}, false, 401,
			"Unknown email, wrong password or wrong code."},
		{"fail/unknown-email", url.Values{"email": {"nobody@bank.example"}, "password": {admin.OneTimePassword}, "code": {"123456"}}, false, 401,
			"Unknown email, wrong password or wrong code."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b.get("/console/sign-in")
			var status int
			var body string
			if tc.noCSRF {
				status, body = b.postNoCSRF("/console/sign-in", tc.form)
			} else {
				status, body = b.post("/console/sign-in", tc.form)
			}
			want(t, tc.name, status, body, tc.wantStatus, tc.wantText)
		})
	}
	// Two failures of this account so far (the CSRF refusal does not reach the
	// service, the unknown email is another account); the fifth locks.
	for i := 0; i < 3; i++ {
		status, body = b.post("/console/sign-in", url.Values{"email": {admin.Staff.Email}, "password": {"nope nope nope"}, "code": {"000000"}})
	}
	want(t, "fail/locked-out", status, body, 429, "Too many failed sign-in attempts; please try again after ")

	// A new account must change its one-time password before anything else.
	rm := e.newStaff(admin.Staff.ID, "risk@bank.example", staff.RoleRiskOfficer)
	r := e.browser()
	r.get("/console/sign-in")
	status, body = r.post("/console/sign-in", url.Values{"email": {rm.Staff.Email}, "password": {rm.OneTimePassword},
		"code": {totpCode(t, rm.TOTPSecret, time.Now())}})
	want(t, "ok/first-sign-in", status, body, 200, "Choose a new password", "one-time password")
	status, body = r.get("/console/partners")
	want(t, "still asked for a new password", status, body, 200, "Choose a new password")
	status, body = r.post("/console/password", url.Values{"current_password": {rm.OneTimePassword}, "new_password": {"short"}, "confirm_password": {"short"}})
	want(t, "fail/short-password", status, body, 422, "Password must be at least 12 characters.")
	status, body = r.post("/console/password", url.Values{"current_password": {rm.OneTimePassword}, "new_password": {staffPW}, "confirm_password": {staffPW}})
	want(t, "ok/password-changed", status, body, 200, "Password changed.")
	status, body = r.post("/console/sign-out", nil)
	want(t, "ok/sign-out", status, body, 200, msgSignedOut)
}

func TestConsoleLifecycle(t *testing.T) {
	e := newPagesEnv(t, nil)
	ctx := context.Background()
	admin := e.newStaff("", "admin@bank.example", staff.RoleAdmin)
	pm := e.newStaff(admin.Staff.ID, "pm@bank.example", staff.RolePartnerManager)
	risk := e.newStaff(admin.Staff.ID, "risk@bank.example", staff.RoleRiskOfficer)
	aud := e.newStaff(admin.Staff.ID, "auditor@bank.example", staff.RoleAuditor)

	ownerID, pid := e.verifiedUser("owner@wallet.example", "Wallet Ltd")
	app, err := e.svc.CreateApp(ctx, ownerID, pid, partners.AppInput{Name: "Wallet sandbox", Environment: "sandbox",
		RedirectURIs: []string{"https://wallet.example/cb"}, Scopes: []string{"openid"}, JWKS: []byte(mustJWKS(t))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SubmitApplication(ctx, ownerID, pid, partners.Application{LegalName: "Wallet Ltd", CompanyNumber: "12345678",
		Country: "GB", LicenceNumber: "FRN 123456", Website: "https://wallet.example", IntendedUse: "Account information for budgeting",
		ContactName: "Owner", ContactEmail: "owner@wallet.example"}); err != nil {
		t.Fatal(err)
	}
	page := "/console/partners/" + pid

	pmB, riskB, adminB, audB := e.browser(), e.browser(), e.browser(), e.browser()
	pmB.staffSignIn(pm)
	riskB.staffSignIn(risk)
	adminB.staffSignIn(admin)
	audB.staffSignIn(aud)

	status, body := pmB.get("/console/partners/ptn_nope")
	want(t, "fail/unknown-partner", status, body, 404, "Partner ptn_nope not found.")
	status, body = pmB.get("/console/partners?status=applied")
	want(t, "filtered list", status, body, 200, "Wallet Ltd", `<option value="applied" selected>`)
	status, body = pmB.get("/console/partners?status=live")
	want(t, "filtered list (none)", status, body, 200, "No partners match.")

	status, body = pmB.get(page)
	want(t, "pm sees the application", status, body, 200, "FRN 123456", ">Start review</button>")
	status, body = pmB.post(page+"/review", nil)
	want(t, "ok/start-review", status, body, 200, "Review started.", `id="partner-status">Under review<`)
	if strings.Contains(body, ">Save scorecard<") {
		t.Fatal("a partner manager is offered the scorecard (due_diligence.record is the risk officer's)")
	}
	status, body = pmB.post(page+"/decision", url.Values{"decision": {"approved"}})
	want(t, "fail/approve-without-scorecard", status, body, 409, "Cannot approve: no due diligence scorecard recorded.")
	status, body = pmB.post(page+"/due-diligence", url.Values{"industry_standing": {"4"}, "business_capability": {"4"},
		"resource_integration": {"4"}, "willingness_to_cooperate": {"5"}, "aml_result": {"clear"}, "licence_verified": {"1"}})
	want(t, "fail/pm-records-scorecard", status, body, 403, "Role partner_manager may not due_diligence.record.")

	status, body = riskB.get(page)
	want(t, "risk scorecard form", status, body, 200, `<label for="industry_standing">Score (1 to 5)</label>`, `<label for="aml_result">AML screening result</label>`)
	status, body = riskB.post(page+"/due-diligence", url.Values{"industry_standing": {"9"}, "business_capability": {"4"},
		"resource_integration": {"4"}, "willingness_to_cooperate": {"5"}, "aml_result": {"clear"}})
	want(t, "fail/score-out-of-range", status, body, 422, "Industry_standing must be a score from 1 to 5, got 9.")
	status, body = riskB.post(page+"/due-diligence", url.Values{"industry_standing": {"4"}, "business_capability": {"4"},
		"resource_integration": {"3"}, "willingness_to_cooperate": {"5"}, "aml_result": {"clear"}, "licence_verified": {"1"},
		"compliance_notes": {"FCA register checked"}})
	want(t, "ok/scorecard", status, body, 200, "Scorecard saved.", "Score 16 of 20", "licence verified", "FCA register checked")

	status, body = pmB.post(page+"/decision", url.Values{"decision": {"rejected"}})
	want(t, "fail/reject-without-reasons", status, body, 422, "Reasons are required to reject an application (the partner sees them).")
	status, body = pmB.post(page+"/decision", url.Values{"decision": {"approved"}, "reasons": {"Strong application"}})
	want(t, "ok/approve", status, body, 200, "Application approved.", `id="partner-status">Approved<`)

	if err := e.svc.MarkContracted(ctx, pid); err != nil { // contracts does this when a contract is active
		t.Fatal(err)
	}
	status, body = pmB.post(page+"/certification", url.Values{"app_id": {app.ID}})
	want(t, "ok/certification", status, body, 200, "Certification run recorded.", `id="partner-status">Certified<`, "par_pkce_dpop_flow", "ia-1")

	status, body = adminB.post(page+"/go-live", nil)
	want(t, "ok/request-go-live", status, body, 200, "Go-live requested.", "Go-live requested by admin@bank.example (you)", ">Approve go-live</button>")
	if strings.Contains(body, ">Request go-live<") {
		t.Fatal("go-live offered again while one is pending")
	}
	reqs, _ := e.svc.Approvals(ctx, partners.ApprovalPending)
	if len(reqs) != 1 {
		t.Fatalf("approvals %+v", reqs)
	}
	status, body = adminB.post("/console/approvals/"+reqs[0].ID+"/approve", url.Values{"partner_id": {pid}})
	want(t, "fail/self-approval", status, body, 403, "The go_live request must be decided by another staff member than the one who made it.")
	_, body = pmB.get(page)
	if strings.Contains(body, ">Approve go-live<") {
		t.Fatal("a partner manager is offered go-live approval")
	}
	status, body = riskB.get(page)
	want(t, "risk sees the request", status, body, 200, "Go-live requested by admin@bank.example", ">Approve go-live</button>")
	status, body = riskB.post("/console/approvals/"+reqs[0].ID+"/approve", url.Values{"partner_id": {pid}})
	want(t, "ok/approve-go-live", status, body, 200, "Request approved.", `id="partner-status">Live<`)

	// The auditor reads but changes nothing.
	status, body = audB.get(page)
	want(t, "auditor reads", status, body, 200, "Wallet Ltd", "Live")
	for _, button := range []string{">Suspend<", ">Suspend app<", ">Terminate partnership<", ">Start review<"} {
		if strings.Contains(body, button) {
			t.Fatalf("the auditor is offered %s", button)
		}
	}
	status, body = audB.post(page+"/suspend", url.Values{"reason": {"forged"}})
	want(t, "fail/auditor-suspends", status, body, 403, "Role auditor may not partners.suspend.")
	status, body = audB.post("/console/apps/"+app.ID+"/suspend", url.Values{"reason": {"forged"}})
	want(t, "fail/auditor-suspends-app", status, body, 403, "Role auditor may not partners.suspend.")
	status, body = riskB.postNoCSRF(page+"/suspend", url.Values{"reason": {"no token"}})
	want(t, "fail/suspend-without-csrf", status, body, 403, csrfMessage)
	if p, _ := e.svc.Partner(ctx, pid); p.Status != partners.StatusLive {
		t.Fatalf("partner is %s", p.Status)
	}

	// Suspend the app, then the partner; reinstatement needs two people.
	status, body = riskB.post("/console/apps/"+app.ID+"/suspend", url.Values{"reason": {"Unusual traffic"}})
	want(t, "ok/suspend-app", status, body, 200, "App suspended.", "Unusual traffic")
	status, body = pmB.post("/console/apps/"+app.ID+"/reinstate", url.Values{"reason": {"Traffic explained"}})
	want(t, "ok/request-app-reinstatement", status, body, 200, "App reinstatement requested.")
	appReq, _ := e.svc.Approvals(ctx, partners.ApprovalPending)
	status, body = riskB.post("/console/approvals/"+appReq[0].ID+"/approve", url.Values{"partner_id": {pid}})
	want(t, "ok/reinstate-app", status, body, 200, "Request approved.")
	status, body = riskB.post(page+"/suspend", url.Values{"reason": {""}})
	want(t, "fail/suspend-without-reason", status, body, 422, "Reason is required.")
	status, body = riskB.post(page+"/suspend", url.Values{"reason": {"Complaint under investigation"}})
	want(t, "ok/suspend", status, body, 200, "Partner suspended.", `id="partner-status">Suspended<`, "Complaint under investigation")
	status, body = pmB.post(page+"/reinstate", url.Values{"reason": {"Resolved"}})
	want(t, "ok/request-reinstate", status, body, 200, "Reinstatement requested.", "Reinstatement requested by pm@bank.example (you)",
		"A risk officer imposed this suspension: only a risk officer may approve lifting it.")
	if strings.Contains(body, ">Approve reinstatement</button>") {
		t.Fatal("a partner manager is offered to lift a risk officer's suspension")
	}
	reqs, _ = e.svc.Approvals(ctx, partners.ApprovalPending)
	status, body = pmB.post("/console/approvals/"+reqs[0].ID+"/approve", url.Values{"partner_id": {pid}})
	want(t, "fail/self-approval-reinstate", status, body, 403, "The reinstate request must be decided by another staff member than the one who made it.")
	status, body = riskB.post("/console/approvals/"+reqs[0].ID+"/approve", url.Values{"partner_id": {pid}})
	want(t, "ok/reinstate", status, body, 200, "Request approved.", `id="partner-status">Live<`)

	// The portal shows the partner its status.
	owner := e.browser()
	status, body = owner.signIn("owner@wallet.example", testPW)
	want(t, "portal live", status, body, 200, `id="partner-status">Live<`, "You are live.")

	// A rejected application: the partner sees the reasons.
	owner2, pid2 := e.verifiedUser("owner@second.example", "Second Ltd")
	if _, err := e.svc.SubmitApplication(ctx, owner2, pid2, partners.Application{LegalName: "Second Ltd", CompanyNumber: "87654321",
		Country: "GB", Website: "https://second.example", IntendedUse: "Payment initiation for marketplace sellers",
		ContactName: "Owner", ContactEmail: "owner@second.example"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.StartReview(ctx, pm.Staff.ID, pid2); err != nil {
		t.Fatal(err)
	}
	status, body = pmB.get("/console/partners/" + pid2)
	want(t, "decision form", status, body, 200, ">Approve</button>", ">Reject</button>")
	status, body = pmB.post("/console/partners/"+pid2+"/decision", url.Values{"decision": {"rejected"}, "reasons": {"No licence on the FCA register"}})
	want(t, "ok/reject", status, body, 200, "Application rejected.", `id="partner-status">Sandbox<`)
	owner2B := e.browser()
	status, body = owner2B.signIn("owner@second.example", testPW)
	want(t, "portal shows the reasons", status, body, 200, "Message from the bank", "No licence on the FCA register", "Your last application was not approved.")

	// The audit trail.
	status, body = audB.get("/console/audit?action=partner.&partner_id=" + pid)
	want(t, "audit by partner", status, body, 200, "partner.status_changed", "Complaint under investigation")
	if strings.Contains(body, "staff.logged_in") {
		t.Fatal("action prefix filter ignored")
	}
	status, body = audB.get("/console/audit?actor_type=staff&actor_id=" + risk.Staff.ID + "&action=due_diligence.recorded")
	want(t, "audit by actor", status, body, 200, "due_diligence.recorded")
	day := time.Now().UTC().Format("2006-01-02")
	status, body = audB.get("/console/audit?from=" + day + "&to=" + day + "&object_id=" + app.ID)
	want(t, "audit by date and object", status, body, 200, "app.suspended")
	status, body = audB.get("/console/audit?from=2020-01-01&to=2020-01-02")
	want(t, "audit empty range", status, body, 200, "No events match.")
	status, body = audB.get("/console/audit?from=yesterday")
	want(t, "fail/audit-bad-date", status, body, 400, "The start date must be a date such as 2026-11-23.")
	status, body = pmB.get("/console/audit")
	want(t, "fail/pm-reads-audit", status, body, 403, "Role partner_manager may not audit.read.")
	if strings.Contains(body, "partner.status_changed") {
		t.Fatal("audit shown to a role without audit.read")
	}
}
