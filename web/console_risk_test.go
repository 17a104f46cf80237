package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/risk"
)

// The risk pages' clock: cases open at riskCaseOpened and are looked at 25 h
// later (past the 24 h limit).
var (
	riskCaseOpened = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	riskCaseNow    = riskCaseOpened.Add(25 * time.Hour)
)

// fakeRiskPayments is the payments side of the console tests' case queue.
type fakeRiskPayments struct {
	mu       sync.Mutex
	released []string
	rejected []string
}

func (f *fakeRiskPayments) ReleaseHeld(_ context.Context, id string, _ risk.Actor) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, id)
	return nil
}

func (f *fakeRiskPayments) Execute(context.Context, string, risk.Actor) error { return nil }

func (f *fakeRiskPayments) RejectHeld(_ context.Context, id, _ string, _ risk.Actor) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejected = append(f.rejected, id)
	return nil
}

func (e *pagesEnv) heldCase(payment string, minor int64) *risk.Case {
	e.t.Helper()
	c, err := e.risk.OpenCase(context.Background(), risk.NewCase{PaymentID: payment, ConsentID: "pcn_" + payment, PartnerID: "ptn_w",
		ClientID: "app_w", Environment: environment.Production, CustomerID: "cus_w", Amount: money.GBP(minor),
		CreditorName: "Ivan Listed", CreditorAccount: "UK.OBIE.SortCodeAccountNumber:20000012345678",
		Assessment: risk.Assessment{Score: 65, Decision: risk.DecisionHold,
			Reasons: []risk.Reason{{Code: "screening_match", Detail: `payee name matches "IVAN LISTED"`, Points: 30}},
			Matches: []risk.Match{{Name: "IVAN LISTED", List: "OFAC SDN", Reference: "OFAC-9", Score: 97}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

var sarLinkRe = regexp.MustCompile(`/console/risk/sars/(sar_[0-9a-z]+)/export`)

// TestConsoleRisk: on both engines, risk officers see the Risk cases entry,
// the queue with the overdue case highlighted, decide below the dual-control
// amount alone and above it with a second officer (the proposer cannot
// approve), and file reports; admins read the queue and cases without the
// forms or the reports; finance and auditors get neither.
func TestConsoleRisk(t *testing.T) {
	for _, eng := range dbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e, _ := consoleEnvOn(t, eng.Open(t), nil, nil)
			_, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
			small := e.heldCase("pay_small", 25_00)
			big := e.heldCase("pay_big", 10_000_00)
			officer, _ := e.staffBrowser(admin.Staff.ID, "officer1@bank.example", staff.RoleRiskOfficer)
			officer2, _ := e.staffBrowser(admin.Staff.ID, "officer2@bank.example", staff.RoleRiskOfficer)

			for _, tc := range []struct {
				name string
				role staff.Role
				ok   bool
			}{
				{"fail/finance", staff.RoleFinance, false},
				{"fail/auditor", staff.RoleAuditor, false},
				{"fail/partner-manager", staff.RolePartnerManager, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					b, _ := e.staffBrowser(admin.Staff.ID, string(tc.role)+"@bank.example", tc.role)
					_, partners := b.get("/console/partners")
					shows(t, tc.name+"/nav", partners, `<a href="/console/risk/cases">Risk cases</a>`, false)
					status, body := b.get("/console/risk/cases")
					want(t, tc.name, status, body, http.StatusForbidden, "Role "+string(tc.role)+" may not risk_cases.read.")
				})
			}
			t.Run("ok/admin-reads", func(t *testing.T) {
				b, _ := e.staffBrowser(admin.Staff.ID, "admin2@bank.example", staff.RoleAdmin)
				status, body := b.get("/console/risk/cases")
				want(t, "queue", status, body, http.StatusOK, `<a href="/console/risk/cases" aria-current="page">Risk cases</a>`,
					`<tr class="overdue">`, "25 h 00 min", `<span class="badge bad">overdue</span>`, "25.00 GBP", "10000.00 GBP <span class=\"badge\">two officers</span>", "Ivan Listed")
				status, body = b.get("/console/risk/cases/" + small.ID)
				want(t, "case", status, body, http.StatusOK, `id="case-score">65 / 100`, "screening_match", "OFAC-9", "cus_w", "pay_small",
					"Your role reads cases; risk officers decide them.")
				shows(t, "case/no-form", body, `id="decide-form"`, false)
				shows(t, "case/no-reports", body, "Suspicious activity reports", false)
				status, body = b.post("/console/risk/cases/"+small.ID+"/decide", url.Values{"decision": {"release"}, "note": {"x"}})
				want(t, "decide", status, body, http.StatusForbidden, "Role admin may not risk_cases.decide.")
			})
			t.Run("fail/note-required", func(t *testing.T) {
				officer.get("/console/risk/cases/" + small.ID)
				status, body := officer.post("/console/risk/cases/"+small.ID+"/decide", url.Values{"decision": {"release"}})
				want(t, "no note", status, body, http.StatusUnprocessableEntity, "A decision needs a note.")
			})
			t.Run("ok/one-officer-below-the-amount", func(t *testing.T) {
				officer.get("/console/risk/cases/" + small.ID)
				status, body := officer.post("/console/risk/cases/"+small.ID+"/decide", url.Values{"decision": {"release"}, "note": {"known payee"}})
				want(t, "release", status, body, http.StatusOK, "Payment released: it was sent to the bank&#39;s core.",
					`id="case-status">released<`, "known payee")
				if len(e.riskPay.released) != 1 || e.riskPay.released[0] != "pay_small" {
					t.Fatalf("released %v", e.riskPay.released)
				}
			})
			t.Run("ok/dual-control", func(t *testing.T) {
				officer.get("/console/risk/cases/" + big.ID)
				status, body := officer.post("/console/risk/cases/"+big.ID+"/decide", url.Values{"decision": {"reject"}, "note": {"mule"}})
				want(t, "propose", status, body, http.StatusOK, "Decision proposed. A second risk officer must approve it.", `id="case-proposal"`, "(you)")
				status, body = officer.post("/console/risk/cases/"+big.ID+"/decide", url.Values{"decision": {"reject"}, "note": {"again"}})
				want(t, "self-approve", status, body, http.StatusForbidden,
					"Risk case "+big.ID+" was proposed by ")
				officer2.get("/console/risk/cases/" + big.ID)
				status, body = officer2.post("/console/risk/cases/"+big.ID+"/decide", url.Values{"decision": {"reject"}, "note": {"agreed"}})
				want(t, "approve", status, body, http.StatusOK, "Payment rejected. The partner has been told.", `id="case-status">rejected<`)
				if len(e.riskPay.rejected) != 1 || e.riskPay.rejected[0] != "pay_big" {
					t.Fatalf("rejected %v", e.riskPay.rejected)
				}
				_, body = officer.get("/console/risk/cases")
				want(t, "empty queue", http.StatusOK, body, http.StatusOK, "No open cases.")
			})
			t.Run("ok/report", func(t *testing.T) {
				officer.get("/console/risk/cases/" + big.ID)
				status, body := officer.post("/console/risk/cases/"+big.ID+"/sars", url.Values{"narrative": {" "}})
				want(t, "empty narrative", status, body, http.StatusUnprocessableEntity, "A suspicious activity report needs a narrative.")
				status, body = officer.post("/console/risk/cases/"+big.ID+"/sars", url.Values{"narrative": {"layering through new payees"}})
				want(t, "file", status, body, http.StatusOK, "Suspicious activity report filed.")
				m := sarLinkRe.FindStringSubmatch(body)
				if m == nil {
					t.Fatalf("no report link:\n%s", body)
				}
				status, body = officer.get(m[0])
				want(t, "export", status, body, http.StatusOK, `"format": "bankbridge.sar.v1"`, `"narrative": "layering through new payees"`, `"action": "sar.filed"`)
				b, _ := e.staffBrowser(admin.Staff.ID, "admin3@bank.example", staff.RoleAdmin)
				status, body = b.get(m[0])
				want(t, "admin export", status, body, http.StatusForbidden, "Role admin may not sars.read.")
			})
		})
	}
}
