package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// reconNow is the reconciliation pages' clock; reconDay the day reconciled.
var (
	reconNow = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	reconDay = "2026-12-03"
)

// reconDays is the platform side of the console tests' reconciliation: the
// payments of each partner's day (apis in production).
type reconDays struct {
	mu   sync.Mutex
	days map[string][]apis.ReconciledPayment
}

func (r *reconDays) set(partnerID string, ps ...apis.ReconciledPayment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.days == nil {
		r.days = map[string][]apis.ReconciledPayment{}
	}
	r.days[partnerID] = ps
}

func (r *reconDays) ReconciliationOf(_ context.Context, partnerID string, env environment.Environment, day string) (*apis.Reconciliation, error) {
	d, err := apis.ParseDay(day)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return &apis.Reconciliation{Day: d, PartnerID: partnerID, Environment: env, Final: true, Payments: r.days[partnerID]}, nil
}

func bookedPayment(id string, minor int64) apis.ReconciledPayment {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	return apis.ReconciledPayment{Payment: apis.Payment{ID: id, Amount: money.GBP(minor), Status: apis.PaymentAcceptedSettlementCompleted},
		BookedAt: at, Entry: &apis.CoreEntry{TransactionID: "txn_" + id, Amount: money.GBP(minor), BookedAt: at}}
}

var breakLinkRe = regexp.MustCompile(`/console/reconciliation/breaks/(rcb_[0-9a-z]+)"`)

var versionRe = regexp.MustCompile(`name="version" value="(\d+)"`)

