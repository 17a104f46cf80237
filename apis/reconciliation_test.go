package apis_test

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
)

const reconPath = apis.BasePath + "/reconciliation/"

// reconDay is the UTC day of the service clock (seedNow + 1 h).
var reconDay = seedNow.Format(apis.DayLayout)

// TestReconciliation: a partner lists its payments of one UTC day as JSON or
// CSV, never another partner's or environment's; the totals are the sums of
// the listed payments; final once the day has ended with nothing Pending.
func TestReconciliation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		store := apis.NewGormStore(d)
		p := e.partner("ptn_recon", environment.Sandbox)
		other := e.partner("ptn_recon_other", environment.Sandbox)
		alice, bob := e.customer("alice"), e.customer("bob")
		cur, bobCur := alice.account(core.AccountCurrent), bob.account(core.AccountCurrent)
		pay := func(p *partner, cust *customer, debtor, amount, ref string) string {
			in := initiation(amount, externalCreditor, "Acme Ltd", ref)
			cid, tok := p.paymentConsent(cust, debtor, in)
			r := e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, in))
			wantStatus(t, r, 201)
			e.clock.add(time.Minute) // creation order is the list's order
			return r.data(t)["DomesticPaymentId"].(string)
		}
		mine := []string{pay(p, alice, cur.ID, "5.00", "R-1"), pay(p, alice, cur.ID, "12.34", "R-2")}
		theirs := pay(other, bob, bobCur.ID, "7.00", "O-1")
		// An injected EUR payment, Pending (never sent to the core), of p.
		pending := &apis.Payment{ID: ids.New("pay"), ConsentID: ids.New("pcn"), PartnerID: p.id, ClientID: p.app,
			Environment: environment.Sandbox, DebtorAccountID: cur.ID, Amount: money.Money{Minor: 250, Currency: "EUR"},
			Initiation: &apis.Initiation{InstructionIdentification: "instr,\"q\"", EndToEndIdentification: "e2e-eur",
				InstructedAmount: apis.OBAmount{Amount: "2.50", Currency: "EUR"}},
			Status: apis.PaymentPending, CustomerID: alice.id, CreditorAccount: "UK.OBIE.SortCodeAccountNumber:" + externalCreditor,
			CreatedAt: e.clock.now(), StatusUpdatedAt: e.clock.now()}

		t.Run("fail/refusals", func(t *testing.T) {
			e.t = t
			e.verifier.add("recon-accounts-only", &oauth.AccessContext{ClientID: p.app, PartnerID: p.id, Environment: environment.Sandbox,
				Scopes: []string{apis.ScopeAccounts}})
			for _, tc := range []struct {
				name, path, token string
				opts              []reqOpt
				status            int
				code, detail      string
			}{
				{name: "fail/bad date form", path: reconPath + "2026-6-15", token: p.token,
					status: 400, code: "invalid_request", detail: `date "2026-6-15" is not a day in the form YYYY-MM-DD`},
				{name: "fail/no such day", path: reconPath + "2026-02-30", token: p.token,
					status: 400, code: "invalid_request", detail: `date "2026-02-30" is not a day in the form YYYY-MM-DD`},
				{name: "fail/date-time", path: reconPath + "2026-06-15T00:00:00Z", token: p.token,
					status: 400, code: "invalid_request", detail: `date "2026-06-15T00:00:00Z" is not a day in the form YYYY-MM-DD`},
				{name: "fail/no token", path: reconPath + reconDay,
					status: 401, code: "invalid_token", detail: "DPoP access token required"},
				{name: "fail/unknown token", path: reconPath + reconDay, token: "cc-unknown",
					status: 401, code: "invalid_token", detail: "token unknown or expired"},
				{name: "fail/no DPoP proof", path: reconPath + reconDay, token: p.token, opts: []reqOpt{noDPoP()},
					status: 401, code: "invalid_dpop_proof", detail: "DPoP proof missing"},
				{name: "fail/wrong scope", path: reconPath + reconDay, token: "recon-accounts-only",
					status: 403, code: "insufficient_scope", detail: "the access token lacks scope payments"},
				{name: "fail/unacceptable Accept", path: reconPath + reconDay, token: p.token, opts: []reqOpt{withHeader("Accept", "text/html")},
					status: 406, code: "not_acceptable", detail: `Accept "text/html": this resource is application/json or text/csv`},
				{name: "fail/unacceptable Accept before the date", path: reconPath + "nonsense", token: p.token, opts: []reqOpt{withHeader("Accept", "application/xml")},
					status: 406, code: "not_acceptable", detail: `Accept "application/xml": this resource is application/json or text/csv`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e.t = t
					wantProblem(t, e.do("GET", tc.path, tc.token, nil, tc.opts...), tc.status, tc.code, tc.detail)
				})
			}
			if got := problem.CodeNotAcceptable.Status(); got != 406 {
				t.Fatalf("not_acceptable status %d", got)
			}
		})

		t.Run("ok/json lists the day's own payments with totals", func(t *testing.T) {
			e.t = t
			r := e.do("GET", reconPath+reconDay, p.token, nil)
			wantStatus(t, r, 200)
			golden(t, "reconciliation", r.body)
			d := r.data(t)
			ps := d["Payments"].([]any)
			if len(ps) != 2 || ps[0].(map[string]any)["DomesticPaymentId"] != mine[0] || ps[1].(map[string]any)["DomesticPaymentId"] != mine[1] {
				t.Fatalf("payments %s", r.body)
			}
			if d["Final"] != false {
				t.Fatalf("final before the day ended: %s", r.body)
			}
			// Metered like every partner call: a billable payments-product call.
			var metered int
			for _, u := range e.usage.forApp(p.app) {
				if u.Product == apis.ProductPayments && u.Kind == "call" && u.Billable && u.Status == 200 {
					metered++
				}
			}
			if metered == 0 {
				t.Fatalf("the reconciliation call was not metered: %+v", e.usage.forApp(p.app))
			}
			// Another day: empty, not null.
			r = e.do("GET", reconPath+"2026-06-14", p.token, nil)
			wantStatus(t, r, 200)
			if d := r.data(t); len(d["Payments"].([]any)) != 0 || len(d["Totals"].([]any)) != 0 {
				t.Fatalf("other day %s", r.body)
			}
		})

		t.Run("ok/another partner's and environment's payments never appear", func(t *testing.T) {
			e.t = t
			r := e.do("GET", reconPath+reconDay, other.token, nil)
			wantStatus(t, r, 200)
			ps := r.data(t)["Payments"].([]any)
			if len(ps) != 1 || ps[0].(map[string]any)["DomesticPaymentId"] != theirs {
				t.Fatalf("other partner sees %s", r.body)
			}
			for _, id := range mine {
				if bytes.Contains(r.body, []byte(id)) {
					t.Fatalf("other partner sees %s", id)
				}
			}
			prod := e.partner(p.id, environment.Production) // the same partner's production app
			r = e.do("GET", reconPath+reconDay, prod.token, nil)
			wantStatus(t, r, 200)
			if d := r.data(t); len(d["Payments"].([]any)) != 0 || d["Environment"] != "production" {
				t.Fatalf("production sees %s", r.body)
			}
		})

		t.Run("ok/final once the day is closed and nothing is Pending", func(t *testing.T) {
			e.t = t
			if err := store.CreatePayment(ctx, pending); err != nil {
				t.Fatal(err)
			}
			final := func() bool {
				r := e.do("GET", reconPath+reconDay, p.token, nil)
				wantStatus(t, r, 200)
				return r.data(t)["Final"].(bool)
			}
			e.clock.set(seedNow.Truncate(24 * time.Hour).Add(24*time.Hour - time.Microsecond))
			if final() {
				t.Fatal("final before midnight")
			}
			e.clock.set(seedNow.Truncate(24 * time.Hour).Add(24 * time.Hour))
			if final() {
				t.Fatal("final with a Pending payment")
			}
			pending.Status, pending.RejectReason, pending.StatusUpdatedAt = apis.PaymentRejected, "test", e.clock.now()
			if err := store.SetPaymentStatus(ctx, pending, apis.PaymentPending); err != nil {
				t.Fatal(err)
			}
			if !final() {
				t.Fatal("not final after the day closed with nothing Pending")
			}
		})

		t.Run("ok/csv parses and its sums equal the totals", func(t *testing.T) {
			e.t = t
			js := e.do("GET", reconPath+reconDay, p.token, nil, withHeader("Accept", "application/json"))
			wantStatus(t, js, 200)
			r := e.do("GET", reconPath+reconDay, p.token, nil, withHeader("Accept", "text/csv"))
			wantStatus(t, r, 200)
			if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=utf-8; header=present" {
				t.Fatalf("Content-Type %q", ct)
			}
			rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
			if err != nil {
				t.Fatalf("csv: %v\n%s", err, r.body)
			}
			if len(rows) != 4 || !equalRow(rows[0], apis.ReconciliationCSVHeader) {
				t.Fatalf("csv rows %q", rows)
			}
			if rows[3][2] != "instr,\"q\"" || rows[3][6] != apis.PaymentRejected {
				t.Fatalf("quoted row %q", rows[3])
			}
			type key struct{ cur, status string }
			sums, counts := map[key]int64{}, map[key]int64{}
			for _, row := range rows[1:] {
				minor, err := money.ParseAmount(row[4], row[5])
				if err != nil {
					t.Fatal(err)
				}
				sums[key{row[5], row[6]}] += minor
				counts[key{row[5], row[6]}]++
			}
			totals := js.data(t)["Totals"].([]any)
			if len(totals) != len(sums) {
				t.Fatalf("totals %v, csv sums %v", totals, sums)
			}
			for _, x := range totals {
				tot := x.(map[string]any)
				k := key{tot["Currency"].(string), tot["Status"].(string)}
				minor, err := money.ParseAmount(tot["Amount"].(string), k.cur)
				if err != nil || minor != sums[k] || int64(tot["Count"].(float64)) != counts[k] {
					t.Fatalf("total %v, csv sum %d count %d", tot, sums[k], counts[k])
				}
			}
			if sums[key{"GBP", apis.PaymentAcceptedSettlementInProcess}]+sums[key{"GBP", apis.PaymentAcceptedSettlementCompleted}] != 1734 ||
				sums[key{"EUR", apis.PaymentRejected}] != 250 {
				t.Fatalf("sums %v", sums)
			}
		})
	})
}

func equalRow(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzParseDay: ParseDay accepts exactly the days that format back to the
// same string.
func FuzzParseDay(f *testing.F) {
	for _, s := range []string{"2026-06-15", "2026-6-15", "2026-02-30", "", "0000-01-01", "2026-06-15T00:00:00Z", "+2026-06-15"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := apis.ParseDay(s)
		if err != nil {
			if problem.CodeOf(err) != problem.CodeInvalidRequest {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if d.Format(apis.DayLayout) != s || d.Location() != time.UTC || d.Hour() != 0 {
			t.Fatalf("%q parsed as %v", s, d)
		}
	})
}
