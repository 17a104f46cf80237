package apis_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/recon"
)

// reconFee is the payment fee of the test contract: 0.20 plus 1.5 %.
var reconFee = contracts.PaymentFee{FixedMinor: 20, BPS: 150}

// contractFee is apis' FeeTerms port as cmd/bankbridge wires it, on a
// fixed GBP contract fee: the fee is contracts.PaymentFees.
type contractFee struct{}

func (contractFee) PaymentFee(context.Context, string) (apis.PaymentFeeRule, bool, error) {
	return apis.PaymentFeeRule{Currency: "GBP", Fee: func(n, v int64) int64 {
		f, b := contracts.PaymentFees(reconFee, n, v)
		return f + b
	}}, true, nil
}

// newReconEnv is newEnv with contract fees and package recon behind the
// partner-record and breaks resources.
func newReconEnv(t *testing.T, d *db.DB) (*env, *recon.Service) {
	e := newEnv(t, d, func(c *apis.Config) { c.Fees = contractFee{} })
	rs := recon.New(recon.Config{Store: recon.NewGormStore(d), Days: e.svc, Now: e.clock.now})
	h := apis.NewHandler(apis.HandlerConfig{Service: e.svc, Verifier: e.verifier, Usage: e.usage, BaseURL: baseURL, Reconciler: rs})
	engine := gin.New()
	h.Register(engine)
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	e.srv = srv
	return e, rs
}

func withCSV() reqOpt { return withHeader("Content-Type", "text/csv") }

