package apis_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/oauth"
)

// TestAPIs runs every HTTP scenario on each engine against one seeded
// database; scenarios use their own partners and debtor accounts.
func TestAPIs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		t.Run("ok/account access", func(t *testing.T) { e.t = t; testAccountAccess(t, e) })
		t.Run("ok/payment", func(t *testing.T) { e.t = t; testPayment(t, e) })
		t.Run("ok/data sharing", func(t *testing.T) { e.t = t; testDataSharing(t, e) })
		t.Run("ok/revocation", func(t *testing.T) { e.t = t; testRevocation(t, e) })
		t.Run("refusals", func(t *testing.T) { e.t = t; testRefusals(t, e) })
		t.Run("ok/concurrent identical payments", func(t *testing.T) { e.t = t; testConcurrentPayments(t, e) })
		t.Run("ok/request log and usage", func(t *testing.T) { e.t = t; testRequestLog(t, e) })
		t.Run("broker", func(t *testing.T) { e.t = t; testBroker(t, e) })
	})
}

func testAccountAccess(t *testing.T, e *env) {
	p := e.partner("ptn_accounts", environment.Sandbox)
	alice := e.customer("alice")
	cur, sav := alice.account(core.AccountCurrent), alice.account(core.AccountSavings)

	r := e.do("POST", aisp+"/account-access-consents", p.token, accountConsentBody(allPerms...))
	wantStatus(t, r, 201)
	validateOB(t, "POST", aisp+"/account-access-consents", r)
	golden(t, "account_access_consent_created", r.body)
	id := r.data(t)["ConsentId"].(string)
	if r.data(t)["Status"] != "AwaitingAuthorisation" {
		t.Fatalf("status %v", r.data(t)["Status"])
	}
	tok := p.authorise(apis.TypeAccountAccess, id, alice, cur.ID, sav.ID)

	r = e.do("GET", aisp+"/account-access-consents/"+id, p.token, nil)
	wantStatus(t, r, 200)
	validateOB(t, "GET", aisp+"/account-access-consents/{ConsentId}", r)
	if r.data(t)["Status"] != "Authorised" {
		t.Fatalf("status %v", r.data(t)["Status"])
	}
	if got := e.pub.of("consent.authorised", "consent_id", id); len(got) != 1 || got[0].AppID != p.app {
		t.Fatalf("consent.authorised events %+v", got)
	}

	r = e.do("GET", aisp+"/accounts", tok, nil)
	wantStatus(t, r, 200)
	validateOB(t, "GET", aisp+"/accounts", r)
	golden(t, "accounts", r.body)
	if n := len(r.data(t)["Account"].([]any)); n != 2 {
		t.Fatalf("%d accounts, want 2", n)
	}

	r = e.do("GET", aisp+"/accounts/"+cur.ID, tok, nil)
	wantStatus(t, r, 200)
	validateOB(t, "GET", aisp+"/accounts/{AccountId}", r)

	r = e.do("GET", aisp+"/accounts/"+cur.ID+"/balances", tok, nil)
	wantStatus(t, r, 200)
	validateOB(t, "GET", aisp+"/accounts/{AccountId}/balances", r)
	golden(t, "balances", r.body)

	// Transactions: page through everything with Links.Next; pages are
	// disjoint, newest first, and the last page has no Next.
	r = e.do("GET", aisp+"/accounts/"+cur.ID+"/transactions", tok, nil)
	wantStatus(t, r, 200)
	validateOB(t, "GET", aisp+"/accounts/{AccountId}/transactions", r)
	golden(t, "transactions_page1", r.body)
	seen := map[string]bool{}
	pages := 0
	for {
		pages++
		for _, x := range r.data(t)["Transaction"].([]any) {
			id := x.(map[string]any)["TransactionId"].(string)
			if seen[id] {
				t.Fatalf("transaction %s on two pages", id)
			}
			seen[id] = true
		}
		next, _ := r.json(t)["Links"].(map[string]any)["Next"].(string)
		if next == "" {
			break
		}
		u, _ := url.Parse(next)
		r = e.do("GET", u.RequestURI(), tok, nil)
		wantStatus(t, r, 200)
	}
	all, err := e.core.Transactions(ctx, cur.ID, core.TransactionQuery{Limit: core.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	if pages < 2 || len(seen) < len(all.Transactions) {
		t.Fatalf("%d pages, %d transactions", pages, len(seen))
	}

	// Filters: the query window, intersected with the consent's.
	from := seedNow.AddDate(0, 0, -10).Format("2006-01-02T15:04:05")
	r = e.do("GET", aisp+"/accounts/"+cur.ID+"/transactions?fromBookingDateTime="+from, tok, nil)
	wantStatus(t, r, 200)
	for _, x := range r.data(t)["Transaction"].([]any) {
		b, _ := time.Parse(time.RFC3339, x.(map[string]any)["BookingDateTime"].(string))
		if b.Before(seedNow.AddDate(0, 0, -10)) {
			t.Fatalf("transaction booked %s before the filter", b)
		}
	}
	winFrom, winTo := seedNow.AddDate(0, 0, -30), seedNow.AddDate(0, 0, -20)
	cr := e.do("POST", aisp+"/account-access-consents", p.token, map[string]any{"Data": map[string]any{
		"Permissions":             []string{apis.PermAccountsBasic, apis.PermTransactionsBasic, apis.PermTransactionsCredits},
		"TransactionFromDateTime": winFrom.Format(time.RFC3339), "TransactionToDateTime": winTo.Format(time.RFC3339)},
		"Risk": map[string]any{}})
	wantStatus(t, cr, 201)
	wid := cr.data(t)["ConsentId"].(string)
	wtok := p.authorise(apis.TypeAccountAccess, wid, alice, cur.ID)
	r = e.do("GET", aisp+"/accounts/"+cur.ID+"/transactions?toBookingDateTime="+seedNow.Format(time.RFC3339), wtok, nil)
	wantStatus(t, r, 200)
	validateOB(t, "GET", aisp+"/accounts/{AccountId}/transactions", r)
	txns := r.data(t)["Transaction"].([]any)
	if len(txns) == 0 {
		t.Fatal("no transactions in the consent window")
	}
	for _, x := range txns {
		m := x.(map[string]any)
		b, _ := time.Parse(time.RFC3339, m["BookingDateTime"].(string))
		if b.Before(winFrom) || b.After(winTo) || m["CreditDebitIndicator"] != "Credit" {
			t.Fatalf("transaction %v outside the consent (window %s–%s, credits only)", m, winFrom, winTo)
		}
		if _, ok := m["TransactionInformation"]; ok {
			t.Fatalf("basic permission shows detail: %v", m)
		}
	}
	// Basic account permission hides the account identification.
	r = e.do("GET", aisp+"/accounts", wtok, nil)
	if _, ok := r.data(t)["Account"].([]any)[0].(map[string]any)["Account"]; ok {
		t.Fatal("ReadAccountsBasic shows the account identification")
	}
}

func testPayment(t *testing.T, e *env) {
	p := e.partner("ptn_payments", environment.Sandbox)
	alice, bob := e.customer("alice"), e.customer("bob")
	cur := alice.account(core.AccountCurrent)
	in := initiation("10.50", bob.account(core.AccountCurrent).Identification, "Bob Okonkwo", "Dinner")
	in["DebtorAccount"] = map[string]any{"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": cur.Identification}

	r := e.do("POST", pisp+"/domestic-payment-consents", p.token,
		map[string]any{"Data": map[string]any{"Initiation": in}, "Risk": map[string]any{"PaymentContextCode": "PartyToParty"}})
	wantStatus(t, r, 201)
	validateOB(t, "POST", pisp+"/domestic-payment-consents", r)
	golden(t, "payment_consent_created", r.body)
	cid := r.data(t)["ConsentId"].(string)

	// The consent page pre-selects the debtor account.
	descs, err := e.svc.Broker().Describe(ctx, p.client(), alice.id, []oauth.AuthorizationDetail{{Type: apis.TypePaymentInitiation, ConsentID: cid}})
	if err != nil {
		t.Fatal(err)
	}
	if descs[0].SelectMode != "single" || strings.Join(descs[0].Lines, "|") != "Pay 10.50 GBP|To Bob Okonkwo (sort code 990101, account "+
		bob.account(core.AccountCurrent).AccountNumber+")|Reference: Dinner|Until 16 June 2026 13:00 UTC" {
		t.Fatalf("description %+v", descs[0])
	}
	for _, a := range descs[0].Accounts {
		if a.Selected != (a.ID == cur.ID) {
			t.Fatalf("account %+v selected wrongly", a)
		}
	}
	// What dynamic linking will bind the customer's confirmation to.
	wantSummary := oauth.PaymentSummary{Amount: money.Money{Minor: 1050, Currency: "GBP"}, PayeeName: "Bob Okonkwo",
		PayeeScheme: "UK.OBIE.SortCodeAccountNumber", PayeeIdentification: bob.account(core.AccountCurrent).Identification}
	if descs[0].Payment == nil || *descs[0].Payment != wantSummary {
		t.Fatalf("payment summary %+v, want %+v", descs[0].Payment, wantSummary)
	}
	// Bob paying into his own account is a payment between own accounts.
	ownIn := initiation("5.00", bob.account(core.AccountCurrent).Identification, "Bob Okonkwo", "Savings")
	r = e.do("POST", pisp+"/domestic-payment-consents", p.token,
		map[string]any{"Data": map[string]any{"Initiation": ownIn}, "Risk": map[string]any{"PaymentContextCode": "PartyToParty"}})
	wantStatus(t, r, 201)
	own, err := e.svc.Broker().Describe(ctx, p.client(), bob.id, []oauth.AuthorizationDetail{{Type: apis.TypePaymentInitiation, ConsentID: r.data(t)["ConsentId"].(string)}})
	if err != nil || own[0].Payment == nil || !own[0].Payment.PayeeIsOwnAccount {
		t.Fatalf("own-account summary %+v, %v", own, err)
	}
	if descs[0].Payment.PayeeIsOwnAccount {
		t.Fatal("alice paying bob is not an own-account payment")
	}
	tok := p.authorise(apis.TypePaymentInitiation, cid, alice, cur.ID)

	r = e.do("GET", pisp+"/domestic-payment-consents/"+cid, p.token, nil)
	wantStatus(t, r, 200)
	validateOB(t, "GET", pisp+"/domestic-payment-consents/{ConsentId}", r)

	r = e.do("GET", pisp+"/domestic-payment-consents/"+cid+"/funds-confirmation", tok, nil)
	wantStatus(t, r, 200)
	validateOB(t, "GET", pisp+"/domestic-payment-consents/{ConsentId}/funds-confirmation", r)
	if r.data(t)["FundsAvailableResult"].(map[string]any)["FundsAvailable"] != true {
		t.Fatalf("funds %s", r.body)
	}

	key := "pay-key-1"
	r = e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, in), withKey(key))
	wantStatus(t, r, 201)
	validateOB(t, "POST", pisp+"/domestic-payments", r)
	golden(t, "payment_created", r.body)
	d := r.data(t)
	pid := d["DomesticPaymentId"].(string)
	if d["Status"] != apis.PaymentAcceptedSettlementInProcess {
		t.Fatalf("status %v", d["Status"])
	}
	first := r.body

	// The same key and body replays byte for byte.
	r = e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, in), withKey(key))
	wantStatus(t, r, 201)
	if !bytes.Equal(r.body, first) || r.header.Get("x-idempotent-replay") != "true" {
		t.Fatalf("replay differs: %s (replay header %q)", r.body, r.header.Get("x-idempotent-replay"))
	}

	r = e.do("GET", pisp+"/domestic-payments/"+pid, p.token, nil)
	wantStatus(t, r, 200)
	validateOB(t, "GET", pisp+"/domestic-payments/{DomesticPaymentId}", r)
	if r.data(t)["Status"] != apis.PaymentAcceptedSettlementCompleted {
		t.Fatalf("status after execution %v", r.data(t)["Status"])
	}
	r = e.do("GET", pisp+"/domestic-payments/"+pid+"/payment-details", p.token, nil)
	wantStatus(t, r, 200)
	validateOB(t, "GET", pisp+"/domestic-payments/{DomesticPaymentId}/payment-details", r)

	r = e.do("GET", pisp+"/domestic-payment-consents/"+cid, p.token, nil)
	if r.data(t)["Status"] != "Consumed" {
		t.Fatalf("consent status %v", r.data(t)["Status"])
	}
	// Money moved once; events and audit trail.
	res, err := e.core.Payment(ctx, pid)
	if err != nil || res.Status != core.PaymentAccepted {
		t.Fatalf("core payment %+v %v", res, err)
	}
	if n := len(e.pub.of("payment.created", "payment_id", pid)); n != 1 {
		t.Fatalf("%d payment.created", n)
	}
	if n := len(e.pub.of("payment.status_changed", "payment_id", pid)); n != 2 {
		t.Fatalf("%d payment.status_changed, want 2 (InProcess, Completed)", n)
	}
	evs, err := audit.List(ctx, e.d.DB, audit.Filter{ObjectType: "payment", ObjectID: pid})
	if err != nil || len(evs) != 3 || evs[2].Action != "payment.created" || evs[2].ActorID != p.app {
		t.Fatalf("audit %+v %v", evs, err)
	}
}

