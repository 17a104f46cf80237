package corrections_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/corrections"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/partners/staff"
)

var ctx = context.Background()

func TestMain(m *testing.M) {
	secrets.PasswordCost = 4
	os.Exit(m.Run())
}

func gbp(minor int64) money.Money { return money.Money{Minor: minor, Currency: "GBP"} }

// paymentTable is the Payments port over the payments the test made in the
// reference core (the platform's adapter on apis is exercised by the
// end-to-end test in cmd/bankbridge).
type paymentTable struct {
	mu sync.Mutex
	m  map[string]*corrections.Payment
}

func (t *paymentTable) Payment(_ context.Context, id string) (*corrections.Payment, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.m[id]
	if !ok {
		return nil, corrections.ErrPaymentNotFound
	}
	cp := *p
	return &cp, nil
}

// published records the events the service published, in the order of
// their transactions' commits being attempted.
type published struct {
	mu  sync.Mutex
	evs []event
}

type event struct {
	Type, PartnerID, AppID string
	Data                   map[string]any
}

func (p *published) Publish(_ context.Context, tx *gorm.DB, typ, partnerID, appID string, data map[string]any) error {
	if tx == nil {
		return errors.New("published: no transaction")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.evs = append(p.evs, event{typ, partnerID, appID, data})
	return nil
}

// complaintBook is a small real ComplaintLink: open complaints by id, and
// each resolution recorded in the posting's transaction (an audit entry)
// and remembered with its values.
type complaintBook struct {
	mu       sync.Mutex
	open     map[string]string // complaint id → payment id
	resolved []resolution
}

type resolution struct {
	ComplaintID, CorrectionID string
	Amount                    money.Money
}

func (b *complaintBook) CheckRefund(_ context.Context, complaintID, paymentID string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.open[complaintID]
	if !ok {
		return problem.New(problem.CodeNotFound, "complaint %s not found", complaintID)
	}
	if p != paymentID {
		return problem.New(problem.CodeValidation, "complaint %s is about payment %s, not %s", complaintID, p, paymentID)
	}
	return nil
}

func (b *complaintBook) Refunded(ctx context.Context, tx *gorm.DB, complaintID, correctionID string, amount money.Money) error {
	if err := audit.Record(ctx, tx, audit.Entry{ActorType: audit.ActorSystem, ActorID: "complaints", Action: "complaint.refunded",
		ObjectType: "complaint", ObjectID: complaintID, Details: map[string]any{"correction_id": correctionID}}); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.open, complaintID)
	b.resolved = append(b.resolved, resolution{complaintID, correctionID, amount})
	return nil
}

type fixture struct {
	d          *db.DB
	core       *core.Reference
	svc        *corrections.Service
	payments   *paymentTable
	events     *published
	complaints *complaintBook
	ledger     *contracts.Ledger
	alice, bob core.Account
	n          int
}

var (
	maker   = corrections.Actor{ID: "stf_maker", Role: staff.RoleFinance}
	checker = corrections.Actor{ID: "stf_checker", Role: staff.RoleRiskOfficer}
)

// corrector lets a test make the core fail after it posted (a crash between
// the core and the record).
type corrector struct {
	core.Corrector
	failAfter bool
}

func (c *corrector) PostCorrection(ctx context.Context, in core.CorrectionInstruction) (*core.CorrectionResult, error) {
	res, err := c.Corrector.PostCorrection(ctx, in)
	if err == nil && c.failAfter {
		return nil, errors.New("connection reset after the core committed")
	}
	return res, err
}