// TestReconciliationBreaks is the Verify item: a day of N payments,
// the partner's record with exactly one injected break (an amount changed)
// reports exactly that break; the CSV parses with encoding/csv, its total
// equals the core's booked debit entries of those payments and its fees
// the contracts' computation; recomputation is idempotent and a corrected
// record closes the break as matched; another partner sees and changes
// nothing of it; the refusals are exact.
func TestReconciliationBreaks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e, rs := newReconEnv(t, d)
		a := e.partner("ptn_recon_a", environment.Sandbox)
		b := e.partner("ptn_recon_b", environment.Sandbox)
		alice := e.customer("alice")
		cur := alice.account(core.AccountCurrent)
		amounts := []string{"5.00", "12.34", "0.99", "100.00", "7.77"}
		var ids []string
		for i, amt := range amounts {
			in := initiation(amt, externalCreditor, "Acme Ltd", fmt.Sprintf("R-%d", i))
			cid, tok := a.paymentConsent(alice, cur.ID, in)
			r := e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, in))
			wantStatus(t, r, 201)
			ids = append(ids, r.data(t)["DomesticPaymentId"].(string))
			e.clock.add(time.Minute)
		}
		path := reconPath + reconDay

		// The report as CSV, read with encoding/csv.
		r := e.do("GET", path, a.token, nil, withHeader("Accept", "text/csv"))
		wantStatus(t, r, 200)
		rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil || len(rows) != len(amounts)+1 {
			t.Fatalf("csv %v %q", err, r.body)
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		var sum, feeSum int64
		for i, row := range rows[1:] {
			minor, err := money.ParseAmount(row[col["Amount"]], row[col["Currency"]])
			if err != nil {
				t.Fatal(err)
			}
			sum += minor
			fixed, byValue := contracts.PaymentFees(reconFee, 1, minor)
			if want := money.FormatAmount(fixed+byValue, "GBP"); row[col["Fee"]] != want || row[col["FeeCurrency"]] != "GBP" {
				t.Fatalf("row %d fee %q %q, want %s GBP", i, row[col["Fee"]], row[col["FeeCurrency"]], want)
			}
			feeSum += fixed + byValue
			if row[col["ValueDate"]] != reconDay || row[col["DomesticPaymentId"]] != ids[i] {
				t.Fatalf("row %d %q", i, row)
			}
		}
		// The core's booked debit entries of those payments.
		var booked int64
		page, err := e.core.Transactions(ctx, cur.ID, core.TransactionQuery{CreditDebit: core.Debit, Limit: core.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		entries := map[string]core.Transaction{}
		for _, tx := range page.Transactions {
			entries[tx.ID] = tx
		}
		for _, id := range ids {
			res, err := e.core.Payment(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			tx, ok := entries[res.DebitTransactionID]
			if !ok || tx.Status != core.StatusBooked {
				t.Fatalf("payment %s: no booked debit entry %s", id, res.DebitTransactionID)
			}
			booked += tx.Amount.Minor
		}
		if sum != booked || sum != 12610 {
			t.Fatalf("csv total %d, core's booked debits %d", sum, booked)
		}
		// The JSON totals: amount and the contracts' fee of the day.
		js := e.do("GET", path, a.token, nil)
		wantStatus(t, js, 200)
		tots := js.data(t)["Totals"].([]any)
		fixed, byValue := contracts.PaymentFees(reconFee, int64(len(amounts)), booked)
		if len(tots) != 1 {
			t.Fatalf("totals %s", js.body)
		}
		tot := tots[0].(map[string]any)
		fee := tot["Fee"].(map[string]any)
		if tot["Amount"] != money.FormatAmount(booked, "GBP") || fee["Amount"] != money.FormatAmount(fixed+byValue, "GBP") || fee["Currency"] != "GBP" {
			t.Fatalf("totals %v, want %d and fee %d", tot, booked, fixed+byValue)
		}
		if d := feeSum - (fixed + byValue); d < -int64(len(amounts)) || d > int64(len(amounts)) {
			t.Fatalf("per-payment fees %d vs day's fee %d", feeSum, fixed+byValue)
		}

		// The partner's record: our CSV with one amount changed.
		record := func(change func(row []string)) []byte {
			var buf bytes.Buffer
			w := csv.NewWriter(&buf)
			for i, row := range rows {
				row = append([]string(nil), row...)
				if i > 0 && change != nil {
					change(row)
				}
				_ = w.Write(row)
			}
			w.Flush()
			return buf.Bytes()
		}
		injected := record(func(row []string) {
			if row[col["DomesticPaymentId"]] == ids[2] {
				row[col["Amount"]] = "1.99"
			}
		})
		upload := e.do("PUT", path+"/partner-record", a.token, injected, withCSV())
		wantStatus(t, upload, 200)
		if dd := upload.data(t); dd["Payments"] != float64(len(amounts)) || dd["OpenBreaks"] != float64(1) || dd["Replaced"] != false {
			t.Fatalf("upload %s", upload.body)
		}
		breaks := func(p *partner) []map[string]any {
			r := e.do("GET", path+"/breaks", p.token, nil)
			wantStatus(t, r, 200)
			var out []map[string]any
			for _, x := range r.data(t)["Breaks"].([]any) {
				out = append(out, x.(map[string]any))
			}
			return out
		}
		bs := breaks(a)
		if len(bs) != 1 || bs[0]["Kind"] != apis.BreakAmountDiffers || bs[0]["DomesticPaymentId"] != ids[2] ||
			bs[0]["BankValue"] != "0.99 GBP" || bs[0]["PartnerValue"] != "1.99 GBP" || bs[0]["CoreValue"] != "0.99 GBP" || bs[0]["Status"] != "open" {
			t.Fatalf("breaks %v", bs)
		}
		first := bs[0]["BreakId"]

		t.Run("ok/the same record again: the same single break", func(t *testing.T) {
			e.t = t
			r := e.do("PUT", path+"/partner-record", a.token, injected, withCSV())
			wantStatus(t, r, 200)
			if r.data(t)["Replaced"] != true {
				t.Fatalf("upload %s", r.body)
			}
			if _, err := rs.Recompute(ctx, finance, a.id, environment.Sandbox, reconDay); err != nil {
				t.Fatal(err)
			}
			if bs := breaks(a); len(bs) != 1 || bs[0]["BreakId"] != first || bs[0]["Status"] != "open" {
				t.Fatalf("breaks %v", bs)
			}
		})

		t.Run("ok/json record, other kinds", func(t *testing.T) {
			e.t = t
			var ps []map[string]any
			for i, id := range ids {
				p := map[string]any{"DomesticPaymentId": id, "Amount": map[string]any{"Amount": amounts[i], "Currency": "GBP"},
					"Status": "AcceptedSettlementInProcess"}
				switch i {
				case 0:
					continue // missing at the partner
				case 1:
					p["Status"] = "Rejected"
				case 3:
					p["Amount"] = map[string]any{"Amount": "100.00", "Currency": "EUR"}
				}
				ps = append(ps, p)
			}
			ps = append(ps, map[string]any{"DomesticPaymentId": "pay_unknown", "Amount": map[string]any{"Amount": "1.00", "Currency": "GBP"}, "Status": "Pending"})
			r := e.do("PUT", path+"/partner-record", a.token, map[string]any{"Data": map[string]any{"Payments": ps}})
			wantStatus(t, r, 200)
			got := map[string]string{}
			for _, b := range breaks(a) {
				got[b["DomesticPaymentId"].(string)+" "+b["Kind"].(string)] = b["Status"].(string) + " " + fmt.Sprint(b["Resolution"])
			}
			want := map[string]string{ids[0] + " missing_at_partner": "open <nil>", ids[1] + " status_differs": "open <nil>",
				ids[2] + " amount_differs": "resolved matched", ids[3] + " currency_differs": "open <nil>", "pay_unknown missing_at_bank": "open <nil>"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("breaks %v, want %v", got, want)
			}
			// Back to the injected record: the amount break reopens, the others match.
			r = e.do("PUT", path+"/partner-record", a.token, injected, withCSV())
			wantStatus(t, r, 200)
			open := 0
			for _, b := range breaks(a) {
				if b["Status"] == "open" {
					open++
					if b["BreakId"] != first {
						t.Fatalf("open %v", b)
					}
				} else if b["Resolution"] != recon.ResolutionMatched {
					t.Fatalf("closed %v", b)
				}
			}
			if open != 1 {
				t.Fatalf("open breaks %d", open)
			}
		})

		t.Run("ok/another partner sees its own empty day and none of the breaks", func(t *testing.T) {
			e.t = t
			r := e.do("GET", path, b.token, nil)
			wantStatus(t, r, 200)
			if len(r.data(t)["Payments"].([]any)) != 0 {
				t.Fatalf("B sees %s", r.body)
			}
			if bs := breaks(b); len(bs) != 0 {
				t.Fatalf("B sees breaks %v", bs)
			}
			// B uploads A's rows: to B they are payments the bank does not have.
			r = e.do("PUT", path+"/partner-record", b.token, injected, withCSV())
			wantStatus(t, r, 200)
			bb := breaks(b)
			if len(bb) != len(amounts) {
				t.Fatalf("B breaks %v", bb)
			}
			for _, x := range bb {
				if x["Kind"] != apis.BreakMissingAtBank {
					t.Fatalf("B break %v", x)
				}
			}
			if ab := breaks(a); len(ab) != 5 {
				t.Fatalf("A's breaks changed: %v", ab)
			}
			// A's break ids are not B's to read.
			for _, x := range bb {
				if x["BreakId"] == first {
					t.Fatal("B sees A's break")
				}
			}
		})

		t.Run("fail/refusals", func(t *testing.T) {
			e.t = t
			e.verifier.add("recon-accounts-only", &oauth.AccessContext{ClientID: a.app, PartnerID: a.id, Environment: environment.Sandbox,
				Scopes: []string{apis.ScopeAccounts}})
			bad := []byte(recordHeader + "\n" + recordRow(ids[0], "5.00", "GBP", "Pending") + "\n" + recordRow(ids[1], "12.3x", "GBP", "Pending") + "\n")
			for _, tc := range []struct {
				name, method, path, token string
				body                      any
				opts                      []reqOpt
				status                    int
				code, detail              string
			}{
				{name: "fail/bad date", method: "PUT", path: reconPath + "2026-13-01/partner-record", token: a.token, body: injected, opts: []reqOpt{withCSV()},
					status: 400, code: "invalid_request", detail: `date "2026-13-01" is not a day in the form YYYY-MM-DD`},
				{name: "fail/bad date of breaks", method: "GET", path: reconPath + "yesterday/breaks", token: a.token,
					status: 400, code: "invalid_request", detail: `date "yesterday" is not a day in the form YYYY-MM-DD`},
				{name: "fail/a day after today", method: "PUT", path: reconPath + "2030-01-01/partner-record", token: a.token, body: injected, opts: []reqOpt{withCSV()},
					status: 400, code: "invalid_request", detail: "date 2030-01-01 is after today (" + reconDay + "): a day is reconciled once it has begun"},
				{name: "fail/bad CSV names line and field", method: "PUT", path: path + "/partner-record", token: a.token, body: bad, opts: []reqOpt{withCSV()},
					status: 422, code: "validation_failed", detail: `partner record: line 3, field Amount: amount "12.3x" is not a decimal of up to 13 digits and 5 decimals`},
				{name: "fail/wrong content type", method: "PUT", path: path + "/partner-record", token: a.token, body: injected, opts: []reqOpt{withHeader("Content-Type", "text/plain")},
					status: 415, code: "unsupported_media_type", detail: `Content-Type "text/plain": a partner record is text/csv or application/json`},
				{name: "fail/no scope to upload", method: "PUT", path: path + "/partner-record", token: "recon-accounts-only", body: injected, opts: []reqOpt{withCSV()},
					status: 403, code: "insufficient_scope", detail: "the access token lacks scope payments"},
				{name: "fail/no scope to read breaks", method: "GET", path: path + "/breaks", token: "recon-accounts-only",
					status: 403, code: "insufficient_scope", detail: "the access token lacks scope payments"},
				{name: "fail/no token", method: "GET", path: path + "/breaks",
					status: 401, code: "invalid_token", detail: "DPoP access token required"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e.t = t
					wantProblem(t, e.do(tc.method, tc.path, tc.token, tc.body, tc.opts...), tc.status, tc.code, tc.detail)
				})
			}
		})

		t.Run("ok/finance workflow, one of concurrent resolutions wins, closing ends uploads", func(t *testing.T) {
			e.t = t
			br, _, _, err := rs.Break(ctx, finance, first.(string))
			if err != nil {
				t.Fatal(err)
			}
			if br, err = rs.Assign(ctx, finance, br.ID, br.Version, "stf_fin"); err != nil || br.Assignee != "stf_fin" {
				t.Fatalf("assign %v %+v", err, br)
			}
			// Refusals of the workflow.
			for _, tc := range []struct {
				name   string
				err    error
				code   problem.Code
				detail string
			}{
				{name: "fail/auditor resolves", err: second(rs.Resolve(ctx, recon.Actor{ID: "stf_aud", Role: staff.RoleAuditor}, br.ID, br.Version, recon.ResolutionWriteOff, "x")),
					code: problem.CodeForbidden, detail: `role "auditor" may not recon_breaks.resolve`},
				{name: "fail/partner manager reads", err: second(rs.Breaks(ctx, recon.Actor{ID: "stf_pm", Role: staff.RolePartnerManager}, recon.Filter{})),
					code: problem.CodeForbidden, detail: `role "partner_manager" may not recon_breaks.read`},
				{name: "fail/unknown code", err: second(rs.Resolve(ctx, finance, br.ID, br.Version, "fixed", "x")),
					code: problem.CodeValidation, detail: `resolution "fixed" is not one of partner_corrected, bank_corrected, write_off, duplicate`},
				{name: "fail/no note", err: second(rs.Resolve(ctx, finance, br.ID, br.Version, recon.ResolutionWriteOff, " ")),
					code: problem.CodeValidation, detail: "a note is required"},
				{name: "fail/stale version", err: second(rs.Resolve(ctx, finance, br.ID, br.Version-1, recon.ResolutionWriteOff, "x")),
					code: problem.CodeConflict, detail: "break " + br.ID + " was changed by someone else meanwhile; reload it"},
				{name: "fail/unknown break", err: second(rs.Resolve(ctx, finance, "rcb_none", 1, recon.ResolutionWriteOff, "x")),
					code: problem.CodeNotFound, detail: "break rcb_none not found"},
				{name: "fail/close with an open break", err: second(rs.CloseDay(ctx, finance, br.DayID)),
					code: problem.CodeInvalidState, detail: "the reconciliation of " + reconDay + " has 1 open break(s): resolve them first"},
				{name: "fail/reopen an open break", err: second(rs.Reopen(ctx, finance, br.ID, br.Version, "why")),
					code: problem.CodeInvalidState, detail: "break " + br.ID + " is open"},
			} {
				t.Run(tc.name, func(t *testing.T) { wantErrProblem(t, tc.err, tc.code, tc.detail) })
			}
			// Two members of finance resolve at once: exactly one wins.
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range errs {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					_, errs[i] = rs.Resolve(ctx, recon.Actor{ID: fmt.Sprintf("stf_fin%d", i), Role: staff.RoleFinance}, br.ID, br.Version,
						recon.ResolutionPartnerCorrected, "the partner mistyped the amount")
				}(i)
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case problem.CodeOf(err) == problem.CodeConflict || problem.CodeOf(err) == problem.CodeInvalidState:
				default:
					t.Fatalf("resolve: %v", err)
				}
			}
			if won != 1 {
				t.Fatalf("%d resolutions won: %v", won, errs)
			}
			br, _, trail, err := rs.Break(ctx, finance, br.ID)
			if err != nil || br.Status != apis.BreakResolved || br.Resolution != recon.ResolutionPartnerCorrected {
				t.Fatalf("%v %+v", err, br)
			}
			var actions []string
			for _, ev := range trail {
				actions = append(actions, ev.Action)
			}
			if got := strings.Join(actions, ","); got != "recon_break.opened,recon_break.matched,recon_break.reopened,recon_break.assigned,recon_break.resolved" {
				t.Fatalf("trail %s", got)
			}
			// Reopen and resolve again, then close the day (every other break matched or resolved).
			if br, err = rs.Reopen(ctx, finance, br.ID, br.Version, "wrong code"); err != nil || !br.Open() {
				t.Fatalf("reopen %v", err)
			}
			if br, err = rs.Resolve(ctx, finance, br.ID, br.Version, recon.ResolutionWriteOff, "1.00 written off"); err != nil {
				t.Fatal(err)
			}
			day, err := rs.CloseDay(ctx, finance, br.DayID)
			if err != nil || !day.Closed() {
				t.Fatalf("close %v", err)
			}
			wantErrProblem(t, second(rs.CloseDay(ctx, finance, br.DayID)), problem.CodeConflict, "the reconciliation of "+reconDay+" is closed already")
			r := e.do("PUT", path+"/partner-record", a.token, injected, withCSV())
			wantProblem(t, r, 409, "conflict", "the reconciliation of "+reconDay+" was closed by finance at "+day.ClosedAt.Format(time.RFC3339)+
				": the partner record can no longer be replaced")
			wantErrProblem(t, second(rs.Reopen(ctx, finance, br.ID, br.Version, "again")), problem.CodeInvalidState,
				"the reconciliation of "+reconDay+" was closed at "+day.ClosedAt.Format(time.RFC3339)+": its breaks can no longer be reopened")
			var n int64
			if err := d.DB.Model(&audit.Event{}).Where("action = ? AND object_id = ?", "recon_day.closed", br.DayID).Count(&n).Error; err != nil || n != 1 {
				t.Fatalf("close audited %d times (%v)", n, err)
			}
		})
	})
}

var finance = recon.Actor{ID: "stf_finance", Role: staff.RoleFinance}

func second[T any](_ T, err error) error { return err }

func wantErrProblem(t *testing.T, err error, code problem.Code, detail string) {
	t.Helper()
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Code != code || pe.Detail != detail {
		t.Fatalf("err = %v, want %s %q", err, code, detail)
	}
}
