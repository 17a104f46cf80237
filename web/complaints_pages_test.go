package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/complaints"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/events"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// complaintsNow is the complaint pages' clock: a Friday.
var complaintsNow = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

// complaintPayments is the apis side of the pages' tests.
type complaintPayments map[string]complaints.Payment

func (f complaintPayments) Payment(_ context.Context, id string) (*complaints.Payment, error) {
	p, ok := f[id]
	if !ok {
		return nil, complaints.ErrPaymentNotFound
	}
	return &p, nil
}

func (f complaintPayments) CustomerPayments(_ context.Context, customerID string) ([]complaints.Payment, error) {
	var out []complaints.Payment
	for _, p := range f {
		if p.CustomerID == customerID {
			out = append(out, p)
		}
	}
	return out, nil
}

type complaintEmails map[string]string

func (f complaintEmails) Email(_ context.Context, id string) (string, error) { return f[id], nil }

// complaintsEnvOn serves the customer dashboard (production, alice of
// fakeCustomers), the console and the portal with their complaint pages on d.
func complaintsEnvOn(t *testing.T, d *db.DB) (*pagesEnv, complaintPayments, *complaints.Service) {
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
	pay := complaintPayments{}
	cs, err := complaints.New(complaints.Config{Store: complaints.NewGormStore(d), Payments: pay,
		Customers: complaintEmails{"cus_alice": "alice@example.com"}, Staff: svc.Staff(), Partners: svc, Publisher: events.Discard,
		Now: func() time.Time { return complaintsNow }})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gin.SetMode(gin.TestMode)
	r := gin.New()
	pages, sessions := MustRenderer(), &Sessions{DB: d.DB}
	console := &Console{Pages: pages, Sessions: sessions, Partners: svc, DB: d.DB, Log: log}
	console.Register(r)
	portal := &Portal{Pages: pages, Sessions: sessions, Partners: svc, DB: d.DB, Log: log}
	portal.Register(r)
	(&ConsoleComplaints{Console: console, Complaints: cs}).Register(r)
	(&PortalComplaints{Portal: portal, Complaints: cs}).Register(r)
	(&CustomerDashboard{Environment: environment.Production, Pages: pages, Sessions: sessions, Customers: fakeCustomers{},
		Consents: &fakeConsents{}, Complaints: cs, Log: log}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &pagesEnv{t: t, d: d, svc: svc, srv: srv, log: log}, pay, cs
}

// customerBrowser signs alice in to the production dashboard.
func (e *pagesEnv) customerBrowser() *browser {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{t: e.t, base: e.srv.URL, c: &http.Client{Jar: jar}}
	b.get("/customer/login")
	status, body := b.post("/customer/login", url.Values{"username": {"alice"}, "password": {"pw"}})
	if status != http.StatusOK {
		e.t.Fatalf("customer sign-in: %d\n%s", status, body)
	}
	return b
}

var complaintIDRe = regexp.MustCompile(`reference (cmp_[A-Za-z0-9_-]+)\)`)

// TestComplaintPages: on both engines, the customer reports a payment from
// the dashboard (readable refusals; another customer's payment is a 404
// page; one open complaint per payment), the partner answers once in the
// portal (another partner's complaint is a 404 page), staff see the case
// with its deadline and the answer, and reject it with reasons (role-gated).
func TestComplaintPages(t *testing.T) {
	for _, eng := range dbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e, pay, _ := complaintsEnvOn(t, eng.Open(t))
			adminB, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
			risk, _ := e.staffBrowser(admin.Staff.ID, "risk@bank.example", staff.RoleRiskOfficer)
			auditor, _ := e.staffBrowser(admin.Staff.ID, "auditor@bank.example", staff.RoleAuditor)
			finance, _ := e.staffBrowser(admin.Staff.ID, "finance@bank.example", staff.RoleFinance)
			_, pid := e.livePartner("owner@wallet.example", "Wallet Ltd")
			_, otherPID := e.livePartner("owner@other.example", "Other Ltd")
			pay["pay_1"] = complaints.Payment{ID: "pay_1", ConsentID: "pcn_1", PartnerID: pid, PartnerName: "Wallet Ltd", ClientID: "app_1",
				AppName: "Wallet", Environment: "production", CustomerID: "cus_alice", Amount: money.GBP(12550), Payee: "Corner Shop (SortCodeAccountNumber:40400412345678)",
				Status: "AcceptedSettlementCompleted", CreatedAt: complaintsNow.Add(-time.Hour)}
			pay["pay_bob"] = complaints.Payment{ID: "pay_bob", ConsentID: "pcn_2", PartnerID: otherPID, PartnerName: "Other Ltd", ClientID: "app_2",
				Environment: "production", CustomerID: "cus_bob", Amount: money.GBP(999), Payee: "Landlord", Status: "AcceptedSettlementCompleted",
				CreatedAt: complaintsNow.Add(-time.Hour)}

			// The customer.
			cb := e.customerBrowser()
			status, body := cb.get("/customer/payments")
			want(t, "ok/payments", status, body, http.StatusOK, "<h1>Payments made through apps</h1>", `<a href="/customer/payments" aria-current="page">Payments</a>`,
				"Wallet Ltd", "125.50 GBP", "Corner Shop (SortCodeAccountNumber:40400412345678)", `href="/customer/payments/pay_1/report"`)
			shows(t, "ok/payments-only-hers", body, "pay_bob", false)
			for _, path := range []string{"/customer/payments/pay_bob/report", "/customer/payments/pay_nope/report"} {
				status, body = cb.get(path)
				want(t, "fail/not-hers "+path, status, body, http.StatusNotFound, "We could not find that payment among yours.")
			}
			status, body = cb.get("/customer/payments/pay_1/report")
			want(t, "ok/form", status, body, http.StatusOK, "<h1>Report a problem with a payment</h1>", `value="unauthorised"`, "I did not authorise this payment")
			report := "/customer/payments/pay_1/report"
			for _, tc := range []struct {
				name, path string
				form       url.Values
				status     int
				text       string
				csrfless   bool
			}{
				{"fail/csrf", report, url.Values{"category": {"unauthorised"}, "description": {"x"}}, http.StatusForbidden, "Your session expired. Please try again.", true},
				{"fail/no-category", report, url.Values{"description": {"Not me"}}, http.StatusUnprocessableEntity, `<p class="error" role="alert">Choose what is wrong with the payment.</p>`, false},
				{"fail/unknown-category", report, url.Values{"category": {"fraud"}, "description": {"Not me"}}, http.StatusUnprocessableEntity, "Choose what is wrong with the payment.", false},
				{"fail/no-description", report, url.Values{"category": {"unauthorised"}, "description": {" "}}, http.StatusUnprocessableEntity, `<p class="error" role="alert">Describe the problem.</p>`, false},
				{"fail/another-customers-payment", "/customer/payments/pay_bob/report", url.Values{"category": {"unauthorised"}, "description": {"x"}}, http.StatusNotFound, "We could not find that payment among yours.", false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					var status int
					var body string
					if tc.csrfless {
						status, body = cb.postNoCSRF(tc.path, tc.form)
					} else {
						status, body = cb.post(tc.path, tc.form)
					}
					want(t, tc.name, status, body, tc.status, tc.text)
				})
			}
			status, body = cb.post(report, url.Values{"category": {"wrong_amount"}, "description": {"I was charged twice."}})
			want(t, "ok/report", status, body, http.StatusOK, "Thank you. We received your complaint (reference cmp_")
			cid := complaintIDRe.FindStringSubmatch(body)[1]
			shows(t, "ok/open-badge", body, "Complaint "+cid+" open", true)
			cb.get(report)
			status, body = cb.post(report, url.Values{"category": {"other"}, "description": {"Again"}})
			want(t, "fail/second-open-complaint", status, body, http.StatusConflict, `<p class="error" role="alert">This payment already has an open complaint.</p>`)

			// The partner.
			other := e.browser()
			other.signIn("owner@other.example", testPW)
			status, body = other.get("/portal/orgs/" + otherPID + "/complaints/" + cid)
			want(t, "fail/other-partner", status, body, http.StatusNotFound, "Complaint "+cid+" not found.")
			status, body = other.get("/portal/orgs/" + otherPID + "/complaints")
			want(t, "ok/other-partner-list", status, body, http.StatusOK, "No complaints.")
			status, body = other.post("/portal/orgs/"+otherPID+"/complaints/"+cid+"/answer", url.Values{"answer": {"hi"}})
			want(t, "fail/other-partner-answers", status, body, http.StatusNotFound, "Complaint "+cid+" not found.")
			owner := e.browser()
			owner.signIn("owner@wallet.example", testPW)
			base := "/portal/orgs/" + pid + "/complaints"
			status, body = owner.get(base)
			want(t, "ok/partner-list", status, body, http.StatusOK, `<a href="`+base+`" aria-current="page">Complaints</a>`, cid, "pay_1", "wrong_amount", "11 Dec 2026")
			shows(t, "ok/no-customer-identity", body, "cus_alice", false)
			status, body = owner.get(base + "/" + cid)
			want(t, "ok/partner-detail", status, body, http.StatusOK, "I was charged twice.", `id="answer-form"`)
			shows(t, "ok/no-customer-identity", body, "alice", false)
			status, body = owner.post(base+"/"+cid+"/answer", url.Values{"answer": {" "}})
			want(t, "fail/empty-answer", status, body, http.StatusUnprocessableEntity, `<p class="error" role="alert">Write an answer.</p>`)
			status, body = owner.post(base+"/"+cid+"/answer", url.Values{"answer": {"We charged once; we will check with the payee."}, "agree_refund": {"1"}})
			want(t, "ok/answer", status, body, http.StatusOK, "Answer sent. The bank&#39;s staff see it on the case.", "We charged once; we will check with the payee.", "You agreed to a refund.")
			status, body = owner.post(base+"/"+cid+"/answer", url.Values{"answer": {"Again"}})
			want(t, "fail/answer-twice", status, body, http.StatusConflict, "Complaint "+cid+" was answered already.")

			// Staff.
			page := "/console/complaints/" + cid
			status, body = finance.get("/console/complaints")
			want(t, "fail/finance", status, body, http.StatusForbidden, "Role finance may not complaints.read.")
			shows(t, "fail/finance-nav", body, `<a href="/console/complaints">Complaints</a>`, false)
			status, body = risk.get("/console/complaints?status=open")
			want(t, "ok/list", status, body, http.StatusOK, `<a href="/console/complaints" aria-current="page">Complaints</a>`, cid, "Wallet Ltd", "15 business days left")
			status, body = risk.get("/console/complaints?overdue=1")
			want(t, "ok/overdue-none", status, body, http.StatusOK, "No complaints match.")
			status, body = auditor.get(page)
			want(t, "ok/auditor-reads", status, body, http.StatusOK, "We charged once; we will check with the payee.", "The partner agrees to a refund.",
				"a••••@example.com", "cus_alice", "complaint.opened", "complaint.answered")
			shows(t, "ok/auditor-cannot-handle", body, `id="reject-form"`, false)
			status, body = auditor.post(page+"/reject", url.Values{"reasons": {"no"}})
			want(t, "fail/auditor-rejects", status, body, http.StatusForbidden, `<p class="error" role="alert">Role auditor may not complaints.handle.</p>`)
			status, body = risk.get(page)
			want(t, "ok/handle-forms", status, body, http.StatusOK, `id="reject-form"`, `<form method="post" action="/console/corrections" id="refund-form">`,
				`<input type="hidden" name="complaint_id" value="`+cid+`">`, `<input type="hidden" name="payment_id" value="pay_1">`, `value="125.50"`)
			status, body = risk.post(page+"/assign", nil)
			want(t, "ok/assign", status, body, http.StatusOK, "You now handle this complaint.", `<dd id="complaint-handler">risk@bank.example</dd>`)
			status, body = risk.post(page+"/note", url.Values{"note": {"Checked the core: one debit."}})
			want(t, "ok/note", status, body, http.StatusOK, "Note added.", "Checked the core: one debit.")
			status, body = risk.post(page+"/reject", url.Values{"reasons": {" "}})
			want(t, "fail/no-reasons", status, body, http.StatusUnprocessableEntity, `<p class="error" role="alert">Give the reasons for rejecting the complaint.</p>`)
			status, body = risk.post(page+"/reject", url.Values{"reasons": {"Our core shows a single debit of 125.50 GBP."}})
			want(t, "ok/reject", status, body, http.StatusOK, "Complaint rejected. The customer was mailed the outcome and your reasons; the partner was told.",
				"Rejected by risk@bank.example", "Our core shows a single debit of 125.50 GBP.")
			shows(t, "ok/no-forms-once-resolved", body, `id="reject-form"`, false)
			status, body = adminB.post(page+"/reject", url.Values{"reasons": {"again"}})
			want(t, "fail/reject-twice", status, body, http.StatusConflict, "Complaint "+cid+" is resolved already.")
			ms, err := mail.List(context.Background(), e.d.DB, "alice@example.com", 10)
			if err != nil || len(ms) != 2 || !strings.Contains(ms[0].Body, "Our core shows a single debit of 125.50 GBP.") {
				t.Fatalf("customer mails %+v %v", ms, err)
			}
			status, body = cb.get("/customer/payments")
			want(t, "ok/customer-sees-outcome", status, body, http.StatusOK, "Complaint "+cid+" rejected", `href="/customer/payments/pay_1/report"`)
		})
	}
}
