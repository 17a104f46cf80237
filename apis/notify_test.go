package apis_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/risk"
)

// failingMail is a Store whose EnqueueMail writes the mail and then fails
// while fail is set, so the outcome's transaction rolls back after the mail
// was written.
type failingMail struct {
	apis.Store
	fail atomic.Bool
}

func (f *failingMail) EnqueueMail(ctx context.Context, m mail.Message) error {
	if err := f.Store.EnqueueMail(ctx, m); err != nil {
		return err
	}
	if f.fail.Load() {
		return errors.New("injected failure after the mail was written")
	}
	return nil
}

// namedPartner registers a partner row (as package partners would) so the
// notice can name it as the consent page does.
func (e *env) namedPartner(id, legal, trading string) *partner {
	e.t.Helper()
	if err := e.d.Exec(`INSERT INTO partners (id, legal_name, trading_name, status, created_at, updated_at)
		VALUES (?, ?, ?, 'active', ?, ?)`, id, legal, trading, seedNow, seedNow).Error; err != nil {
		e.t.Fatal(err)
	}
	return e.partner(id, environment.Sandbox)
}

func (e *env) setEmail(cust *customer, email string) {
	e.t.Helper()
	if err := e.core.SetCustomerEmail(ctx, cust.id, email); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) mailsTo(to string) []mail.Message {
	e.t.Helper()
	ms, err := mail.List(ctx, e.d.DB, to, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

// TestPaymentNotification: a payment the core accepts mails the customer
// once (partner, amount, masked payee, when), in the outcome's transaction;
// a rejected, held (until executed), rolled-back payment or a customer
// without email gets none.
func TestPaymentNotification(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		var store *failingMail
		assessor, err := risk.NewAssessor(risk.AssessorConfig{Store: risk.NewGormStore(d),
			Screener: watchList{"Ivan Sanctioned": true}, Ratings: ratings{}})
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, d, func(c *apis.Config) {
			store = &failingMail{Store: apis.NewGormStore(d)}
			c.Store, c.Risk = store, assessor
		})
		alice, bob, carol := e.customer("alice"), e.customer("bob"), e.customer("carol.insufficient")
		e.setEmail(alice, "alice@customer.example")
		e.setEmail(carol, "carol@customer.example")
		p := e.namedPartner("ptn_notify", "Notify Payments Limited", "PayFast")
		legal := e.namedPartner("ptn_legal", "Legal Only Ltd", "")

		t.Run("ok/executed payment mails the customer once", func(t *testing.T) {
			e.t = t
			id, st := p.pay(alice, "12.34", externalCreditor, "NOTIFY-1")
			if st != apis.PaymentAcceptedSettlementInProcess {
				t.Fatalf("status %s", st)
			}
			e.do("GET", pisp+"/domestic-payments/"+id, p.token, nil) // a later read adds nothing
			ms := e.mailsTo("alice@customer.example")
			if len(ms) != 1 {
				t.Fatalf("%d mails: %+v", len(ms), ms)
			}
			m := ms[0]
			if m.Template != apis.PaymentMailTemplate || m.PartnerID != "ptn_notify" || m.Subject != "Payment of 12.34 GBP through PayFast" {
				t.Fatalf("mail %+v", m)
			}
			for _, want := range []string{"PayFast made a payment", "Amount:  12.34 GBP", "To:      Payee Ltd (account •••• 5678)",
				"When:    " + seedNow.Add(time.Hour).UTC().Format("2 January 2006 at 15:04 UTC"), "Payment: " + id} {
				if !strings.Contains(m.Body, want) {
					t.Fatalf("body lacks %q:\n%s", want, m.Body)
				}
			}
			if strings.Contains(m.Body, externalCreditor) || strings.Contains(m.Body, "12345678") {
				t.Fatalf("body shows the full account number:\n%s", m.Body)
			}
		})

		t.Run("ok/legal name when there is no trading name", func(t *testing.T) {
			e.t = t
			legal.pay(alice, "1.00", externalCreditor, "NOTIFY-2")
			if ms := e.mailsTo("alice@customer.example"); len(ms) != 2 || ms[0].Subject != "Payment of 1.00 GBP through Legal Only Ltd" {
				t.Fatalf("mails %+v", ms)
			}
		})

		t.Run("ok/no email, no mail", func(t *testing.T) {
			e.t = t
			before := e.rows("email_outbox", "1 = 1")
			if _, st := p.pay(bob, "2.00", externalCreditor, "NOTIFY-3"); st != apis.PaymentAcceptedSettlementInProcess {
				t.Fatalf("status %s", st)
			}
			if n := e.rows("email_outbox", "1 = 1"); n != before {
				t.Fatalf("outbox %d → %d", before, n)
			}
		})

		t.Run("ok/rejected payment mails nothing", func(t *testing.T) {
			e.t = t
			if _, st := p.pay(carol, "2000.00", externalCreditor, "NOTIFY-4"); st != apis.PaymentRejected {
				t.Fatalf("status %s", st)
			}
			if ms := e.mailsTo("carol@customer.example"); len(ms) != 0 {
				t.Fatalf("mails %+v", ms)
			}
		})

		t.Run("ok/held payment mails only once released and executed", func(t *testing.T) {
			e.t = t
			in := initiation("40.00", externalCreditor, "Ivan Sanctioned", "NOTIFY-5")
			cid, tok := p.paymentConsent(alice, alice.account(core.AccountCurrent).ID, in)
			r := e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, in))
			wantStatus(t, r, 201)
			id := r.data(t)["DomesticPaymentId"].(string)
			if r.data(t)["Status"] != "Pending" {
				t.Fatalf("status %v", r.data(t)["Status"])
			}
			e.do("GET", pisp+"/domestic-payments/"+id, p.token, nil)
			if ms := e.mailsTo("alice@customer.example"); len(ms) != 2 {
				t.Fatalf("held payment mailed: %+v", ms)
			}
			actor := apis.Actor{Type: audit.ActorStaff, ID: "stf_1"}
			if err := e.svc.ReleaseHeld(ctx, id, actor); err != nil {
				t.Fatal(err)
			}
			if ms := e.mailsTo("alice@customer.example"); len(ms) != 2 {
				t.Fatalf("released (not executed) payment mailed: %+v", ms)
			}
			if err := e.svc.ExecuteReleased(ctx, id, actor); err != nil {
				t.Fatal(err)
			}
			ms := e.mailsTo("alice@customer.example")
			if len(ms) != 3 || !strings.Contains(ms[0].Body, "Payment: "+id) || !strings.Contains(ms[0].Body, "To:      Ivan Sanctioned") {
				t.Fatalf("mails after execution %+v", ms)
			}
		})

		t.Run("ok/rolled-back outcome mails nothing until recorded", func(t *testing.T) {
			e.t = t
			store.fail.Store(true)
			id, st := p.pay(alice, "3.00", externalCreditor, "NOTIFY-6")
			if st != apis.PaymentPending {
				t.Fatalf("status %s (the outcome should have rolled back)", st)
			}
			if n := e.rows("email_outbox", "body LIKE ?", "%"+id+"%"); n != 0 {
				t.Fatalf("%d mails of a rolled-back outcome", n)
			}
			store.fail.Store(false)
			r := e.do("GET", pisp+"/domestic-payments/"+id, p.token, nil) // drives the execution again
			if r.data(t)["Status"] != apis.PaymentAcceptedSettlementInProcess {
				t.Fatalf("status after retry %v", r.data(t)["Status"])
			}
			if n := e.rows("email_outbox", "body LIKE ?", "%"+id+"%"); n != 1 {
				t.Fatalf("%d mails after the recorded outcome", n)
			}
		})
	})
}

// TestSetCustomerEmail: the reference core stores a plain address or none,
// and refuses anything else.
func TestSetCustomerEmail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		alice := e.customer("alice")
		e.setEmail(alice, " alice@customer.example ")
		if c, err := e.core.Customer(ctx, alice.id); err != nil || c.Email != "alice@customer.example" {
			t.Fatalf("Customer %+v %v", c, err)
		}
		for _, bad := range []string{"not-an-address", "Alice <alice@customer.example>", "a@b.example\r\nBcc: x@y.example"} {
			err := e.core.SetCustomerEmail(ctx, alice.id, bad)
			if !errors.Is(err, core.ErrInvalid) || err.Error() != "core: invalid argument: email must be a plain address such as name@bank.example" {
				t.Fatalf("SetCustomerEmail(%q): %v", bad, err)
			}
		}
		if err := e.core.SetCustomerEmail(ctx, "cus_unknown", "x@y.example"); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("unknown customer: %v", err)
		}
		e.setEmail(alice, "")
		if c, _ := e.core.Customer(ctx, alice.id); c.Email != "" {
			t.Fatalf("email not cleared: %q", c.Email)
		}
	})
}