func testDataSharing(t *testing.T, e *env) {
	p := e.partner("ptn_risk", environment.Sandbox)
	alice := e.customer("alice")
	cur := alice.account(core.AccountCurrent)
	r := e.do("POST", dataPath+"/data-sharing-consents", p.token, map[string]any{"Data": map[string]any{
		"Datasets": []string{apis.DatasetTransactionInsights, apis.DatasetRiskSignals}}, "Risk": map[string]any{}})
	wantStatus(t, r, 201)
	validateOB(t, "POST", dataPath+"/data-sharing-consents", r)
	id := r.data(t)["ConsentId"].(string)
	tok := p.authorise(apis.TypeDataSharing, id, alice, cur.ID)

	r = e.do("GET", dataPath+"/data-sharing-consents/"+id, p.token, nil)
	wantStatus(t, r, 200)
	validateOB(t, "GET", dataPath+"/data-sharing-consents/{ConsentId}", r)

	r = e.do("GET", dataPath+"/datasets/transaction_insights", tok, nil)
	wantStatus(t, r, 200)
	validateOB(t, "GET", dataPath+"/datasets/{dataset}", r)
	golden(t, "dataset_transaction_insights", r.body)
	months := r.data(t)["Months"].([]any)
	if len(months) != 12 || len(months[10].(map[string]any)["Categories"].([]any)) == 0 {
		t.Fatalf("insights %s", r.body)
	}

	r = e.do("GET", dataPath+"/datasets/risk_signals", tok, nil)
	wantStatus(t, r, 200)
	validateOB(t, "GET", dataPath+"/datasets/{dataset}", r)
	golden(t, "dataset_risk_signals", r.body)
	sig := r.data(t)["RiskSignals"].([]any)[0].(map[string]any)
	if sig["AccountAgeDays"].(float64) < 365 || sig["MonthlyIncomeBand"] != "2000_3500" {
		t.Fatalf("signals %v", sig)
	}
}