func newFixture(t *testing.T, d *db.DB, cr *corrector) *fixture {
	t.Helper()
	seedNow := time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)
	r := core.NewReference(d, core.Options{CursorKey: []byte("k"), Now: func() time.Time { return seedNow.Add(time.Hour) }})
	if _, err := r.Seed(ctx, core.SeedOptions{Now: seedNow}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{d: d, core: r, payments: &paymentTable{m: map[string]*corrections.Payment{}}, events: &published{},
		complaints: &complaintBook{open: map[string]string{}}}
	for _, who := range []string{"alice", "bob"} {
		c, err := r.CustomerByUsername(ctx, environment.Sandbox, who)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Exec(`UPDATE core_customers SET email = ? WHERE id = ?`, who+"@example.test", c.ID).Error; err != nil {
			t.Fatal(err)
		}
		accs, err := r.Accounts(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range accs {
			if a.Type == core.AccountCurrent && who == "alice" {
				f.alice = a
			} else if a.Type == core.AccountCurrent {
				f.bob = a
			}
		}
	}
	f.ledger = contracts.New(d, contracts.Options{}).Ledger
	var port core.Corrector = r
	if cr != nil {
		cr.Corrector = r
		port = cr
	}
	f.svc = corrections.New(corrections.Config{Store: corrections.NewGormStore(d), Payments: f.payments, Core: port,
		Customers: r, Ledger: corrections.ContractsLedger{Ledger: f.ledger}, Publisher: f.events, Complaints: f.complaints})
	return f
}

// pay makes alice pay bob minor pence through the core, as partner ptn_a's
// app, and records the payment as apis would (accepted).
func (f *fixture) pay(t *testing.T, minor int64) *corrections.Payment {
	t.Helper()
	f.n++
	id := fmt.Sprintf("pay_%s_%d", strings.ReplaceAll(t.Name(), "/", "_"), f.n)
	res, err := f.core.ExecutePayment(ctx, core.PaymentInstruction{PaymentID: id, DebtorAccountID: f.alice.ID,
		Creditor: core.Creditor{SchemeName: f.bob.SchemeName, Identification: f.bob.Identification, Name: f.bob.HolderName},
		Amount:   gbp(minor), Reference: "INV-42"})
	if err != nil || res.Status != core.PaymentAccepted {
		t.Fatalf("ExecutePayment: %+v, %v", res, err)
	}
	p := &corrections.Payment{ID: id, PartnerID: "ptn_a", ClientID: "app_a", Environment: environment.Sandbox,
		CustomerID: f.alice.CustomerID, Amount: gbp(minor), Status: "AcceptedSettlementCompleted", Accepted: true,
		CreditorName: f.bob.HolderName, Reference: "INV-42"}
	f.payments.mu.Lock()
	f.payments.m[id] = p
	f.payments.mu.Unlock()
	return p
}

func (f *fixture) balance(t *testing.T, accountID string) int64 {
	t.Helper()
	a, err := f.core.Account(ctx, accountID)
	if err != nil {
		t.Fatal(err)
	}
	return a.Balance.Minor
}

func partnerRefund(p *corrections.Payment, minor int64) corrections.PartnerRequest {
	return corrections.PartnerRequest{PartnerID: "ptn_a", Environment: environment.Sandbox, ClientID: "app_a",
		PaymentID: p.ID, Kind: corrections.KindRefund, Amount: gbp(minor), Reason: "returned goods"}
}

func wantProblem(t *testing.T, name string, err error, code problem.Code, detail string) {
	t.Helper()
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Code != code || pe.Detail != detail {
		t.Fatalf("%s: got %v, want %s %q", name, err, code, detail)
	}
}

// TestRefundsSumToOriginal: partial refunds (one the partner's, one
// staff's) sum to the payment; one penny more is refused exactly. Each
// posted refund is on the customer's statement with the original's
// reference, in the ledger, announced by webhook and mailed to the customer.
func TestRefundsSumToOriginal(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, nil)
		p := f.pay(t, 1000)
		a0, b0 := f.balance(t, f.alice.ID), f.balance(t, f.bob.ID)

		c1, err := f.svc.RequestByPartner(ctx, partnerRefund(p, 400))
		if err != nil || c1.Status != corrections.StatusPending || c1.RaisedByType != corrections.RaisedByPartner || c1.RaisedBy != "app_a" {
			t.Fatalf("ok/partner-request: %+v, %v", c1, err)
		}
		if got := f.balance(t, f.alice.ID); got != a0 {
			t.Fatalf("ok/pending-moves-nothing: alice %d, want %d", got, a0)
		}
		c1, err = f.svc.Decide(ctx, checker, c1.ID, corrections.Approve, "receipt checked")
		if err != nil || c1.Status != corrections.StatusPosted || c1.CoreCreditTransactionID == "" {
			t.Fatalf("ok/approve-partner-request: %+v, %v", c1, err)
		}
		c2, err := f.svc.Raise(ctx, maker, corrections.Raise{PaymentID: p.ID, Kind: corrections.KindRefund, Amount: gbp(600), Reason: "rest of the order cancelled"})
		if err != nil {
			t.Fatalf("ok/staff-raise: %v", err)
		}
		if c2, err = f.svc.Decide(ctx, checker, c2.ID, corrections.Approve, "ok"); err != nil || c2.Status != corrections.StatusPosted {
			t.Fatalf("ok/approve-staff-raise: %+v, %v", c2, err)
		}
		if a, b := f.balance(t, f.alice.ID), f.balance(t, f.bob.ID); a != a0+1000 || b != b0-1000 {
			t.Fatalf("ok/balances: alice %d (want %d), bob %d (want %d)", a, a0+1000, b, b0-1000)
		}

		_, err = f.svc.RequestByPartner(ctx, partnerRefund(p, 1))
		wantProblem(t, "fail/one-penny-more", err, problem.CodeValidation,
			"a refund of 0.01 GBP exceeds what is left to refund of payment "+p.ID+": 0.00 GBP of 10.00 GBP")
		_, err = f.svc.Raise(ctx, maker, corrections.Raise{PaymentID: p.ID, Kind: corrections.KindReversal, Reason: "undo"})
		wantProblem(t, "fail/reversal-after-refunds", err, problem.CodeInvalidState,
			"payment "+p.ID+" has refunds (10.00 GBP of 10.00 GBP): a reversal is the whole amount, so refund the rest instead")

		// The customer's statement: the refund entries, newest first, with the original's reference.
		page, err := f.core.Transactions(ctx, f.alice.ID, core.TransactionQuery{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []struct {
			c    *corrections.Correction
			desc string
		}{{c2, "Refund of payment " + p.ID + ": rest of the order cancelled"}, {c1, "Refund of payment " + p.ID + ": returned goods"}} {
			e := page.Transactions[i]
			if e.ID != want.c.CoreCreditTransactionID || e.Description != want.desc || e.Reference != "INV-42" || e.CreditDebit != core.Credit || e.Amount != want.c.Amount {
				t.Fatalf("ok/statement[%d]: %+v", i, e)
			}
		}
		// The ledger.
		post, err := f.ledger.PostingByKey(ctx, corrections.LedgerKey(c1.ID))
		if err != nil || !strings.Contains(post.Description, p.ID) || len(post.Entries) != 2 || post.Entries[0].Amount != 400 {
			t.Fatalf("ok/ledger: %+v, %v", post, err)
		}
		// The webhooks.
		if len(f.events.evs) != 2 {
			t.Fatalf("ok/events: %+v", f.events.evs)
		}
		ev := f.events.evs[0]
		if ev.Type != corrections.EventRefunded || ev.PartnerID != "ptn_a" || ev.AppID != "app_a" || ev.Data["payment_id"] != p.ID ||
			ev.Data["correction_id"] != c1.ID || ev.Data["amount"] != "400" || ev.Data["currency"] != "GBP" || ev.Data["reason"] != "returned goods" {
			t.Fatalf("ok/event: %+v", ev)
		}
		// The customer's mails.
		ms, err := mail.List(ctx, d.DB, "alice@example.test", 10)
		if err != nil || len(ms) != 2 || ms[0].Template != corrections.MailTemplate || !strings.Contains(ms[0].Body, "credited to your account") {
			t.Fatalf("ok/mail: %+v, %v", ms, err)
		}
	})
}

