package apis_test

import (
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth"
)

// recOutcomes records what the service reports to apis.Outcomes.
type recOutcomes struct {
	mu       sync.Mutex
	consents map[string]int
	payments map[string]int
}

func (r *recOutcomes) ConsentOutcome(o string) { r.mu.Lock(); r.consents[o]++; r.mu.Unlock() }
func (r *recOutcomes) PaymentOutcome(s string) { r.mu.Lock(); r.payments[s]++; r.mu.Unlock() }

func TestOutcomesReported(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		rec := &recOutcomes{consents: map[string]int{}, payments: map[string]int{}}
		// The env's service again, reporting to rec.
		e.svc = apis.NewService(apis.Config{DB: d, Core: e.core, Publisher: e.pub, Revoker: e.rev, Datasets: e.policy,
			Now: e.clock.now, Outcomes: rec})
		e.engine = gin.New()
		apis.NewHandler(apis.HandlerConfig{Service: e.svc, Verifier: e.verifier, Usage: e.usage, BaseURL: baseURL}).Register(e.engine)
		e.srv = httptest.NewServer(e.engine)
		t.Cleanup(e.srv.Close)

		p := e.partner("ptn_outcomes", environment.Sandbox)
		alice, bob := e.customer("alice"), e.customer("bob")
		cur := alice.account(core.AccountCurrent)

		// authorised, then revoked by the partner
		cid, _ := p.accountConsent(alice, allPerms, cur.ID)
		wantStatus(t, e.do("DELETE", aisp+"/account-access-consents/"+cid, p.token, nil), 204)
		// rejected by the customer
		r := e.do("POST", aisp+"/account-access-consents", p.token, accountConsentBody(allPerms...))
		wantStatus(t, r, 201)
		rejected := r.data(t)["ConsentId"].(string)
		details := []oauth.AuthorizationDetail{{Type: apis.TypeAccountAccess, ConsentID: rejected}}
		if _, err := e.svc.Broker().Decide(ctx, p.client(), alice.id, details, false, nil, nil); err != nil {
			t.Fatalf("reject: %v", err)
		}
		// a payment: created Pending, then moved on by the core
		in := initiation("10.50", bob.account(core.AccountCurrent).Identification, "Bob Okonkwo", "Dinner")
		pcid, tok := p.paymentConsent(alice, cur.ID, in)
		wantStatus(t, e.do("POST", pisp+"/domestic-payments", tok, paymentBody(pcid, in), withKey("outcomes-1")), 201)
		// revoking again answers 204 as before and reports nothing more
		wantStatus(t, e.do("DELETE", aisp+"/account-access-consents/"+cid, p.token, nil), 204)

		rec.mu.Lock()
		defer rec.mu.Unlock()
		if want := map[string]int{"authorised": 2, "revoked": 1, "rejected": 1}; fmt.Sprint(rec.consents) != fmt.Sprint(want) {
			t.Errorf("consent outcomes %v, want %v", rec.consents, want)
		}
		if want := map[string]int{apis.PaymentPending: 1, apis.PaymentAcceptedSettlementInProcess: 1}; fmt.Sprint(rec.payments) != fmt.Sprint(want) {
			t.Errorf("payment outcomes %v, want %v", rec.payments, want)
		}
	})
}