func testRevocation(t *testing.T, e *env) {
	p := e.partner("ptn_revoke", environment.Sandbox)
	alice := e.customer("alice")
	cur := alice.account(core.AccountCurrent)

	id, tok := p.accountConsent(alice, allPerms, cur.ID)
	wantStatus(t, e.do("DELETE", aisp+"/account-access-consents/"+id, p.token, nil), 204)
	wantStatus(t, e.do("DELETE", aisp+"/account-access-consents/"+id, p.token, nil), 204) // idempotent
	r := e.do("GET", aisp+"/account-access-consents/"+id, p.token, nil)
	if r.data(t)["Status"] != "Revoked" {
		t.Fatalf("status %v", r.data(t)["Status"])
	}
	r = e.do("GET", aisp+"/accounts", tok, nil)
	wantProblem(t, r, 403, "consent_revoked", fmt.Sprintf("consent %s was revoked at %s", id, e.clock.now().Format(time.RFC3339)))
	if ev := e.pub.of("consent.revoked", "consent_id", id); len(ev) != 1 || ev[0].Data["revoked_by"] != "partner" {
		t.Fatalf("consent.revoked %+v", ev)
	}

	// The customer revokes from the dashboard.
	id2, _ := p.accountConsent(alice, allPerms, cur.ID)
	list, err := e.svc.ListForCustomer(ctx, alice.id)
	if err != nil || !slices.ContainsFunc(list, func(c apis.Consent) bool { return c.ID == id2 && c.Status == apis.StatusAuthorised }) {
		t.Fatalf("ListForCustomer: %v %v", list, err)
	}
	bob := e.customer("bob")
	if err := e.svc.RevokeByCustomer(ctx, bob.id, id2); err == nil || err.Error() != "not_found: consent "+id2+" not found" {
		t.Fatalf("another customer revokes: %v", err)
	}
	if err := e.svc.RevokeByCustomer(ctx, alice.id, id2); err != nil {
		t.Fatal(err)
	}
	e.rev.mu.Lock()
	revoked := strings.Join(e.rev.consents, ",")
	e.rev.mu.Unlock()
	if !strings.Contains(revoked, id) || !strings.Contains(revoked, id2) {
		t.Fatalf("TokenRevoker got %s", revoked)
	}
	if ev := e.pub.of("consent.revoked", "consent_id", id2); len(ev) != 1 || ev[0].Data["revoked_by"] != "customer" {
		t.Fatalf("consent.revoked %+v", ev)
	}
}

