package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/corrections"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// correctionPayments is the console tests' Payments port: the payments the
// test made in the reference core, as apis records them.
type correctionPayments struct {
	mu sync.Mutex
	m  map[string]*corrections.Payment
}

func (p *correctionPayments) Payment(_ context.Context, id string) (*corrections.Payment, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if x, ok := p.m[id]; ok {
		cp := *x
		return &cp, nil
	}
	return nil, corrections.ErrPaymentNotFound
}

var correctionLinkRe = regexp.MustCompile(`/console/corrections/(cor_[0-9a-zA-Z]+)`)

// TestConsoleCorrections: on both engines, finance raises a refund in the
// console, cannot approve it (maker-checker), a risk officer approves it
// and the customer's balance has it back; refusals are shown in words;
// an auditor reads without the forms.
func TestConsoleCorrections(t *testing.T) {
	for _, eng := range dbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			d := eng.Open(t)
			e, _ := consoleEnvOn(t, d, nil, nil)
			ref := core.NewReference(d, core.Options{CursorKey: []byte("k")})
			seedNow := time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)
			if _, err := ref.Seed(context.Background(), core.SeedOptions{Now: seedNow}); err != nil {
				t.Fatal(err)
			}
			alice, err := ref.CustomerByUsername(context.Background(), environment.Sandbox, "alice")
			if err != nil {
				t.Fatal(err)
			}
			accs, _ := ref.Accounts(context.Background(), alice.ID)
			debtor := accs[0]
			if _, err := ref.ExecutePayment(context.Background(), core.PaymentInstruction{PaymentID: "pay_console", DebtorAccountID: debtor.ID,
				Creditor: core.Creditor{SchemeName: core.SchemeSortCodeAccountNumber, Identification: "20000012345678", Name: "Acme"},
				Amount:   money.GBP(10_00), Reference: "INV-1"}); err != nil {
				t.Fatal(err)
			}
			pays := &correctionPayments{m: map[string]*corrections.Payment{"pay_console": {ID: "pay_console", PartnerID: "ptn_c",
				ClientID: "app_c", Environment: environment.Sandbox, CustomerID: alice.ID, Amount: money.GBP(10_00),
				Status: "AcceptedSettlementCompleted", Accepted: true, CreditorName: "Acme", Reference: "INV-1"}}}
			svc := corrections.New(corrections.Config{Store: corrections.NewGormStore(d), Payments: pays, Core: ref, Customers: ref})
			// The corrections pages on a server of their own, sharing the
			// console's sessions (rows in d).
			r := gin.New()
			console := &Console{Pages: MustRenderer(), Sessions: &Sessions{DB: d.DB}, Partners: e.svc, DB: d.DB, Log: e.log}
			console.Register(r)
			(&ConsoleCorrections{Console: console, Corrections: svc}).Register(r)
			e.srv = httptest.NewServer(r)
			t.Cleanup(e.srv.Close)

			_, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
			fin, _ := e.staffBrowser(admin.Staff.ID, "finance@bank.example", staff.RoleFinance)
			officer, _ := e.staffBrowser(admin.Staff.ID, "officer@bank.example", staff.RoleRiskOfficer)
			auditor, _ := e.staffBrowser(admin.Staff.ID, "auditor@bank.example", staff.RoleAuditor)

			status, body := fin.get("/console/corrections")
			want(t, "ok/list", status, body, http.StatusOK, `<a href="/console/corrections" aria-current="page">Corrections</a>`, `id="raise-form"`, "None waiting.")
			status, body = fin.post("/console/corrections", url.Values{"payment_id": {"pay_console"}, "kind": {"refund"},
				"amount": {"10.01"}, "currency": {"GBP"}, "reason": {"too much"}})
			want(t, "fail/over-the-payment", status, body, http.StatusUnprocessableEntity,
				"A refund of 10.01 GBP exceeds payment pay_console (10.00 GBP).", `value="too much"`)
			status, body = fin.post("/console/corrections", url.Values{"payment_id": {"pay_nope"}, "kind": {"refund"},
				"amount": {"1"}, "currency": {"GBP"}, "reason": {"x"}})
			want(t, "fail/unknown-payment", status, body, http.StatusNotFound, "Domestic payment pay_nope not found.")
			status, body = fin.post("/console/corrections", url.Values{"payment_id": {"pay_console"}, "kind": {"refund"},
				"amount": {"2.50"}, "currency": {"GBP"}, "reason": {"damaged parcel"}})
			want(t, "ok/raised", status, body, http.StatusOK, "Correction raised. A second member of staff must approve it.",
				`id="correction-status">pending_approval<`, "2.50 GBP", "You raised this correction", "(you)")
			shows(t, "ok/raised/no-form", body, `id="decide-form"`, false)
			m := correctionLinkRe.FindStringSubmatch(fin.url)
			if m == nil {
				t.Fatalf("no correction id in %s", fin.url)
			}
			id := m[1]
			status, body = fin.post("/console/corrections/"+id+"/decide", url.Values{"decision": {"approve"}, "note": {"mine"}})
			want(t, "fail/maker-is-checker", status, body, http.StatusForbidden, "Correction "+id+" was raised by ")

			status, body = auditor.get("/console/corrections/" + id)
			want(t, "ok/auditor-reads", status, body, http.StatusOK, "Your role reads corrections")
			status, body = auditor.post("/console/corrections", url.Values{"payment_id": {"pay_console"}, "kind": {"refund"}, "amount": {"1"}, "currency": {"GBP"}, "reason": {"x"}})
			want(t, "fail/auditor-raises", status, body, http.StatusForbidden, `Role &#34;auditor&#34; may not corrections.raise.`)

			before, _ := ref.Account(context.Background(), debtor.ID)
			officer.get("/console/corrections/" + id)
			status, body = officer.post("/console/corrections/"+id+"/decide", url.Values{"decision": {"approve"}})
			want(t, "fail/no-note", status, body, http.StatusUnprocessableEntity, "A decision needs a note.")
			status, body = officer.post("/console/corrections/"+id+"/decide", url.Values{"decision": {"approve"}, "note": {"photos checked"}})
			want(t, "ok/approved", status, body, http.StatusOK, "Correction approved and posted: the customer&#39;s account was credited.",
				`id="correction-status">posted<`, "photos checked", `id="correction-left">7.50 GBP<`)
			after, _ := ref.Account(context.Background(), debtor.ID)
			if after.Balance.Minor != before.Balance.Minor+250 {
				t.Fatalf("ok/balance: %d → %d", before.Balance.Minor, after.Balance.Minor)
			}
			status, body = officer.post("/console/corrections/"+id+"/decide", url.Values{"decision": {"reject"}, "note": {"late"}})
			want(t, "fail/decided", status, body, http.StatusConflict, "Correction "+id+" is already posted.")
		})
	}
}