// TestConcurrentRefunds: 8 refunds of 3.00 of a 10.00 payment at once:
// exactly 3 are accepted, the other 5 refused with the amount left.
func TestConcurrentRefunds(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, nil)
		p := f.pay(t, 1000)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = f.svc.RequestByPartner(ctx, partnerRefund(p, 300))
			}(i)
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			wantProblem(t, "fail/over-the-payment", err, problem.CodeValidation,
				"a refund of 3.00 GBP exceeds what is left to refund of payment "+p.ID+": 1.00 GBP of 10.00 GBP")
		}
		if ok != 3 {
			t.Fatalf("ok/three-fit: %d accepted, want 3 (%v)", ok, errs)
		}
		tot, err := f.svc.Totals(ctx, checker, p.ID)
		if err != nil || tot.Reserved != 900 {
			t.Fatalf("ok/totals: %+v, %v", tot, err)
		}
	})
}

// TestDecide: maker-checker, roles, and one decision winning among
// concurrent ones; a rejection gives the amount back.
func TestDecide(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, nil)
		p := f.pay(t, 1000)
		c, err := f.svc.Raise(ctx, maker, corrections.Raise{PaymentID: p.ID, Kind: corrections.KindRefund, Amount: gbp(1000), Reason: "wrong amount"})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name             string
			actor            corrections.Actor
			id, decision, nt string
			code             problem.Code
			detail           string
		}{
			{"fail/maker-is-checker", corrections.Actor{ID: maker.ID, Role: staff.RoleFinance}, c.ID, corrections.Approve, "me", problem.CodeMakerChecker,
				"correction " + c.ID + " was raised by stf_maker, who cannot also decide it"},
			{"fail/role", corrections.Actor{ID: "stf_pm", Role: staff.RolePartnerManager}, c.ID, corrections.Approve, "x", problem.CodeForbidden,
				`role "partner_manager" may not corrections.approve`},
			{"fail/no-note", checker, c.ID, corrections.Approve, " ", problem.CodeValidation, "a decision needs a note"},
			{"fail/decision", checker, c.ID, "maybe", "x", problem.CodeValidation, "decision must be approve or reject"},
			{"fail/unknown", checker, "cor_none", corrections.Approve, "x", problem.CodeNotFound, "correction cor_none not found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.Decide(ctx, tc.actor, tc.id, tc.decision, tc.nt)
				wantProblem(t, tc.name, err, tc.code, tc.detail)
			})
		}
		_, err = f.svc.Raise(ctx, corrections.Actor{ID: "stf_ro", Role: staff.RoleRiskOfficer}, corrections.Raise{PaymentID: p.ID, Kind: corrections.KindRefund, Amount: gbp(1), Reason: "x"})
		wantProblem(t, "fail/raise-role", err, problem.CodeForbidden, `role "risk_officer" may not corrections.raise`)

		// Eight staff members decide at once: one wins.
		a0 := f.balance(t, f.alice.ID)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				dec := corrections.Approve
				if i%2 == 1 {
					dec = corrections.Reject
				}
				_, errs[i] = f.svc.Decide(ctx, corrections.Actor{ID: fmt.Sprintf("stf_%d", i), Role: staff.RoleRiskOfficer}, c.ID, dec, "race")
			}(i)
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			var pe *problem.Error
			switch {
			case err == nil:
				won++
			case errors.As(err, &pe) && pe.Code == problem.CodeConflict:
				wantProblem(t, "fail/lost-race", err, problem.CodeConflict, "correction "+c.ID+" was decided by someone else meanwhile; reload it")
			case errors.As(err, &pe) && pe.Code == problem.CodeInvalidState && strings.HasPrefix(pe.Detail, "correction "+c.ID+" is already "):
			default:
				t.Fatalf("fail/race: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("ok/one-wins: %d won (%v)", won, errs)
		}
		got, err := f.svc.Get(ctx, checker, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		moved := f.balance(t, f.alice.ID) - a0
		switch got.Status {
		case corrections.StatusPosted:
			if moved != 1000 {
				t.Fatalf("ok/approved-once: moved %d", moved)
			}
		case corrections.StatusRejected:
			tot, _ := f.svc.Totals(ctx, checker, p.ID)
			if moved != 0 || tot.Reserved != 0 {
				t.Fatalf("ok/rejected-releases: moved %d, reserved %d", moved, tot.Reserved)
			}
		default:
			t.Fatalf("ok/decided: %s", got.Status)
		}
		_, err = f.svc.Decide(ctx, checker, c.ID, corrections.Approve, "again")
		wantProblem(t, "fail/decided", err, problem.CodeInvalidState, "correction "+c.ID+" is already "+got.Status)
	})
}

