package apis_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/risk/limits"
)

// TestRiskOfficerLimits (issue 16): the rules risk officers set bound
// payments beside the built-in limits (prodLimits here: 100.00 per
// payment, 150.00 per partner per day, 2 payments a minute per debtor
// account), the tightest winning; each refusal names the rule.
func TestRiskOfficerLimits(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		lim := limits.New(limits.Config{DB: d, Bus: cachebus.NewLocal()})
		e := newEnv(t, d, func(c *apis.Config) { c.LimitRules = lim })
		maker := limits.Actor{ID: "stf_maker", Role: staff.RoleRiskOfficer}
		checker := limits.Actor{ID: "stf_checker", Role: staff.RoleRiskOfficer}
		rule := func(t *testing.T, in limits.ProposalInput) {
			t.Helper()
			in.Op, in.Environment, in.Reason = limits.OpCreate, "production", "test"
			if in.Currency == "" {
				in.Currency = "GBP"
			}
			p, err := lim.Propose(ctx, maker, in)
			if err == nil {
				_, err = lim.Approve(ctx, checker, p.ID)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		pay := func(p *partner, cust *customer, amount string) *response {
			n++
			in := initiation(amount, externalCreditor, "Acme Ltd", fmt.Sprintf("L%d", n))
			cid, tok := p.paymentConsent(cust, cust.account(core.AccountCurrent).ID, in)
			return e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, in))
		}
		consent := func(p *partner, amount string) *response {
			n++
			in := initiation(amount, externalCreditor, "Acme Ltd", fmt.Sprintf("C%d", n))
			return e.do("POST", pisp+"/domestic-payment-consents", p.token,
				map[string]any{"Data": map[string]any{"Initiation": in}, "Risk": map[string]any{}})
		}
		// Each case pays from its own customers' accounts (the default
		// velocity is 2 payments a minute per debtor account).
		newCustomer := func(t *testing.T, name string) *customer {
			c, err := e.core.CreateCustomer(ctx, environment.Production, name, "sandbox-password-1", "Limits Customer")
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Exec(`UPDATE core_accounts SET balance_minor = 100000 WHERE customer_id = ?`, c.ID).Error; err != nil {
				t.Fatal(err)
			}
			return e.productionCustomer(c.Username)
		}

		t.Run("fail/partner-per-day", func(t *testing.T) {
			e.t = t
			p := e.partner("ptn_daily", environment.Production)
			alice := newCustomer(t, "daily.customer")
			rule(t, limits.ProposalInput{Scope: "partner", SubjectID: p.id, Kind: "per_day", Amount: "20.00"})
			wantStatus(t, pay(p, alice, "15.00"), 201)
			r := pay(p, alice, "5.01")
			wantProblem(t, r, 422, "limit_exceeded", "the partner per-day limit is 20.00 GBP")
			if m := r.json(t); m["limit"] != "20.00" || m["used_today"] != "15.00" || m["scope"] != "partner" || m["kind"] != "per_day" {
				t.Fatalf("problem extensions %v", m)
			}
			other := e.partner("ptn_daily_other", environment.Production) // another partner is not bound by it
			wantStatus(t, pay(other, alice, "15.00"), 201)
		})
		t.Run("fail/app-per-payment-at-consent", func(t *testing.T) {
			e.t = t
			p := e.partner("ptn_app", environment.Production)
			rule(t, limits.ProposalInput{Scope: "app", SubjectID: p.app, Kind: "per_payment", Amount: "3.00"})
			wantProblem(t, consent(p, "3.01"), 422, "limit_exceeded", "the app per-payment limit is 3.00 GBP")
			wantStatus(t, consent(p, "3.00"), 201)
		})
		t.Run("fail/customer-per-payment-at-payment", func(t *testing.T) {
			e.t = t
			p := e.partner("ptn_cust", environment.Production)
			alice, bob := newCustomer(t, "cust.a"), newCustomer(t, "cust.b")
			rule(t, limits.ProposalInput{Scope: "customer", SubjectID: bob.id, Kind: "per_payment", Amount: "4.00"})
			// The consent does not know its customer yet: refused at payment.
			wantProblem(t, pay(p, bob, "4.50"), 422, "limit_exceeded", "the customer per-payment limit is 4.00 GBP")
			wantStatus(t, pay(p, alice, "4.50"), 201)
		})
		t.Run("fail/customer-per-month-across-partners", func(t *testing.T) {
			e.t = t
			cust := newCustomer(t, "monthly.customer")
			rule(t, limits.ProposalInput{Scope: "customer", SubjectID: cust.id, Kind: "per_month", Amount: "30.00"})
			wantStatus(t, pay(e.partner("ptn_m1", environment.Production), cust, "20.00"), 201)
			r := pay(e.partner("ptn_m2", environment.Production), cust, "10.01")
			wantProblem(t, r, 422, "limit_exceeded", "the customer per-month limit is 30.00 GBP")
			if m := r.json(t); m["used_this_month"] != "20.00" {
				t.Fatalf("problem extensions %v", m)
			}
		})
		t.Run("fail/partner-velocity", func(t *testing.T) {
			e.t = t
			p := e.partner("ptn_fast", environment.Production)
			bob := newCustomer(t, "fast.customer")
			rule(t, limits.ProposalInput{Scope: "partner", SubjectID: p.id, Kind: "velocity", Count: "1", WindowSeconds: "30"})
			wantStatus(t, pay(p, bob, "1.00"), 201)
			wantProblem(t, pay(p, bob, "1.00"), 429, "velocity_exceeded",
				"the partner velocity limit is at most 1 payment per 30 seconds from one debtor account")
		})
		t.Run("ok/concurrent-payments-never-overrun-a-customer-rule", func(t *testing.T) {
			// Through 8 partners at once (each partner's lock is its own):
			// the customer's lock serialises them, exactly 3 × 10.00 fit.
			e.t = t
			c, err := e.core.CreateCustomer(ctx, environment.Sandbox, "concurrent.customer", "sandbox-password-1", "Concurrent Customer")
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Exec(`UPDATE core_accounts SET balance_minor = 100000 WHERE customer_id = ?`, c.ID).Error; err != nil {
				t.Fatal(err)
			}
			cust := e.customerIn(environment.Sandbox, c.Username)
			in := limits.ProposalInput{Op: limits.OpCreate, Environment: "sandbox", Currency: "GBP", Scope: "customer",
				SubjectID: cust.id, Kind: "per_day", Amount: "35.00", Reason: "test"}
			prop, err := lim.Propose(ctx, maker, in)
			if err == nil {
				_, err = lim.Approve(ctx, checker, prop.ID)
			}
			if err != nil {
				t.Fatal(err)
			}
			const n = 8
			type prepared struct {
				cid, tok string
				in       map[string]any
			}
			ps := make([]prepared, n)
			for i := range ps {
				p := e.partner(fmt.Sprintf("ptn_conc_%d", i), environment.Sandbox)
				ps[i].in = initiation("10.00", externalCreditor, "Acme Ltd", fmt.Sprintf("K%d", i))
				ps[i].cid, ps[i].tok = p.paymentConsent(cust, cust.account(core.AccountCurrent).ID, ps[i].in)
			}
			res := make([]*response, n)
			var wg sync.WaitGroup
			for i := range ps {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res[i] = e.do("POST", pisp+"/domestic-payments", ps[i].tok, paymentBody(ps[i].cid, ps[i].in))
				}()
			}
			wg.Wait()
			ok := 0
			for _, r := range res {
				if r.status == 201 {
					ok++
					continue
				}
				wantProblem(t, r, 422, "limit_exceeded", "the customer per-day limit is 35.00 GBP")
			}
			if ok != 3 {
				t.Fatalf("%d payments of 10.00 within a 35.00 daily limit, want 3", ok)
			}
		})
		t.Run("ok/platform-rule-replaces-default-in-its-currency", func(t *testing.T) {
			e.t = t
			p := e.partner("ptn_platform", environment.Production)
			rule(t, limits.ProposalInput{Scope: "platform", Kind: "per_payment", Amount: "2.00"})
			wantProblem(t, consent(p, "2.01"), 422, "limit_exceeded", "the platform per-payment limit is 2.00 GBP")
		})
	})
}
