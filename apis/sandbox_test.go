package apis_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/apis/core/coretest"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/money"
)

// balanceOf reads an account's booked balance.
func (e *env) balanceOf(accountID string) int64 {
	e.t.Helper()
	a, err := e.core.Account(ctx, accountID)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.Balance.Minor
}

// rows counts rows of table matching where.
func (e *env) rows(table, where string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.d.Table(table).Where(where, args...).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

// pay creates, authorises and executes a payment of amount from cust's
// current account to creditor, and returns the payment id and its status.
func (p *partner) pay(cust *customer, amount, creditor, ref string) (paymentID, status string) {
	p.e.t.Helper()
	in := initiation(amount, creditor, "Payee Ltd", ref)
	cid, tok := p.paymentConsent(cust, cust.account(core.AccountCurrent).ID, in)
	r := p.e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, in))
	wantStatus(p.e.t, r, 201)
	d := r.data(p.e.t)
	return d["DomesticPaymentId"].(string), d["Status"].(string)
}

// TestResetSandbox: partners A and B both use alice in the sandbox (A also
// uses the production customer alice in production); A resets its sandbox
// data. Only A's sandbox effects go.
func TestResetSandbox(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		a := e.partner("ptn_reset_a", environment.Sandbox)
		aProd := e.partner("ptn_reset_a", environment.Production)
		b := e.partner("ptn_reset_b", environment.Sandbox)
		alice, bob, carol := e.customer("alice"), e.customer("bob"), e.customer("carol.insufficient")
		cur, bobCur := alice.account(core.AccountCurrent), bob.account(core.AccountCurrent)
		aliceStart, bobStart := e.balanceOf(cur.ID), e.balanceOf(bobCur.ID)
		realAlice := e.productionCustomer("alice")
		realCur := realAlice.account(core.AccountCurrent)
		realStart := e.balanceOf(realCur.ID)

		// A in production, with the production customer alice: a consent and
		// a payment, which the reset must not see.
		aProdConsent, aProdTok := aProd.accountConsent(realAlice, allPerms, realCur.ID)
		_, st := aProd.pay(realAlice, "3.00", externalCreditor, "A-PROD")
		if st != apis.PaymentAcceptedSettlementInProcess {
			t.Fatalf("A's production payment is %s", st)
		}
		// A in the sandbox: an authorised account consent, one awaiting
		// authorisation, a payment to bob (internal), one to another bank,
		// a rejected one from carol, and one left Pending (the core never
		// answered).
		aConsent, aTok := a.accountConsent(alice, allPerms, cur.ID)
		r := e.do("POST", aisp+"/account-access-consents", a.token, accountConsentBody(allPerms...))
		wantStatus(t, r, 201)
		aAwaiting := r.data(t)["ConsentId"].(string)
		var aPayBob string
		aPayBob, st = a.pay(alice, "12.34", bobCur.Identification, "A-BOB")
		if st != apis.PaymentAcceptedSettlementInProcess {
			t.Fatalf("A's payment to bob is %s", st)
		}
		aPayExt, _ := a.pay(alice, "5.00", externalCreditor, "A-EXT")
		aRejected, st := a.pay(carol, "100.00", externalCreditor, "A-POOR")
		if st != apis.PaymentRejected {
			t.Fatalf("carol's payment is %s", st)
		}
		aPending := &apis.Payment{ID: ids.New("pay"), ConsentID: ids.New("pcn"), PartnerID: a.id, ClientID: a.app,
			Environment: environment.Sandbox, DebtorAccountID: cur.ID, Amount: money.Money{Minor: 300, Currency: "GBP"},
			Initiation: &apis.Initiation{InstructionIdentification: "i", EndToEndIdentification: "e",
				InstructedAmount: apis.OBAmount{Amount: "3.00", Currency: "GBP"},
				CreditorAccount:  apis.OBAccountRef{SchemeName: core.SchemeSortCodeAccountNumber, Identification: externalCreditor, Name: "Payee Ltd"}},
			Status: apis.PaymentPending, CreatedAt: e.clock.now(), StatusUpdatedAt: e.clock.now()}
		if err := apis.NewGormStore(d).CreatePayment(ctx, aPending); err != nil {
			t.Fatal(err)
		}
		// B in the sandbox: an authorised consent and a payment from alice.
		bConsent, bTok := b.accountConsent(alice, allPerms, cur.ID)
		_, st = b.pay(alice, "7.00", externalCreditor, "B-EXT")
		if st != apis.PaymentAcceptedSettlementInProcess {
			t.Fatalf("B's payment is %s", st)
		}
		wantStatus(t, e.do("GET", aisp+"/accounts", aTok, nil), 200)
		wantStatus(t, e.do("GET", aisp+"/accounts", bTok, nil), 200)

		sandboxA := []any{a.id, environment.Sandbox}
		bLogBefore, bKeysBefore := e.rows("request_log", "partner_id = ?", b.id), e.rows("idempotency_keys", "partner_id = ?", b.id)
		prodLogBefore := e.rows("request_log", "partner_id = ? AND environment = ?", a.id, environment.Production)
		prodKeysBefore := e.rows("idempotency_keys", "partner_id = ? AND environment = ?", a.id, environment.Production)
		aLogBefore := e.rows("request_log", "partner_id = ? AND environment = ?", sandboxA...)
		aKeysBefore := e.rows("idempotency_keys", "partner_id = ? AND environment = ?", sandboxA...)
		if aLogBefore == 0 || aKeysBefore == 0 || bLogBefore == 0 || bKeysBefore == 0 || prodLogBefore == 0 || prodKeysBefore == 0 {
			t.Fatalf("nothing to reset: A log %d keys %d, B log %d keys %d, A production log %d keys %d",
				aLogBefore, aKeysBefore, bLogBefore, bKeysBefore, prodLogBefore, prodKeysBefore)
		}

		actor := apis.Actor{Type: audit.ActorPartner, ID: "usr_resetter"}
		rep, err := e.svc.ResetSandbox(ctx, a.id, actor)
		if err != nil {
			t.Fatalf("ResetSandbox: %v", err)
		}

		consentStatus := func(p *partner, path, id string) string {
			r := e.do("GET", path+id, p.token, nil)
			wantStatus(e.t, r, 200)
			return r.data(e.t)["Status"].(string)
		}
		for _, tc := range []struct {
			name  string
			check func() error
		}{
			{"ok/report", func() error {
				want := &apis.SandboxReset{PartnerID: a.id, ConsentsRevoked: 2, PaymentsReversed: 3,
					ReversedPaymentIDs: []string{aPayBob, aPayExt, aPending.ID}, NotReversed: []apis.NotReversedPayment{},
					RequestLogDeleted: aLogBefore, IdempotencyKeysDeleted: aKeysBefore}
				got := *rep
				got.ReversedPaymentIDs = slices.Sorted(slices.Values(rep.ReversedPaymentIDs)) // same creation time: any order
				slices.Sort(want.ReversedPaymentIDs)
				if fmt.Sprint(got) != fmt.Sprint(*want) {
					return fmt.Errorf("report\n %+v\nwant %+v", rep, want)
				}
				return nil
			}},
			{"ok/a-sandbox-log-and-keys-gone", func() error { // first: later checks call the API as A
				if n := e.rows("idempotency_keys", "partner_id = ? AND environment = ?", sandboxA...); n != 0 {
					return fmt.Errorf("%d sandbox idempotency keys of A left", n)
				}
				if n := e.rows("request_log", "partner_id = ? AND environment = ?", sandboxA...); n != 0 {
					return fmt.Errorf("%d sandbox request log rows of A left", n)
				}
				return nil
			}},
			{"ok/a-consents-revoked-through-the-revocation-path", func() error {
				for _, id := range []string{aConsent, aAwaiting} {
					if s := consentStatus(a, aisp+"/account-access-consents/", id); s != apis.StatusRevoked {
						return fmt.Errorf("consent %s is %s", id, s)
					}
					if ev := e.pub.of("consent.revoked", "consent_id", id); len(ev) != 1 || ev[0].Data["revoked_by"] != "partner" || ev[0].AppID != a.app {
						return fmt.Errorf("consent.revoked events of %s: %+v", id, ev)
					}
					evs, err := audit.List(ctx, d.DB, audit.Filter{Action: "consent.revoked", ObjectID: id})
					if err != nil || len(evs) != 1 || evs[0].ActorID != actor.ID || evs[0].ActorType != audit.ActorPartner {
						return fmt.Errorf("audit of %s: %+v %v", id, evs, err)
					}
				}
				e.rev.mu.Lock()
				defer e.rev.mu.Unlock()
				if !slices.Contains(e.rev.consents, aConsent) || !slices.Contains(e.rev.consents, aAwaiting) {
					return fmt.Errorf("TokenRevoker got %v", e.rev.consents)
				}
				return nil
			}},
			{"fail/a-token-refused-after-reset", func() error {
				r := e.do("GET", aisp+"/accounts", aTok, nil)
				wantProblem(e.t, r, 403, "consent_revoked", fmt.Sprintf("consent %s was revoked at %s", aConsent, e.clock.now().Format(time.RFC3339)))
				return nil
			}},
			{"ok/b-untouched", func() error {
				if s := consentStatus(b, aisp+"/account-access-consents/", bConsent); s != apis.StatusAuthorised {
					return fmt.Errorf("B's consent is %s", s)
				}
				wantStatus(e.t, e.do("GET", aisp+"/accounts", bTok, nil), 200)
				if n := e.rows("idempotency_keys", "partner_id = ?", b.id); n != bKeysBefore {
					return fmt.Errorf("B's idempotency keys %d → %d", bKeysBefore, n)
				}
				// B's log has grown by the two reads above, not shrunk.
				if n := e.rows("request_log", "partner_id = ?", b.id); n != bLogBefore+2 {
					return fmt.Errorf("B's request log %d → %d", bLogBefore, n)
				}
				return nil
			}},
			{"ok/a-production-untouched", func() error {
				if s := consentStatus(aProd, aisp+"/account-access-consents/", aProdConsent); s != apis.StatusAuthorised {
					return fmt.Errorf("A's production consent is %s", s)
				}
				wantStatus(e.t, e.do("GET", aisp+"/accounts", aProdTok, nil), 200)
				if n := e.rows("idempotency_keys", "partner_id = ? AND environment = ?", a.id, environment.Production); n != prodKeysBefore {
					return fmt.Errorf("A's production idempotency keys %d → %d", prodKeysBefore, n)
				}
				if n := e.rows("request_log", "partner_id = ? AND environment = ?", a.id, environment.Production); n < prodLogBefore {
					return fmt.Errorf("A's production request log %d → %d", prodLogBefore, n)
				}
				return nil
			}},
			{"ok/balances-back-by-a-sandbox-payments-only", func() error {
				// Alice keeps paying B's 7.00, production alice A's production
				// 3.00; bob gives A's 12.34 back.
				if got, want := e.balanceOf(cur.ID), aliceStart-700; got != want {
					return fmt.Errorf("alice's balance %d, want %d (start %d)", got, want, aliceStart)
				}
				if got, want := e.balanceOf(realCur.ID), realStart-300; got != want {
					return fmt.Errorf("production alice's balance %d, want %d (start %d)", got, want, realStart)
				}
				if got := e.balanceOf(bobCur.ID); got != bobStart {
					return fmt.Errorf("bob's balance %d, want %d", got, bobStart)
				}
				txns := coretest.CheckAgrees(e.t, e.core, cur.ID)
				coretest.CheckAgrees(e.t, e.core, bobCur.ID)
				reversals := 0
				for _, x := range txns[:8] {
					if strings.HasPrefix(x.Description, "Reversal of payment ") {
						reversals++
						if x.CreditDebit != core.Credit || !strings.HasSuffix(x.Description, ": sandbox reset") ||
							(x.PaymentID != aPayBob && x.PaymentID != aPayExt && x.PaymentID != aPending.ID) {
							return fmt.Errorf("reversal entry %+v", x)
						}
					}
				}
				if reversals != 3 {
					return fmt.Errorf("%d reversal entries on alice's account, want 3", reversals)
				}
				return nil
			}},
			{"ok/pending-payment-settled-before-reversal", func() error {
				res, err := e.core.Payment(ctx, aPending.ID)
				if err != nil || res.Status != core.PaymentAccepted {
					return fmt.Errorf("core payment %+v %v", res, err)
				}
				r := e.do("GET", pisp+"/domestic-payments/"+aPending.ID, a.token, nil)
				wantStatus(e.t, r, 200)
				if s := r.data(e.t)["Status"]; s == apis.PaymentPending {
					return fmt.Errorf("pending payment still %s", s)
				}
				return nil
			}},
			{"fail/rejected-payment-not-reversed", func() error {
				if _, err := e.core.ReversePayment(ctx, aRejected, "check"); !errors.Is(err, core.ErrNotReversible) {
					return fmt.Errorf("the rejected payment: %v", err)
				}
				return nil
			}},
			{"ok/audit", func() error {
				evs, err := audit.List(ctx, d.DB, audit.Filter{Action: "sandbox.reset", PartnerID: a.id})
				if err != nil || len(evs) != 1 || evs[0].ActorID != actor.ID || evs[0].ObjectID != a.id ||
					!strings.Contains(evs[0].Details, `"consents_revoked":2`) || !strings.Contains(evs[0].Details, `"payments_reversed":3`) ||
					!strings.Contains(evs[0].Details, fmt.Sprintf(`"request_log_deleted":%d`, aLogBefore)) ||
					!strings.Contains(evs[0].Details, fmt.Sprintf(`"idempotency_keys_deleted":%d`, aKeysBefore)) {
					return fmt.Errorf("sandbox.reset audit %+v %v", evs, err)
				}
				for _, id := range []string{aPayBob, aPayExt, aPending.ID} {
					evs, err := audit.List(ctx, d.DB, audit.Filter{Action: "payment.reversed", ObjectID: id})
					if err != nil || len(evs) != 1 || evs[0].ActorID != actor.ID {
						return fmt.Errorf("payment.reversed audit of %s: %+v %v", id, evs, err)
					}
				}
				return nil
			}},
			{"ok/second-reset-changes-nothing", func() error {
				aliceBefore, bobBefore := e.balanceOf(cur.ID), e.balanceOf(bobCur.ID)
				e.rev.mu.Lock()
				revokedBefore := len(e.rev.consents)
				e.rev.mu.Unlock()
				again, err := e.svc.ResetSandbox(ctx, a.id, actor)
				if err != nil {
					return err
				}
				// The first reset's own checks above made A sandbox calls: those are logged again.
				want := &apis.SandboxReset{PartnerID: a.id, ReversedPaymentIDs: []string{}, NotReversed: []apis.NotReversedPayment{},
					RequestLogDeleted: again.RequestLogDeleted}
				if fmt.Sprint(again) != fmt.Sprint(want) {
					return fmt.Errorf("second report %+v", again)
				}
				again, err = e.svc.ResetSandbox(ctx, a.id, actor)
				if err != nil || fmt.Sprint(again) != fmt.Sprint(&apis.SandboxReset{PartnerID: a.id, ReversedPaymentIDs: []string{},
					NotReversed: []apis.NotReversedPayment{}}) {
					return fmt.Errorf("third report %+v, %v", again, err)
				}
				if e.balanceOf(cur.ID) != aliceBefore || e.balanceOf(bobCur.ID) != bobBefore {
					return errors.New("a second reset moved money")
				}
				e.rev.mu.Lock()
				defer e.rev.mu.Unlock()
				if len(e.rev.consents) != revokedBefore {
					return fmt.Errorf("a second reset revoked tokens: %v", e.rev.consents[revokedBefore:])
				}
				return nil
			}},
			{"fail/no-partner", func() error {
				_, err := e.svc.ResetSandbox(ctx, "", actor)
				if err == nil || err.Error() != "validation_failed: partner id is required" {
					return fmt.Errorf("err = %v", err)
				}
				return nil
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.t = t
				if err := tc.check(); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

// TestResetSandboxWithoutReverser: a bank core without core.SandboxReverser
// still gets consents revoked and logs deleted; payments stay, and the report
// says so.
func TestResetSandboxWithoutReverser(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		p := e.partner("ptn_reset_plain", environment.Sandbox)
		alice := e.customer("alice")
		cur := alice.account(core.AccountCurrent)
		start := e.balanceOf(cur.ID)
		consentID, _ := p.accountConsent(alice, allPerms, cur.ID)
		p.pay(alice, "4.00", externalCreditor, "PLAIN")

		plainCore := struct{ core.Core }{e.core} // hides ReversePayment
		svc := apis.NewService(apis.Config{DB: d, Core: plainCore, Publisher: e.pub, Revoker: e.rev, Now: e.clock.now})
		rep, err := svc.ResetSandbox(ctx, p.id, apis.Actor{Type: audit.ActorPartner, ID: "usr_plain"})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			ok   bool
		}{
			{"ok/reversal-unsupported-reported", rep.ReversalUnsupported && rep.PaymentsReversed == 0},
			{"ok/consent-revoked", rep.ConsentsRevoked == 1 && len(e.pub.of("consent.revoked", "consent_id", consentID)) == 1},
			{"ok/log-deleted", rep.RequestLogDeleted > 0 && e.rows("request_log", "partner_id = ?", p.id) == 0},
			{"fail/payment-not-reversed", e.balanceOf(cur.ID) == start-400},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if !tc.ok {
					t.Fatalf("report %+v, balance %d (start %d)", rep, e.balanceOf(cur.ID), start)
				}
			})
		}
	})
}