// TestRaiseRefusals: what cannot be corrected, and another partner's
// payment (not found, as an unknown one).
func TestRaiseRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, nil)
		p := f.pay(t, 1000)
		rejected := &corrections.Payment{ID: "pay_rejected", PartnerID: "ptn_a", ClientID: "app_a", Environment: environment.Sandbox,
			Amount: gbp(500), Status: "Rejected"}
		f.payments.m[rejected.ID] = rejected
		other := partnerRefund(p, 100)
		other.PartnerID = "ptn_b"
		otherEnv := partnerRefund(p, 100)
		otherEnv.Environment = environment.Production
		reversal := partnerRefund(rejected, 0)
		reversal.Kind, reversal.Amount = corrections.KindReversal, money.Money{}
		for _, tc := range []struct {
			name   string
			req    corrections.PartnerRequest
			code   problem.Code
			detail string
		}{
			{"fail/reversal-of-rejected", reversal, problem.CodeInvalidState,
				"payment pay_rejected is Rejected: only a payment the bank accepted can be refunded or reversed"},
			{"fail/other-partner", other, problem.CodeNotFound, "domestic payment " + p.ID + " not found"},
			{"fail/other-environment", otherEnv, problem.CodeNotFound, "domestic payment " + p.ID + " not found"},
			{"fail/unknown", corrections.PartnerRequest{PartnerID: "ptn_a", Environment: environment.Sandbox, PaymentID: "pay_x", Kind: "refund", Amount: gbp(1), Reason: "x"},
				problem.CodeNotFound, "domestic payment pay_x not found"},
			{"fail/kind", corrections.PartnerRequest{PartnerID: "ptn_a", Environment: environment.Sandbox, PaymentID: p.ID, Kind: "chargeback", Amount: gbp(1), Reason: "x"},
				problem.CodeValidation, "Kind must be refund or reversal"},
			{"fail/no-reason", corrections.PartnerRequest{PartnerID: "ptn_a", Environment: environment.Sandbox, PaymentID: p.ID, Kind: "refund", Amount: gbp(1)},
				problem.CodeValidation, "a correction needs a Reason"},
			{"fail/currency", corrections.PartnerRequest{PartnerID: "ptn_a", Environment: environment.Sandbox, PaymentID: p.ID, Kind: "refund", Amount: money.Money{Minor: 1, Currency: "EUR"}, Reason: "x"},
				problem.CodeValidation, "Amount is in EUR; payment " + p.ID + " is in GBP"},
			{"fail/more-than-payment", corrections.PartnerRequest{PartnerID: "ptn_a", Environment: environment.Sandbox, PaymentID: p.ID, Kind: "refund", Amount: gbp(1001), Reason: "x"},
				problem.CodeValidation, "a refund of 10.01 GBP exceeds payment " + p.ID + " (10.00 GBP)"},
			{"fail/partial-reversal", corrections.PartnerRequest{PartnerID: "ptn_a", Environment: environment.Sandbox, PaymentID: p.ID, Kind: "reversal", Amount: gbp(500), Reason: "x"},
				problem.CodeValidation, "a reversal is the whole amount of payment " + p.ID + " (10.00 GBP)"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.RequestByPartner(ctx, tc.req)
				wantProblem(t, tc.name, err, tc.code, tc.detail)
			})
		}
		_, err := f.svc.PartnerCorrections(ctx, "ptn_b", environment.Sandbox, p.ID)
		wantProblem(t, "fail/list-other-partner", err, problem.CodeNotFound, "domestic payment "+p.ID+" not found")

		// A reversal, once.
		rev := partnerRefund(p, 0)
		rev.Kind, rev.Amount = corrections.KindReversal, money.Money{}
		c, err := f.svc.RequestByPartner(ctx, rev)
		if err != nil || c.Amount != gbp(1000) {
			t.Fatalf("ok/reversal: %+v, %v", c, err)
		}
		_, err = f.svc.RequestByPartner(ctx, rev)
		wantProblem(t, "fail/second-reversal", err, problem.CodeInvalidState, "payment "+p.ID+" has been reversed already")
		_, err = f.svc.RequestByPartner(ctx, partnerRefund(p, 1))
		wantProblem(t, "fail/refund-after-reversal", err, problem.CodeInvalidState, "payment "+p.ID+" has been reversed already")
		if c, err = f.svc.Decide(ctx, checker, c.ID, corrections.Approve, "fraud confirmed"); err != nil || c.Status != corrections.StatusPosted {
			t.Fatalf("ok/reversal-posted: %+v, %v", c, err)
		}
		if ev := f.events.evs[len(f.events.evs)-1]; ev.Type != corrections.EventReversed || ev.Data["amount"] != "1000" {
			t.Fatalf("ok/reversed-event: %+v", ev)
		}
		list, err := f.svc.PartnerCorrections(ctx, "ptn_a", environment.Sandbox, p.ID)
		if err != nil || len(list) != 1 || list[0].ID != c.ID {
			t.Fatalf("ok/partner-list: %+v, %v", list, err)
		}
	})
}