func testRefusals(t *testing.T, e *env) {
	p := e.partner("ptn_refusals", environment.Sandbox)
	other := e.partner("ptn_other", environment.Sandbox)
	prod := e.partner("ptn_prod", environment.Production)
	alice, bob, carol := e.customer("alice"), e.customer("bob"), e.customer("carol.insufficient")
	cur, sav := alice.account(core.AccountCurrent), alice.account(core.AccountSavings)
	bobCur := bob.account(core.AccountCurrent)

	basicID, basicTok := p.accountConsent(alice, []string{apis.PermAccountsBasic}, cur.ID)
	fullID, fullTok := p.accountConsent(alice, allPerms, cur.ID)
	_, bobTok := other.accountConsent(bob, allPerms, bobCur.ID)

	in := initiation("5.00", externalCreditor, "Acme Ltd", "INV-1")
	payCID, payTok := p.paymentConsent(alice, cur.ID, in)
	wantStatus(t, e.do("POST", pisp+"/domestic-payments", payTok, paymentBody(payCID, in)), 201)
	otherPay := func() string {
		cid, tok := other.paymentConsent(bob, bobCur.ID, in)
		r := e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, in))
		wantStatus(t, r, 201)
		return r.data(t)["DomesticPaymentId"].(string)
	}()
	mmCID, mmTok := p.paymentConsent(alice, cur.ID, in)
	dr := e.do("POST", dataPath+"/data-sharing-consents", p.token, map[string]any{"Data": map[string]any{
		"Datasets": []string{apis.DatasetTransactionInsights}}, "Risk": map[string]any{}})
	wantStatus(t, dr, 201)
	dataID := dr.data(t)["ConsentId"].(string)
	dataTok := p.authorise(apis.TypeDataSharing, dataID, alice, cur.ID)

	tests := []struct {
		name           string
		method, path   string
		token          string
		body           any
		opts           []reqOpt
		status         int
		code, detail   string
		wwwAuth, nonce string
	}{
		{name: "fail/token without DPoP proof", method: "GET", path: aisp + "/accounts", token: fullTok, opts: []reqOpt{noDPoP()},
			status: 401, code: "invalid_dpop_proof", detail: "DPoP proof missing", wwwAuth: wwwAuthDPoP, nonce: "nonce-1"},
		{name: "fail/unknown token", method: "GET", path: aisp + "/accounts", token: "nope",
			status: 401, code: "invalid_token", detail: "token unknown or expired", wwwAuth: `DPoP error="invalid_token", algs="ES256 PS256"`},
		{name: "fail/missing permission", method: "GET", path: aisp + "/accounts/" + cur.ID + "/balances", token: basicTok,
			status: 403, code: "permission_missing", detail: "consent " + basicID + " lacks permission ReadBalances"},
		{name: "fail/account outside the consent", method: "GET", path: aisp + "/accounts/" + sav.ID + "/balances", token: fullTok,
			status: 403, code: "account_not_in_consent", detail: "account " + sav.ID + " is not covered by consent " + fullID},
		{name: "fail/another customer's account", method: "GET", path: aisp + "/accounts/" + bobCur.ID, token: fullTok,
			status: 404, code: "not_found", detail: "account " + bobCur.ID + " not found"},
		{name: "fail/another partner's account", method: "GET", path: aisp + "/accounts/" + cur.ID + "/transactions", token: bobTok,
			status: 404, code: "not_found", detail: "account " + cur.ID + " not found"},
		{name: "fail/unknown account", method: "GET", path: aisp + "/accounts/acc_unknown", token: fullTok,
			status: 404, code: "not_found", detail: "account acc_unknown not found"},
		{name: "fail/malformed booking date", method: "GET", path: aisp + "/accounts/" + cur.ID + "/transactions?fromBookingDateTime=yesterday", token: fullTok,
			status: 400, code: "invalid_request", detail: "query parameter fromBookingDateTime must be an ISO 8601 date-time"},
		{name: "fail/forged cursor", method: "GET", path: aisp + "/accounts/" + cur.ID + "/transactions?cursor=abc.def", token: fullTok,
			status: 400, code: "invalid_request", detail: "cursor is not valid for this account and query"},
		{name: "fail/unknown dataset", method: "GET", path: dataPath + "/datasets/credit_score", token: dataTok,
			status: 404, code: "not_found", detail: "dataset credit_score not found"},
		{name: "fail/dataset outside the consent", method: "GET", path: dataPath + "/datasets/risk_signals", token: dataTok,
			status: 403, code: "permission_missing", detail: "consent " + dataID + " does not cover dataset risk_signals"},
		{name: "fail/another partner's consent", method: "GET", path: aisp + "/account-access-consents/" + fullID, token: other.token,
			status: 404, code: "not_found", detail: "consent " + fullID + " not found"},
		{name: "fail/unknown consent", method: "GET", path: aisp + "/account-access-consents/cns_unknown", token: other.token,
			status: 404, code: "not_found", detail: "consent cns_unknown not found"},
		{name: "fail/another partner's consent delete", method: "DELETE", path: aisp + "/account-access-consents/" + fullID, token: other.token,
			status: 404, code: "not_found", detail: "consent " + fullID + " not found"},
		{name: "fail/another partner's payment", method: "GET", path: pisp + "/domestic-payments/" + otherPay, token: p.token,
			status: 404, code: "not_found", detail: "domestic payment " + otherPay + " not found"},
		{name: "fail/client token on a customer endpoint", method: "GET", path: aisp + "/accounts", token: p.token,
			status: 403, code: "forbidden", detail: "this endpoint needs an access token the customer authorised"},
		{name: "fail/verifier server error", method: "GET", path: aisp + "/accounts", token: "broken",
			status: 500, code: "internal_error", detail: "token lookup failed"},
		{name: "fail/insufficient scope", method: "POST", path: pisp + "/domestic-payments", token: fullTok, body: paymentBody(payCID, in),
			status: 403, code: "insufficient_scope", detail: "the access token lacks scope payments",
			wwwAuth: `DPoP error="insufficient_scope", error_description="the access token lacks scope payments", scope="payments"`},
		{name: "fail/missing idempotency key", method: "POST", path: pisp + "/domestic-payment-consents", token: p.token,
			body:   map[string]any{"Data": map[string]any{"Initiation": initiation("1.00", externalCreditor, "Acme", "x")}, "Risk": map[string]any{}},
			opts:   []reqOpt{withHeader("x-idempotency-key", "")},
			status: 400, code: "idempotency_key_missing", detail: "the x-idempotency-key header is required on POST " + pisp + "/domestic-payment-consents"},
		{name: "fail/malformed JSON", method: "POST", path: aisp + "/account-access-consents", token: p.token, body: `{"Data":`,
			status: 400, code: "malformed_json", detail: "request body ends in the middle of a JSON value"},
		{name: "fail/unknown field", method: "POST", path: aisp + "/account-access-consents", token: p.token, body: `{"Data":{"Permissions":["ReadBalances"]},"Risk":{},"Extra":1}`,
			status: 400, code: "malformed_json", detail: `unknown field "Extra"`},
		{name: "fail/transaction permission without credits or debits", method: "POST", path: aisp + "/account-access-consents", token: p.token,
			body:   accountConsentBody(apis.PermTransactionsBasic),
			status: 422, code: "validation_failed", detail: "Data.Permissions ReadTransactionsBasic or ReadTransactionsDetail needs ReadTransactionsCredits and/or ReadTransactionsDebits"},
		{name: "fail/unsupported permission", method: "POST", path: aisp + "/account-access-consents", token: p.token,
			body:   accountConsentBody("ReadOffers"),
			status: 422, code: "validation_failed", detail: `Data.Permissions permission "ReadOffers" is not supported`},
		{name: "fail/too many decimals", method: "POST", path: pisp + "/domestic-payment-consents", token: p.token,
			body:   map[string]any{"Data": map[string]any{"Initiation": initiation("10.505", externalCreditor, "Acme", "x")}, "Risk": map[string]any{}},
			status: 422, code: "validation_failed", detail: `Data.Initiation.InstructedAmount amount "10.505" has more decimals than GBP allows (2)`},
		{name: "fail/payment not matching the consent", method: "POST", path: pisp + "/domestic-payments", token: mmTok,
			body:   paymentBody(mmCID, initiation("5.01", externalCreditor, "Acme Ltd", "INV-1")),
			status: 400, code: "consent_mismatch", detail: "Data.Initiation differs from the Initiation of consent " + mmCID},
		{name: "fail/payment under another consent id", method: "POST", path: pisp + "/domestic-payments", token: mmTok,
			body:   paymentBody(payCID, in),
			status: 400, code: "consent_mismatch", detail: "Data.ConsentId " + payCID + " is not the consent this token was granted for (" + mmCID + ")"},
		{name: "fail/consent consumed", method: "POST", path: pisp + "/domestic-payments", token: payTok, body: paymentBody(payCID, in),
			status: 409, code: "consent_consumed", detail: "consent " + payCID + " has been used by a payment"},
		{name: "fail/funds confirmation of a consumed consent", method: "GET", path: pisp + "/domestic-payment-consents/" + payCID + "/funds-confirmation", token: payTok,
			status: 409, code: "consent_consumed", detail: "consent " + payCID + " has been used by a payment"},
		{name: "fail/dataset not allowed", method: "POST", path: dataPath + "/data-sharing-consents", token: p.token,
			body:   map[string]any{"Data": map[string]any{"Datasets": []string{apis.DatasetRiskSignals}}, "Risk": map[string]any{}},
			status: 403, code: "dataset_not_allowed", detail: "dataset risk_signals is not in this partner's data-sharing scope"},
		{name: "fail/per-payment limit at consent", method: "POST", path: pisp + "/domestic-payment-consents", token: prod.token,
			body:   map[string]any{"Data": map[string]any{"Initiation": initiation("100.01", externalCreditor, "Acme", "x")}, "Risk": map[string]any{}},
			status: 422, code: "limit_exceeded", detail: "the per-payment limit is 100.00 GBP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			r := e.do(tc.method, tc.path, tc.token, tc.body, tc.opts...)
			wantProblem(t, r, tc.status, tc.code, tc.detail)
			if got := r.header.Get("WWW-Authenticate"); got != tc.wwwAuth {
				t.Fatalf("WWW-Authenticate = %q, want %q", got, tc.wwwAuth)
			}
			if got := r.header.Get("DPoP-Nonce"); got != tc.nonce {
				t.Fatalf("DPoP-Nonce = %q, want %q", got, tc.nonce)
			}
		})
	}

	t.Run("fail/idempotency key reused with another body", func(t *testing.T) {
		e.t = t
		wantStatus(t, e.do("POST", aisp+"/account-access-consents", p.token, accountConsentBody(apis.PermBalances), withKey("k-reuse")), 201)
		r := e.do("POST", aisp+"/account-access-consents", p.token, accountConsentBody(apis.PermAccountsBasic), withKey("k-reuse"))
		wantProblem(t, r, 422, "idempotency_key_reused", `x-idempotency-key "k-reuse" was used with a different request`)
	})

	t.Run("ok/the same key in sandbox and production are two keys", func(t *testing.T) {
		e.t = t
		prodApp := e.partner(p.id, environment.Production) // the same partner's production app
		body := accountConsentBody(apis.PermBalances)
		r1 := e.do("POST", aisp+"/account-access-consents", p.token, body, withKey("k-both"))
		wantStatus(t, r1, 201)
		r2 := e.do("POST", aisp+"/account-access-consents", prodApp.token, body, withKey("k-both"))
		wantStatus(t, r2, 201)
		if a, b := r1.data(t)["ConsentId"], r2.data(t)["ConsentId"]; a == b {
			t.Fatalf("production got the sandbox response (consent %v)", a)
		}
		// Each environment still replays its own response.
		r3 := e.do("POST", aisp+"/account-access-consents", prodApp.token, body, withKey("k-both"))
		if r3.data(t)["ConsentId"] != r2.data(t)["ConsentId"] {
			t.Fatalf("production replay %v, want %v", r3.data(t)["ConsentId"], r2.data(t)["ConsentId"])
		}
	})

	t.Run("fail/idempotency request in flight", func(t *testing.T) {
		e.t = t
		// A first request holds the key (in progress) and never finishes; a
		// handler that waits only 1 ms for it gives up with 409.
		path := aisp + "/account-access-consents"
		raw, _ := json.Marshal(accountConsentBody(apis.PermBalances))
		sum := sha256.Sum256([]byte("POST\n" + path + "\n" + string(raw)))
		rec := &apis.IdempotencyRecord{PartnerID: p.id, Environment: p.envn, Key: "k-flight", RequestHash: hex.EncodeToString(sum[:]), CreatedAt: e.clock.now()}
		if err := apis.NewGormStore(e.d).ClaimKey(ctx, rec, e.clock.now().Add(-apis.IdempotencyTTL)); err != nil {
			t.Fatal(err)
		}
		g := gin.New()
		apis.NewHandler(apis.HandlerConfig{Service: e.svc, Verifier: e.verifier, BaseURL: baseURL, IdempotencyWait: time.Millisecond}).Register(g)
		srv := httptest.NewServer(g)
		defer srv.Close()
		saved := e.srv
		e.srv = srv
		defer func() { e.srv = saved }()
		r := e.do("POST", path, p.token, accountConsentBody(apis.PermBalances), withKey("k-flight"))
		wantProblem(t, r, 409, "idempotency_request_in_progress", `a request with x-idempotency-key "k-flight" is still in progress; retry later`)
	})

	t.Run("fail/expired consent", func(t *testing.T) {
		e.t = t
		exp := e.clock.now().Add(time.Hour)
		r := e.do("POST", aisp+"/account-access-consents", p.token, map[string]any{"Data": map[string]any{
			"Permissions": []string{apis.PermAccountsBasic}, "ExpirationDateTime": exp.Format(time.RFC3339)}, "Risk": map[string]any{}})
		wantStatus(t, r, 201)
		id := r.data(t)["ConsentId"].(string)
		tok := p.authorise(apis.TypeAccountAccess, id, alice, cur.ID)
		wantStatus(t, e.do("GET", aisp+"/accounts", tok, nil), 200)
		saved := e.clock.now()
		e.clock.add(2 * time.Hour)
		defer e.clock.set(saved)
		r = e.do("GET", aisp+"/accounts", tok, nil)
		wantProblem(t, r, 403, "consent_expired", "consent "+id+" expired at "+exp.Format(time.RFC3339))
		e.do("GET", aisp+"/accounts", tok, nil)
		if n := len(e.pub.of("consent.expired", "consent_id", id)); n != 1 {
			t.Fatalf("%d consent.expired events, want 1", n)
		}
		// OB v3.1.11 has no Expired: Authorised with a past ExpirationDateTime.
		r = e.do("GET", aisp+"/account-access-consents/"+id, p.token, nil)
		validateOB(t, "GET", aisp+"/account-access-consents/{ConsentId}", r)
		if ok, _ := e.svc.Broker().Active(ctx, id); ok {
			t.Fatal("expired consent active")
		}
	})

	t.Run("fail/insufficient funds is a rejected payment", func(t *testing.T) {
		e.t = t
		cin := initiation("100.00", externalCreditor, "Acme Ltd", "INV-2")
		cid, tok := p.paymentConsent(carol, carol.account(core.AccountCurrent).ID, cin)
		r := e.do("GET", pisp+"/domestic-payment-consents/"+cid+"/funds-confirmation", tok, nil)
		if r.data(t)["FundsAvailableResult"].(map[string]any)["FundsAvailable"] != false {
			t.Fatalf("funds %s", r.body)
		}
		r = e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, cin))
		wantStatus(t, r, 201)
		validateOB(t, "POST", pisp+"/domestic-payments", r)
		pid := r.data(t)["DomesticPaymentId"].(string)
		if r.data(t)["Status"] != "Rejected" {
			t.Fatalf("status %v", r.data(t)["Status"])
		}
		r = e.do("GET", pisp+"/domestic-payments/"+pid+"/payment-details", p.token, nil)
		validateOB(t, "GET", pisp+"/domestic-payments/{DomesticPaymentId}/payment-details", r)
		sd := r.data(t)["PaymentStatus"].([]any)[0].(map[string]any)["StatusDetail"].(map[string]any)
		if sd["StatusReason"] != "ProprietaryRejection" || sd["StatusReasonDescription"] != core.RejectInsufficientFunds {
			t.Fatalf("status detail %v", sd)
		}
	})

	t.Run("fail/account closed after authorisation is a rejected payment", func(t *testing.T) {
		e.t = t
		c, err := e.core.CreateCustomer(ctx, environment.Sandbox, "closing.customer", "sandbox-password-1", "Closing Customer")
		if err != nil {
			t.Fatal(err)
		}
		closing := e.customer(c.Username)
		debtor := closing.account(core.AccountCurrent)
		cin := initiation("5.00", externalCreditor, "Acme Ltd", "CLOSED-1")
		cid, tok := p.paymentConsent(closing, debtor.ID, cin)
		// The bank closes the account between authorisation and payment.
		if err := e.d.Exec(`UPDATE core_accounts SET status = ? WHERE id = ?`, core.AccountClosed, debtor.ID).Error; err != nil {
			t.Fatal(err)
		}
		r := e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, cin))
		wantStatus(t, r, 201)
		validateOB(t, "POST", pisp+"/domestic-payments", r)
		if r.data(t)["Status"] != "Rejected" {
			t.Fatalf("status %v", r.data(t)["Status"])
		}
		pid := r.data(t)["DomesticPaymentId"].(string)
		r = e.do("GET", pisp+"/domestic-payments/"+pid+"/payment-details", p.token, nil)
		sd := r.data(t)["PaymentStatus"].([]any)[0].(map[string]any)["StatusDetail"].(map[string]any)
		if sd["StatusReason"] != "ProprietaryRejection" || sd["StatusReasonDescription"] != core.RejectAccountClosed {
			t.Fatalf("status detail %v", sd)
		}
		acc, err := e.core.Account(ctx, debtor.ID)
		if err != nil {
			t.Fatal(err)
		}
		if acc.Balance != debtor.Balance {
			t.Fatalf("closed account's balance moved: %v -> %v", debtor.Balance, acc.Balance)
		}
	})

	t.Run("fail/daily partner limit", func(t *testing.T) {
		e.t = t
		bin := initiation("80.00", externalCreditor, "Acme Ltd", "D1")
		realBob := e.productionCustomer("bob") // a production app reaches production customers only
		cid1, tok1 := prod.paymentConsent(realBob, realBob.account(core.AccountCurrent).ID, bin)
		cid2, tok2 := prod.paymentConsent(realBob, realBob.account(core.AccountCurrent).ID, bin)
		wantStatus(t, e.do("POST", pisp+"/domestic-payments", tok1, paymentBody(cid1, bin)), 201)
		r := e.do("POST", pisp+"/domestic-payments", tok2, paymentBody(cid2, bin))
		wantProblem(t, r, 422, "limit_exceeded", "the daily partner limit is 150.00 GBP")
		if m := r.json(t); m["limit"] != "150.00" || m["used_today"] != "80.00" {
			t.Fatalf("problem extensions %v", m)
		}
	})

	t.Run("fail/velocity", func(t *testing.T) {
		e.t = t
		vp := e.partner("ptn_velocity", environment.Production)
		realAlice := e.productionCustomer("alice")
		debtor := realAlice.account(core.AccountCurrent).ID
		for i := 0; i < 2; i++ {
			vin := initiation("1.00", externalCreditor, "Acme Ltd", fmt.Sprintf("V%d", i))
			cid, tok := vp.paymentConsent(realAlice, debtor, vin)
			wantStatus(t, e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, vin)), 201)
		}
		vin := initiation("1.00", externalCreditor, "Acme Ltd", "V3")
		cid, tok := vp.paymentConsent(realAlice, debtor, vin)
		r := e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, vin))
		wantProblem(t, r, 429, "velocity_exceeded", "at most 2 payments per 60 seconds from one debtor account")
	})
}