// TestConsoleRecon: on both engines, finance sees the Reconciliation breaks
// entry and the list with its filters, assigns and resolves a break with a
// code and a note (a stale form is refused), reopens it, recomputes a day
// and closes it; auditors read without the forms; partner managers and risk
// officers get neither.
func TestConsoleRecon(t *testing.T) {
	for _, eng := range dbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e, _ := consoleEnvOn(t, eng.Open(t), nil, nil)
			_, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
			fin, _ := e.staffBrowser(admin.Staff.ID, "finance@bank.example", staff.RoleFinance)
			e.reconDays.set("ptn_r", bookedPayment("pay_r1", 10_00), bookedPayment("pay_r2", 5_00))
			day, _ := apis.ParseDay(reconDay)
			rcpt, err := e.recon.UploadRecord(context.Background(), "ptn_r", environment.Production, day, "app_r", []apis.RecordedPayment{
				{Line: 2, PaymentID: "pay_r1", Amount: money.GBP(10_00), Status: apis.PaymentAcceptedSettlementCompleted},
				{Line: 3, PaymentID: "pay_r2", Amount: money.GBP(5_01), Status: apis.PaymentAcceptedSettlementCompleted}})
			if err != nil || rcpt.OpenBreaks != 1 {
				t.Fatalf("upload %v %+v", err, rcpt)
			}

			for _, tc := range []struct {
				name string
				role staff.Role
			}{
				{"fail/partner-manager", staff.RolePartnerManager},
				{"fail/risk-officer", staff.RoleRiskOfficer},
			} {
				t.Run(tc.name, func(t *testing.T) {
					b, _ := e.staffBrowser(admin.Staff.ID, string(tc.role)+"@bank.example", tc.role)
					_, partners := b.get("/console/partners")
					shows(t, tc.name+"/nav", partners, `<a href="/console/reconciliation/breaks">Reconciliation breaks</a>`, false)
					status, body := b.get("/console/reconciliation/breaks")
					want(t, tc.name, status, body, http.StatusForbidden, "Role &#34;"+string(tc.role)+"&#34; may not recon_breaks.read.")
				})
			}
			status, body := fin.get("/console/reconciliation/breaks")
			want(t, "list", status, body, http.StatusOK, `<a href="/console/reconciliation/breaks" aria-current="page">Reconciliation breaks</a>`,
				"<code>pay_r2</code>", "<code>amount_differs</code>", "5.00 GBP", "5.01 GBP", `id="recompute-form"`)
			m := breakLinkRe.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no break link:\n%s", body)
			}
			id := m[1]
			page := "/console/reconciliation/breaks/" + id
			t.Run("ok/filters", func(t *testing.T) {
				_, body := fin.get("/console/reconciliation/breaks?status=resolved")
				want(t, "resolved", http.StatusOK, body, http.StatusOK, "No breaks match.")
				_, body = fin.get("/console/reconciliation/breaks?status=open&partner=ptn_other")
				want(t, "other partner", http.StatusOK, body, http.StatusOK, "No breaks match.")
				_, body = fin.get("/console/reconciliation/breaks?status=all&partner=ptn_r&day=" + reconDay)
				want(t, "partner and day", http.StatusOK, body, http.StatusOK, "<code>pay_r2</code>")
			})
			t.Run("ok/auditor-reads", func(t *testing.T) {
				b, _ := e.staffBrowser(admin.Staff.ID, "auditor@bank.example", staff.RoleAuditor)
				status, body := b.get(page)
				want(t, "break", status, body, http.StatusOK, `id="break-kind">amount_differs<`, "Your role reads breaks; finance resolves them.")
				shows(t, "no forms", body, `id="resolve-form"`, false)
				status, body = b.post(page+"/resolve", url.Values{"version": {"1"}, "resolution": {"write_off"}, "note": {"x"}})
				want(t, "resolve", status, body, http.StatusForbidden, "Role &#34;auditor&#34; may not recon_breaks.resolve.")
			})
			t.Run("ok/finance-workflow", func(t *testing.T) {
				_, body := fin.get(page)
				want(t, "page", http.StatusOK, body, http.StatusOK, `id="resolve-form"`, `id="break-bank">5.00 GBP<`, `id="break-partner">5.01 GBP`, "recon_break.opened")
				v := versionRe.FindStringSubmatch(body)[1]
				status, body := fin.post(page+"/assign", url.Values{"version": {v}, "assignee": {"finance@bank.example"}})
				want(t, "assign", status, body, http.StatusOK, "Break assigned.", `id="break-assignee">finance@bank.example<`)
				status, body = fin.post(page+"/resolve", url.Values{"version": {v}, "resolution": {"write_off"}, "note": {"x"}})
				want(t, "stale form", status, body, http.StatusConflict, "Break "+id+" was changed by someone else meanwhile; reload it.")
				v = versionRe.FindStringSubmatch(body)[1]
				status, body = fin.post(page+"/resolve", url.Values{"version": {v}, "resolution": {"write_off"}, "note": {" "}})
				want(t, "no note", status, body, http.StatusUnprocessableEntity, "A note is required.")
				status, body = fin.post(page+"/resolve", url.Values{"version": {v}, "resolution": {"fixed"}, "note": {"x"}})
				want(t, "bad code", status, body, http.StatusUnprocessableEntity,
					"Resolution &#34;fixed&#34; is not one of partner_corrected, bank_corrected, write_off, duplicate.")
				status, body = fin.post(page+"/resolve", url.Values{"version": {v}, "resolution": {"partner_corrected"}, "note": {"partner fixed its ledger"}})
				want(t, "resolve", status, body, http.StatusOK, "Break resolved.", `id="break-status">resolved<`, "partner_corrected", `id="reopen-form"`)
				v = versionRe.FindStringSubmatch(body)[1]
				status, body = fin.post(page+"/reopen", url.Values{"version": {v}, "note": {"not fixed"}})
				want(t, "reopen", status, body, http.StatusOK, "Break reopened.", `id="break-status">open<`)
				status, body = fin.post("/console/reconciliation/days/"+dayID(t, e, id)+"/close", url.Values{"break": {id}})
				want(t, "close open", status, body, http.StatusConflict, "The reconciliation of "+reconDay+" has 1 open break(s): resolve them first.")
				// The partner's ledger is right after all: recomputing against a
				// corrected platform day closes the break as matched.
				e.reconDays.set("ptn_r", bookedPayment("pay_r1", 10_00), bookedPayment("pay_r2", 5_01))
				status, body = fin.post("/console/reconciliation/recompute", url.Values{"partner": {"ptn_r"}, "environment": {"production"}, "day": {"2026-12-3"}})
				want(t, "bad day", status, body, http.StatusBadRequest, "Date &#34;2026-12-3&#34; is not a day in the form YYYY-MM-DD.")
				status, body = fin.post("/console/reconciliation/recompute", url.Values{"partner": {"ptn_r"}, "environment": {"production"}, "day": {reconDay}})
				want(t, "recompute", status, body, http.StatusOK, "Recomputed: 0 open break(s).", "matched")
				status, body = fin.post("/console/reconciliation/days/"+dayID(t, e, id)+"/close", url.Values{"break": {id}})
				want(t, "close", status, body, http.StatusOK, "Day closed: the partner can no longer replace its record.", `id="day-closed"`)
				shows(t, "no reopen after close", body, `id="reopen-form"`, false)
			})
		})
	}
}

func dayID(t *testing.T, e *pagesEnv, breakID string) string {
	t.Helper()
	var id string
	if err := e.d.DB.Raw("SELECT day_id FROM recon_breaks WHERE id = ?", breakID).Scan(&id).Error; err != nil || id == "" {
		t.Fatal(fmt.Sprint("day of ", breakID, ": ", err))
	}
	return id
}