// TestResumeAfterCrash: the core posted but the platform did not record it
// (the answer was lost): the correction stays approved; Resume posts it
// without moving money twice, and records it once.
func TestResumeAfterCrash(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cr := &corrector{failAfter: true}
		f := newFixture(t, d, cr)
		p := f.pay(t, 1000)
		a0 := f.balance(t, f.alice.ID)
		c, err := f.svc.RequestByPartner(ctx, partnerRefund(p, 250))
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.Decide(ctx, checker, c.ID, corrections.Approve, "ok")
		if err == nil || !strings.Contains(err.Error(), "connection reset after the core committed") || got == nil || got.Status != corrections.StatusApproved {
			t.Fatalf("fail/core-lost-answer: %+v, %v", got, err)
		}
		if moved := f.balance(t, f.alice.ID) - a0; moved != 250 {
			t.Fatalf("the core posted: moved %d", moved)
		}
		cr.failAfter = false
		n, err := f.svc.ResumeApproved(ctx)
		if err != nil || n != 1 {
			t.Fatalf("ok/resume: %d, %v", n, err)
		}
		again, err := f.svc.Resume(ctx, c.ID)
		if err != nil || again.Status != corrections.StatusPosted {
			t.Fatalf("ok/resume-posted-is-noop: %+v, %v", again, err)
		}
		if moved := f.balance(t, f.alice.ID) - a0; moved != 250 {
			t.Fatalf("ok/posted-once: moved %d, want 250", moved)
		}
		var coreRows, ledgerRows int64
		d.Raw(`SELECT COUNT(*) FROM core_corrections WHERE payment_id = ?`, p.ID).Scan(&coreRows)
		d.Raw(`SELECT COUNT(*) FROM ledger_postings WHERE idempotency_key = ?`, corrections.LedgerKey(c.ID)).Scan(&ledgerRows)
		if coreRows != 1 || ledgerRows != 1 || len(f.events.evs) != 1 {
			t.Fatalf("ok/recorded-once: core %d, ledger %d, events %d", coreRows, ledgerRows, len(f.events.evs))
		}
	})
}

