package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/monitoring"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/recon"
	"github.com/bankbridge/bankbridge/risk"
	"github.com/bankbridge/bankbridge/risk/screening"
)

// newConsoleEnv serves the staff console with its billing and contract pages
// (a contracts.Service with these credit note limits) on a fresh database.
func newConsoleEnv(t *testing.T, limits map[string]int64) (*pagesEnv, *contracts.Service) {
	t.Helper()
	return consoleEnvOn(t, dbtest.MustSQLite(t), limits, nil)
}

// consoleEnvOn is newConsoleEnv on the database d, the partner pages
// listing consents from consents (nil: none configured).
func consoleEnvOn(t *testing.T, d *db.DB, limits map[string]int64, consents ConsentReader) (*pagesEnv, *contracts.Service) {
	t.Helper()
	secrets.PasswordCost = 4
	box, err := secrets.NewBox(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := partners.New(partners.Config{DB: d, Box: box, PortalURL: "https://bank.example/portal",
		RegistrationURL: "https://bank.example/register"})
	if err != nil {
		t.Fatal(err)
	}
	cs := contracts.New(d, contracts.Options{CreditNoteLimits: limits})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	scr, err := screening.New(screening.Config{Store: screening.NewGormStore(d), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	console := &Console{Pages: MustRenderer(), Sessions: &Sessions{DB: d.DB}, Partners: svc, DB: d.DB, Consents: consents,
		Monitoring: monitoring.New(monitoring.NewGormStore(d), func() time.Time { return monitoringNow }), Screening: scr, Log: log}
	console.Register(r)
	(&ConsoleBilling{Console: console, Contracts: cs, Now: func() time.Time { return time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC) }}).Register(r)
	riskNow := func() time.Time { return riskCaseNow }
	assessor, err := risk.NewAssessor(risk.AssessorConfig{Store: risk.NewGormStore(d), Now: func() time.Time { return riskCaseOpened }})
	if err != nil {
		t.Fatal(err)
	}
	pay := &fakeRiskPayments{}
	(&ConsoleRisk{Console: console, Now: riskNow,
		Risk: risk.NewService(risk.Config{Store: risk.NewGormStore(d), Payments: pay, Now: riskNow})}).Register(r)
	days := &reconDays{}
	rc := recon.New(recon.Config{Store: recon.NewGormStore(d), Days: days, Now: func() time.Time { return reconNow }})
	(&ConsoleRecon{Console: console, Recon: rc}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &pagesEnv{t: t, d: d, svc: svc, srv: srv, log: log, screening: scr, risk: assessor, riskPay: pay, recon: rc, reconDays: days}, cs
}

// staffBrowser creates a staff member and signs them in.
func (e *pagesEnv) staffBrowser(adminID, email string, role staff.Role) (*browser, *staff.Created) {
	e.t.Helper()
	ns := e.newStaff(adminID, email, role)
	b := e.browser()
	b.staffSignIn(ns)
	return b, ns
}

func (e *pagesEnv) livePartner(email, org string) (ownerID, partnerID string) {
	e.t.Helper()
	ownerID, partnerID = e.verifiedUser(email, org)
	if err := e.d.Model(&partners.Partner{}).Where("id = ?", partnerID).Update("status", partners.StatusLive).Error; err != nil {
		e.t.Fatal(err)
	}
	e.svc.InvalidateClientCache()
	return ownerID, partnerID
}

func pendingApproval(t *testing.T, e *pagesEnv, kind string) partners.ApprovalRequest {
	t.Helper()
	reqs, err := e.svc.Approvals(context.Background(), partners.ApprovalPending)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if r.Kind == kind {
			return r
		}
	}
	t.Fatalf("no pending %s request in %+v", kind, reqs)
	return partners.ApprovalRequest{}
}

// TestConsoleAppReinstatementNeedsARiskOfficer: a partner manager's click on
// "Reinstate app" only asks; the maker cannot approve; a second partner
// manager cannot lift a risk officer's suspension; a risk officer can.
func TestConsoleAppReinstatementNeedsARiskOfficer(t *testing.T) {
	e, _ := newConsoleEnv(t, nil)
	ctx := context.Background()
	_, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
	pmB, _ := e.staffBrowser(admin.Staff.ID, "pm@bank.example", staff.RolePartnerManager)
	pm2B, _ := e.staffBrowser(admin.Staff.ID, "pm2@bank.example", staff.RolePartnerManager)
	riskB, _ := e.staffBrowser(admin.Staff.ID, "risk@bank.example", staff.RoleRiskOfficer)
	ownerID, pid := e.livePartner("owner@wallet.example", "Wallet Ltd")
	app, err := e.svc.CreateApp(ctx, ownerID, pid, partners.AppInput{Name: "Wallet sandbox", Environment: "sandbox",
		RedirectURIs: []string{"https://wallet.example/cb"}, Scopes: []string{"openid"}, JWKS: []byte(mustJWKS(t))})
	if err != nil {
		t.Fatal(err)
	}
	page := "/console/partners/" + pid
	appStatus := func() string {
		a, err := e.svc.App(ctx, app.ID)
		if err != nil {
			t.Fatal(err)
		}
		return a.Status
	}

	status, body := riskB.post("/console/apps/"+app.ID+"/suspend", url.Values{"reason": {"Unusual traffic"}})
	want(t, "ok/risk-suspends-app", status, body, 200, "App suspended.")
	status, body = pmB.post("/console/apps/"+app.ID+"/reinstate", url.Values{"reason": {""}})
	want(t, "fail/no-reason", status, body, 422, "Reason is required.")
	status, body = pmB.post("/console/apps/"+app.ID+"/reinstate", url.Values{"reason": {"Traffic explained"}})
	want(t, "ok/pm-requests", status, body, 200, "App reinstatement requested. Another staff member must approve it",
		"Reinstatement of app "+app.ID+" requested by pm@bank.example (you)", "Reinstatement requested; awaiting approval.")
	if s := appStatus(); s != partners.AppSuspended {
		t.Fatalf("one partner manager reinstated the app: %s", s)
	}
	req := pendingApproval(t, e, partners.KindAppReinstate)
	status, body = pmB.post("/console/approvals/"+req.ID+"/approve", url.Values{"partner_id": {pid}})
	want(t, "fail/maker-approves", status, body, 403, "The app_reinstate request must be decided by another staff member than the one who made it.")
	status, body = pm2B.get(page)
	want(t, "pm2 sees the request, not the button", status, body, 200, "Reinstatement of app "+app.ID,
		"only a risk officer may approve lifting it")
	if strings.Contains(body, ">Approve app reinstatement<") {
		t.Fatal("a partner manager is offered to lift a risk officer's app suspension")
	}
	status, body = pm2B.post("/console/approvals/"+req.ID+"/approve", url.Values{"partner_id": {pid}})
	want(t, "fail/second-pm-approves", status, body, 403,
		"The suspension of app "+app.ID+" was imposed by a risk officer; only a risk officer may approve lifting it.")
	if s := appStatus(); s != partners.AppSuspended {
		t.Fatalf("app %s after refused approvals", s)
	}
	status, body = riskB.get(page)
	want(t, "risk is offered the approval", status, body, 200, ">Approve app reinstatement</button>")
	status, body = riskB.post("/console/approvals/"+req.ID+"/approve", url.Values{"partner_id": {pid}})
	want(t, "ok/risk-approves", status, body, 200, "Request approved.")
	if s := appStatus(); s != partners.AppActive {
		t.Fatalf("app %s after approval", s)
	}
	trail, _ := audit.List(ctx, e.d.DB, audit.Filter{ObjectID: req.ID, Action: "approval.approved"})
	if len(trail) != 1 || !strings.Contains(trail[0].Details, `"suspended_by_role":"risk_officer"`) {
		t.Fatalf("audit %+v", trail)
	}
}

// TestConsolePartnerReinstatementNeedsARiskOfficer: two partner managers may
// not lift a risk officer's suspension of a partner; the maker never approves.
func TestConsolePartnerReinstatementNeedsARiskOfficer(t *testing.T) {
	e, _ := newConsoleEnv(t, nil)
	_, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
	pmB, _ := e.staffBrowser(admin.Staff.ID, "pm@bank.example", staff.RolePartnerManager)
	pm2B, _ := e.staffBrowser(admin.Staff.ID, "pm2@bank.example", staff.RolePartnerManager)
	riskB, _ := e.staffBrowser(admin.Staff.ID, "risk@bank.example", staff.RoleRiskOfficer)
	_, pid := e.livePartner("owner@wallet.example", "Wallet Ltd")
	page := "/console/partners/" + pid

	status, body := riskB.post(page+"/suspend", url.Values{"reason": {"Sanctions screening hit"}})
	want(t, "ok/risk-suspends", status, body, 200, "Partner suspended.", `id="partner-status">Suspended<`)
	status, body = pmB.post(page+"/reinstate", url.Values{"reason": {"False positive"}})
	want(t, "ok/pm-requests", status, body, 200, "Reinstatement requested.", "Reinstatement requested by pm@bank.example (you)")
	req := pendingApproval(t, e, partners.KindReinstate)
	status, body = pmB.post("/console/approvals/"+req.ID+"/approve", url.Values{"partner_id": {pid}})
	want(t, "fail/maker-approves", status, body, 403, "The reinstate request must be decided by another staff member than the one who made it.")
	status, body = pm2B.post("/console/approvals/"+req.ID+"/approve", url.Values{"partner_id": {pid}})
	want(t, "fail/second-pm-approves", status, body, 403,
		"The suspension of partner "+pid+" was imposed by a risk officer; only a risk officer may approve lifting it.",
		`id="partner-status">Suspended<`)
	status, body = riskB.post("/console/approvals/"+req.ID+"/approve", url.Values{"partner_id": {pid}})
	want(t, "ok/risk-approves", status, body, 200, "Request approved.", `id="partner-status">Live<`)

	// A partner manager's suspension: two partner managers suffice.
	status, body = pmB.post(page+"/suspend", url.Values{"reason": {"Missing documents"}})
	want(t, "ok/pm-suspends", status, body, 200, "Partner suspended.")
	status, body = pmB.post(page+"/reinstate", url.Values{"reason": {"Documents received"}})
	want(t, "ok/pm-requests-again", status, body, 200, "Reinstatement requested.")
	req = pendingApproval(t, e, partners.KindReinstate)
	status, body = pm2B.post("/console/approvals/"+req.ID+"/approve", url.Values{"partner_id": {pid}})
	want(t, "ok/second-pm-approves", status, body, 200, "Request approved.", `id="partner-status">Live<`)
}

var adjIDRe = regexp.MustCompile(`id="pending-(adj_[A-Za-z0-9]+)"`)

// TestConsoleCreditNotesAndAmounts: amounts are read with the currency's own
// decimals (12 JPY is 12 yen, not 1,200), and a credit note above the limit
// waits for a second finance or admin user.
func TestConsoleCreditNotesAndAmounts(t *testing.T) {
	e, cs := newConsoleEnv(t, map[string]int64{"EUR": 10000})
	ctx := context.Background()
	_, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
	finB, fin := e.staffBrowser(admin.Staff.ID, "finance@bank.example", staff.RoleFinance)
	fin2B, fin2 := e.staffBrowser(admin.Staff.ID, "finance2@bank.example", staff.RoleFinance)
	audB, _ := e.staffBrowser(admin.Staff.ID, "auditor@bank.example", staff.RoleAuditor)
	_, pid := e.livePartner("owner@wallet.example", "Wallet Ltd")
	note := func(amount, currency string) url.Values {
		return url.Values{"partner_id": {pid}, "period": {"2026-10"}, "kind": {"credit"}, "amount": {amount}, "currency": {currency}, "reason": {"outage"}}
	}
	recv := contracts.PartnerAccount(contracts.AccountPartnerReceivable, pid)
	balance := func(cur string) int64 {
		b, err := cs.Ledger.Balance(ctx, recv, cur)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	status, body := finB.get("/console/billing")
	want(t, "billing page", status, body, 200, "Amount in the currency's major unit (e.g. 12.50 EUR, 1200 JPY, 1.250 BHD)")
	for _, tc := range []struct {
		name, amount, currency string
		status                 int
		text                   string
	}{
		{"fail/jpy-decimals", "12.5", "JPY", 422, "Amount has more decimals than JPY allows (0)."},
		{"fail/bhd-four-decimals", "1.2345", "BHD", 422, "Amount has more decimals than BHD allows (3)."},
		{"fail/gbp-three-decimals", "1.005", "GBP", 422, "Amount has more decimals than GBP allows (2)."},
		{"fail/malformed", "12,50", "EUR", 422, "Amount must be a number such as 12.50."},
		{"fail/zero", "0", "EUR", 422, "Amount must be more than zero."},
		{"ok/jpy", "12", "JPY", 200, "Adjustment issued."},
		{"ok/bhd", "1.234", "BHD", 200, "Adjustment issued."},
		{"ok/gbp", "12.5", "GBP", 200, "Adjustment issued."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := finB.post("/console/billing/adjustments", note(tc.amount, tc.currency))
			want(t, tc.name, status, body, tc.status, tc.text)
		})
	}
	for cur, want := range map[string]int64{"JPY": -12, "BHD": -1234, "GBP": -1250} {
		if got := balance(cur); got != want {
			t.Errorf("%s receivable %d, want %d", cur, got, want)
		}
	}
	status, body = finB.get("/console/billing")
	want(t, "amounts shown in their currency", status, body, 200, "12 JPY", "1.234 BHD", "12.50 GBP")

	// Above the limit (100.00 EUR here): recorded, not posted, until a second approver.
	status, body = finB.post("/console/billing/adjustments", note("150.00", "EUR"))
	want(t, "ok/above-limit-waits", status, body, 200, "Credit note recorded, not issued yet",
		"Credit notes awaiting a second approver", "by finance@bank.example (you)", "You issued this credit note, so another member of staff must approve it.")
	if strings.Contains(body, ">Approve credit note<") {
		t.Fatal("the maker is offered to approve their own credit note")
	}
	if got := balance("EUR"); got != 0 {
		t.Fatalf("a pending credit note was posted: %d", got)
	}
	m := adjIDRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no pending credit note on the page:\n%s", body)
	}
	id := m[1]
	status, body = finB.post("/console/billing/adjustments/"+id+"/approve", nil)
	want(t, "fail/maker-approves", status, body, 403, "Credit note "+id+" was issued by "+fin.Staff.ID+", who cannot also approve it.")
	status, body = audB.post("/console/billing/adjustments/"+id+"/approve", nil)
	want(t, "fail/auditor-approves", status, body, 403, "may not approve credit notes.")
	if got := balance("EUR"); got != 0 {
		t.Fatalf("posted after refusals: %d", got)
	}
	status, body = fin2B.get("/console/billing")
	want(t, "second approver is offered the decision", status, body, 200, ">Approve credit note</button>")
	status, body = fin2B.post("/console/billing/adjustments/"+id+"/approve", nil)
	want(t, "ok/second-finance-approves", status, body, 200, "Credit note approved and posted.")
	if got := balance("EUR"); got != -15000 {
		t.Fatalf("EUR receivable %d after approval, want -15000", got)
	}
	status, body = fin2B.post("/console/billing/adjustments/"+id+"/approve", nil)
	want(t, "fail/approve-twice", status, body, 409, "Adjustment "+id+" is issued, not pending_approval.")

	// A rejected credit note is never posted.
	_, _ = finB.post("/console/billing/adjustments", note("200", "EUR"))
	adjs, _ := cs.Adjustments(ctx, pid)
	var second string
	for _, a := range adjs {
		if a.Status == contracts.AdjustmentPending {
			second = a.ID
		}
	}
	status, body = fin2B.post("/console/billing/adjustments/"+second+"/reject", url.Values{"reason": {""}})
	want(t, "fail/reject-without-reason", status, body, 422, "A rejection needs a reason.")
	status, body = fin2B.post("/console/billing/adjustments/"+second+"/reject", url.Values{"reason": {"Already credited"}})
	want(t, "ok/reject", status, body, 200, "Credit note rejected; it will not be posted.", "rejected: Already credited")
	if got := balance("EUR"); got != -15000 {
		t.Fatalf("EUR receivable %d after a rejection", got)
	}
	trail, _ := audit.List(ctx, e.d.DB, audit.Filter{ObjectID: id})
	if len(trail) != 2 || trail[0].Action != "adjustment.approved" || trail[0].ActorID != fin2.Staff.ID {
		t.Fatalf("audit %+v", trail)
	}
}

// TestConsoleRewrittenContractNeedsAnotherApprover: the checker who rejected a
// version and rewrote it cannot approve it once the maker resubmits it.
func TestConsoleRewrittenContractNeedsAnotherApprover(t *testing.T) {
	e, _ := newConsoleEnv(t, nil)
	adminB, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
	finB, _ := e.staffBrowser(admin.Staff.ID, "finance@bank.example", staff.RoleFinance)
	fin2B, fin2 := e.staffBrowser(admin.Staff.ID, "finance2@bank.example", staff.RoleFinance)
	_, pid := e.livePartner("owner@wallet.example", "Wallet Ltd")
	form := func(minimum string) url.Values {
		return url.Values{"partner_id": {pid}, "start": {"2026-11-01"}, "end": {"2027-11-01"}, "auto_renew": {"1"}, "notice_days": {"60"},
			"currency": {"EUR"}, "data_scopes": {"transaction_insights"}, "call_fees": {"accounts 0 0 250000"},
			"payment_fixed_minor": {"10"}, "payment_bps": {"5"}, "monthly_minimum": {minimum}, "share_tiers": {"0 0 1000"}}
	}
	status, body := finB.post("/console/contracts", form("0"))
	want(t, "ok/draft", status, body, 200, "Contract drafted.")
	cid := strings.TrimPrefix(strings.SplitN(finB.url, "?", 2)[0], "/console/contracts/")
	page := "/console/contracts/" + cid
	status, body = finB.post(page+"/submit", nil)
	want(t, "ok/submit", status, body, 200, "Submitted for approval.")
	status, body = fin2B.post(page+"/reject", url.Values{"reason": {"Minimum too low"}})
	want(t, "ok/reject", status, body, 200, "Sent back to draft.")
	status, body = fin2B.post(page, form("50000"))
	want(t, "ok/checker-rewrites", status, body, 200, "Terms saved.")
	status, body = finB.post(page+"/submit", nil)
	want(t, "ok/maker-resubmits", status, body, 200, "Submitted for approval.")
	status, body = fin2B.post(page+"/approve", nil)
	want(t, "fail/rewriter-approves", status, body, 403, "Version 1 of contract "+cid+" was written by "+fin2.Staff.ID+", who cannot also approve it.")
	status, body = adminB.post(page+"/approve", nil)
	want(t, "ok/third-person-approves", status, body, 200, "Contract approved")
}