func testConcurrentPayments(t *testing.T, e *env) {
	p := e.partner("ptn_concurrent", environment.Sandbox)
	alice := e.customer("alice")
	cur := alice.account(core.AccountCurrent)
	in := initiation("12.34", externalCreditor, "Acme Ltd", "CONC")
	cid, tok := p.paymentConsent(alice, cur.ID, in)

	const n = 20
	var wg sync.WaitGroup
	res := make([]*response, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res[i] = e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, in), withKey("same-key"))
		}(i)
	}
	wg.Wait()
	replays := 0
	for i, r := range res {
		if r.status != 201 || !bytes.Equal(r.body, res[0].body) {
			t.Fatalf("response %d: %d %s\nfirst: %s", i, r.status, r.body, res[0].body)
		}
		if r.header.Get("x-idempotent-replay") == "true" {
			replays++
		}
	}
	if replays != n-1 {
		t.Fatalf("%d replays, want %d", replays, n-1)
	}
	pid := res[0].data(t)["DomesticPaymentId"].(string)
	var payments int64
	if err := e.d.Table("api_payments").Where("consent_id = ?", cid).Count(&payments).Error; err != nil || payments != 1 {
		t.Fatalf("%d payments for the consent (%v)", payments, err)
	}
	page, err := e.core.Transactions(ctx, cur.ID, core.TransactionQuery{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	debits := 0
	for _, x := range page.Transactions {
		if x.PaymentID == pid {
			debits++
		}
	}
	if debits != 1 {
		t.Fatalf("%d debits for payment %s, want 1", debits, pid)
	}
}

func testRequestLog(t *testing.T, e *env) {
	p := e.partner("ptn_log", environment.Sandbox)
	alice := e.customer("alice")
	cur := alice.account(core.AccountCurrent)
	_, tok := p.accountConsent(alice, allPerms, cur.ID)
	wantStatus(t, e.do("GET", aisp+"/accounts/"+cur.ID+"/balances?x=secret", tok, nil), 200)
	wantStatus(t, e.do("GET", aisp+"/accounts/acc_nope/balances", tok, nil), 404)

	entries, err := e.svc.RequestLog(ctx, p.id, p.app, apis.RequestLogFilter{Query: "/balances"})
	if err != nil || len(entries) != 2 {
		t.Fatalf("RequestLog: %+v %v", entries, err)
	}
	if got := entries[1]; got.Path != aisp+"/accounts/"+cur.ID+"/balances" || got.Status != 200 || got.Method != "GET" ||
		got.InteractionID == "" || got.ClientID != p.app || got.Environment != environment.Sandbox {
		t.Fatalf("entry %+v", got)
	}
	if entries[0].ProblemType != "not_found" {
		t.Fatalf("problem type %q", entries[0].ProblemType)
	}
	only404, _ := e.svc.RequestLog(ctx, p.id, "", apis.RequestLogFilter{Status: 404})
	if len(only404) != 1 {
		t.Fatalf("status filter: %+v", only404)
	}
	if none, _ := e.svc.RequestLog(ctx, "ptn_someone_else", "", apis.RequestLogFilter{}); len(none) != 0 {
		t.Fatalf("another partner's log: %+v", none)
	}

	// Usage: one record per call; the consent POST is a billable consents call,
	// a 404 is not billable.
	recs := e.usage.forApp(p.app)
	if len(recs) != 3 {
		t.Fatalf("usage %+v", recs)
	}
	if r := recs[0]; r.Product != apis.ProductConsents || r.Kind != apis.KindCall || !r.Billable || r.Status != 201 {
		t.Fatalf("consent usage %+v", r)
	}
	if r := recs[2]; r.Product != apis.ProductAccounts || r.Billable || r.Status != 404 {
		t.Fatalf("404 usage %+v", r)
	}

	// A payment is metered as a payment with its amount; its replay is not billable.
	pp := e.partner("ptn_meter", environment.Sandbox)
	in := initiation("7.00", externalCreditor, "Acme Ltd", "M")
	cid, ptok := pp.paymentConsent(alice, cur.ID, in)
	wantStatus(t, e.do("POST", pisp+"/domestic-payments", ptok, paymentBody(cid, in), withKey("m1")), 201)
	wantStatus(t, e.do("POST", pisp+"/domestic-payments", ptok, paymentBody(cid, in), withKey("m1")), 201)
	recs = e.usage.forApp(pp.app)
	pay, replay := recs[len(recs)-2], recs[len(recs)-1]
	if pay.Kind != apis.KindPayment || pay.Amount != (money.Money{Minor: 700, Currency: "GBP"}) || !pay.Billable || pay.Product != apis.ProductPayments {
		t.Fatalf("payment usage %+v", pay)
	}
	if replay.Billable {
		t.Fatalf("replay billable %+v", replay)
	}
}

func testBroker(t *testing.T, e *env) {
	b := e.svc.Broker()
	p := e.partner("ptn_broker", environment.Sandbox)
	other := e.partner("ptn_broker2", environment.Sandbox)
	alice, bob, frank := e.customer("alice"), e.customer("bob"), e.customer("frank.closed")
	if got := strings.Join(b.Types(), ","); got != "account_access,payment_initiation,data_sharing" {
		t.Fatalf("Types %s", got)
	}
	r := e.do("POST", aisp+"/account-access-consents", p.token, accountConsentBody(apis.PermAccountsDetail, apis.PermBalances))
	id := r.data(t)["ConsentId"].(string)
	det := []oauth.AuthorizationDetail{{Type: apis.TypeAccountAccess, ConsentID: id}}

	for _, tc := range []struct {
		name    string
		client  *oauth.Client
		details []oauth.AuthorizationDetail
		want    string
	}{
		{"fail/another partner's consent", other.client(), det, "invalid_authorization_details: consent " + id + " not found"},
		{"fail/unknown consent", p.client(), []oauth.AuthorizationDetail{{Type: apis.TypeAccountAccess, ConsentID: "cns_x"}}, "invalid_authorization_details: consent cns_x not found"},
		{"fail/type mismatch", p.client(), []oauth.AuthorizationDetail{{Type: apis.TypeDataSharing, ConsentID: id}}, "invalid_authorization_details: consent " + id + " is of type account_access, not data_sharing"},
		{"fail/unknown type", p.client(), []oauth.AuthorizationDetail{{Type: "bogus", ConsentID: id}}, `invalid_authorization_details: authorization_details type "bogus" is not supported`},
		{"fail/no consent id", p.client(), []oauth.AuthorizationDetail{{Type: apis.TypeAccountAccess}}, "invalid_authorization_details: authorization_details of type account_access need a consent_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := b.CheckPushed(ctx, tc.client, tc.details); err == nil || err.Error() != tc.want {
				t.Fatalf("CheckPushed = %v, want %s", err, tc.want)
			}
		})
	}

	descs, err := b.Describe(ctx, p.client(), frank.id, det)
	if err != nil {
		t.Fatal(err)
	}
	d := descs[0]
	if d.Title != "Read your account information" || d.SelectMode != "multi" || len(d.Lines) != 3 ||
		d.Lines[0] != "See your chosen accounts' details, including sort code and account number" || d.Lines[2] != "Until you revoke it" {
		t.Fatalf("description %+v", d)
	}
	var closed string
	for _, a := range d.Accounts {
		if a.Disabled {
			closed = a.ID
		}
	}
	if closed == "" || len(d.Accounts) != 2 {
		t.Fatalf("frank's accounts %+v", d.Accounts)
	}
	for _, tc := range []struct {
		name     string
		customer string
		selected []string
		want     string
	}{
		{"fail/no account", frank.id, nil, "invalid_authorization_details: select at least one account for consent " + id},
		{"fail/closed account", frank.id, []string{closed}, "invalid_authorization_details: account " + closed + " is closed"},
		{"fail/another customer's account", frank.id, []string{alice.account(core.AccountCurrent).ID}, "invalid_authorization_details: account " + alice.account(core.AccountCurrent).ID + " is not one of the customer's accounts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Decide(ctx, p.client(), tc.customer, det, true, map[string][]string{id: tc.selected}, nil)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Decide = %v, want %s", err, tc.want)
			}
		})
	}
	t.Run("fail/persona that rejects every consent", func(t *testing.T) {
		erin := e.customer("erin.rejects")
		r := e.do("POST", aisp+"/account-access-consents", p.token, accountConsentBody(apis.PermAccountsDetail))
		eid := r.data(t)["ConsentId"].(string)
		edet := []oauth.AuthorizationDetail{{Type: apis.TypeAccountAccess, ConsentID: eid}}
		out, err := b.Decide(ctx, p.client(), erin.id, edet, true, map[string][]string{eid: {erin.account(core.AccountCurrent).ID}}, nil)
		if !errors.Is(err, oauth.ErrConsentRejected) || out != nil {
			t.Fatalf("Decide = %v, %v; want oauth.ErrConsentRejected", out, err)
		}
		r = e.do("GET", aisp+"/account-access-consents/"+eid, p.token, nil)
		if r.data(t)["Status"] != "Rejected" {
			t.Fatalf("status %v", r.data(t)["Status"])
		}
		if ok, _ := b.Active(ctx, eid); ok {
			t.Fatal("rejected consent active")
		}
	})
	// Denial rejects; the consent cannot be decided again.
	if out, err := b.Decide(ctx, p.client(), bob.id, det, false, nil, nil); err != nil || out != nil {
		t.Fatalf("deny: %v %v", out, err)
	}
	r = e.do("GET", aisp+"/account-access-consents/"+id, p.token, nil)
	if r.data(t)["Status"] != "Rejected" {
		t.Fatalf("status %v", r.data(t)["Status"])
	}
	if err := b.CheckPushed(ctx, p.client(), det); err == nil || err.Error() != "invalid_authorization_details: consent "+id+" is Rejected, not AwaitingAuthorisation" {
		t.Fatalf("CheckPushed after denial: %v", err)
	}
	if ok, err := b.Active(ctx, id); ok || err != nil {
		t.Fatalf("Active rejected = %v %v", ok, err)
	}
	// Approval enriches the details with the chosen accounts.
	r = e.do("POST", aisp+"/account-access-consents", p.token, accountConsentBody(apis.PermBalances))
	id2 := r.data(t)["ConsentId"].(string)
	how := oauth.ConsentAuthorisation{ACR: oauth.ACRStrong, AMR: []string{"pwd", "otp", "mfa"}, Reason: "the customer performed strong customer authentication"}
	out, err := b.Decide(ctx, p.client(), alice.id, []oauth.AuthorizationDetail{{Type: apis.TypeAccountAccess, ConsentID: id2, Extra: map[string]any{"x": 1}}},
		true, map[string][]string{id2: {alice.account(core.AccountCurrent).ID}}, map[string]oauth.ConsentAuthorisation{id2: how})
	if err != nil || len(out) != 1 || out[0].ConsentID != id2 || fmt.Sprint(out[0].Extra["accounts"]) != "["+alice.account(core.AccountCurrent).ID+"]" || out[0].Extra["x"] != 1 {
		t.Fatalf("Decide approve: %+v %v", out, err)
	}
	// How the customer authorised it is on the consent and in the audit trail.
	if c, err := apis.NewGormStore(e.d).Consent(ctx, id2); err != nil || !reflect.DeepEqual(c.Authorisation, how) {
		t.Fatalf("consent authorisation = %+v, %v; want %+v", c.Authorisation, err, how)
	}
	var details string
	if err := e.d.DB.Raw(`SELECT details FROM audit_events WHERE action = 'consent.authorised' AND object_id = ?`, id2).Scan(&details).Error; err != nil ||
		!strings.Contains(details, `"acr":"urn:openbanking:psd2:sca"`) || !strings.Contains(details, `"amr":["pwd","otp","mfa"]`) ||
		!strings.Contains(details, `"sca_reason":"the customer performed strong customer authentication"`) || strings.Contains(details, "sca_exemption") {
		t.Fatalf("audit details = %s, %v", details, err)
	}
	if ok, err := b.Active(ctx, id2); !ok || err != nil {
		t.Fatalf("Active = %v %v", ok, err)
	}
	evs, _ := audit.List(ctx, e.d.DB, audit.Filter{ObjectID: id2, Action: "consent.authorised"})
	if len(evs) != 1 || evs[0].ActorType != audit.ActorCustomer || evs[0].ActorID != alice.id {
		t.Fatalf("audit %+v", evs)
	}
}

func TestPurgeRequestLog(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		now := e.clock.now()
		old := now.Add(-apis.RequestLogRetention - time.Minute)
		// 2,500 expired entries (three batches) and 3 recent ones.
		for i := 0; i < 2503; i++ {
			at := old.Add(time.Duration(i) * time.Millisecond)
			if i >= 2500 {
				at = now.Add(-time.Duration(i) * time.Second)
			}
			if err := apis.NewGormStore(d).LogRequest(ctx, &apis.RequestLogEntry{At: at, PartnerID: "ptn_purge",
				ClientID: "app_purge", Environment: environment.Sandbox, Method: "GET", Path: fmt.Sprintf("/p/%d", i), Status: 200}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := e.svc.PurgeRequestLog(ctx)
		if err != nil || n != 2500 {
			t.Fatalf("purged %d, %v; want 2500", n, err)
		}
		left, _ := e.svc.RequestLog(ctx, "ptn_purge", "", apis.RequestLogFilter{})
		if len(left) != 3 || left[0].Path != "/p/2500" {
			t.Fatalf("left %+v", left)
		}
		if n, err := e.svc.PurgeRequestLog(ctx); err != nil || n != 0 {
			t.Fatalf("second purge %d, %v", n, err)
		}
	})
}