// TestComplaintRefund: a staff refund that settles a complaint is checked
// against it when raised and resolves it in the posting's transaction.
func TestComplaintRefund(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, nil)
		p := f.pay(t, 1000)
		f.complaints.open["cmp_1"] = p.ID
		f.complaints.open["cmp_2"] = "pay_other"
		_, err := f.svc.Raise(ctx, maker, corrections.Raise{PaymentID: p.ID, Kind: corrections.KindRefund, Amount: gbp(300), Reason: "x", ComplaintID: "cmp_2"})
		wantProblem(t, "fail/complaint-of-other-payment", err, problem.CodeValidation, "complaint cmp_2 is about payment pay_other, not "+p.ID)
		_, err = f.svc.Raise(ctx, maker, corrections.Raise{PaymentID: p.ID, Kind: corrections.KindRefund, Amount: gbp(300), Reason: "x", ComplaintID: "cmp_9"})
		wantProblem(t, "fail/unknown-complaint", err, problem.CodeNotFound, "complaint cmp_9 not found")

		c, err := f.svc.Raise(ctx, maker, corrections.Raise{PaymentID: p.ID, Kind: corrections.KindRefund, Amount: gbp(300), Reason: "not as described", ComplaintID: "cmp_1"})
		if err != nil || c.ComplaintID != "cmp_1" {
			t.Fatalf("ok/raise-for-complaint: %+v, %v", c, err)
		}
		if len(f.complaints.resolved) != 0 {
			t.Fatal("resolved before the posting")
		}
		if _, err := f.svc.Decide(ctx, checker, c.ID, corrections.Approve, "complaint upheld"); err != nil {
			t.Fatal(err)
		}
		if len(f.complaints.resolved) != 1 || f.complaints.resolved[0] != (resolution{"cmp_1", c.ID, gbp(300)}) {
			t.Fatalf("ok/complaint-resolved: %+v", f.complaints.resolved)
		}
		var n int64
		d.Raw(`SELECT COUNT(*) FROM audit_events WHERE action = 'complaint.refunded' AND object_id = 'cmp_1'`).Scan(&n)
		if n != 1 {
			t.Fatalf("ok/resolved-in-tx: %d audit rows", n)
		}

		noComplaints := corrections.New(corrections.Config{Store: corrections.NewGormStore(d), Payments: f.payments, Core: f.core})
		_, err = noComplaints.Raise(ctx, maker, corrections.Raise{PaymentID: p.ID, Kind: corrections.KindRefund, Amount: gbp(1), Reason: "x", ComplaintID: "cmp_1"})
		wantProblem(t, "fail/complaints-off", err, problem.CodeValidation, "complaints are not enabled: raise the correction without a complaint")
	})
}

// TestCoreRefusalFails: the core refuses an approved correction for good
// (the payment was reversed by a sandbox reset meanwhile): the correction
// fails with the core's reason, its amount is given back, nothing moves,
// and housekeeping does not retry it.
func TestCoreRefusalFails(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, nil)
		p := f.pay(t, 1000)
		c, err := f.svc.RequestByPartner(ctx, partnerRefund(p, 400))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.core.ReversePayment(ctx, p.ID, "sandbox reset"); err != nil {
			t.Fatal(err)
		}
		a0 := f.balance(t, f.alice.ID)
		got, err := f.svc.Decide(ctx, checker, c.ID, corrections.Approve, "ok")
		wantProblem(t, "fail/core-refuses", err, problem.CodeInvalidState,
			"the core refused correction "+c.ID+": core: payment cannot be reversed: payment "+p.ID+" was reversed in the sandbox")
		if got == nil || got.Status != corrections.StatusFailed || got.FailureReason == "" {
			t.Fatalf("ok/failed: %+v", got)
		}
		if moved := f.balance(t, f.alice.ID) - a0; moved != 0 {
			t.Fatalf("ok/nothing-moved: %d", moved)
		}
		tot, err := f.svc.Totals(ctx, checker, p.ID)
		if err != nil || tot.Reserved != 0 {
			t.Fatalf("ok/released: %+v, %v", tot, err)
		}
		if n, err := f.svc.ResumeApproved(ctx); n != 0 || err != nil {
			t.Fatalf("ok/not-retried: %d, %v", n, err)
		}
		if len(f.events.evs) != 0 {
			t.Fatalf("ok/no-event: %+v", f.events.evs)
		}
	})
}
