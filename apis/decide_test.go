package apis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/events"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/webhooks"
)

// outbox is the real webhooks outbox as the platform wires it
// (events.RowPublisher), so a decision's event and deliveries are rows of the
// decision's own statement.
type outbox struct{ w *webhooks.Service }

func (o outbox) Publish(ctx context.Context, tx *gorm.DB, typ, partnerID, appID string, data map[string]any) error {
	return o.w.Publish(ctx, tx, webhooks.Event{Type: typ, PartnerID: partnerID, AppID: appID, Data: data})
}

func (o outbox) EventWrites(ctx context.Context, typ, partnerID, appID string, data map[string]any) (db.Writes, error) {
	return o.w.EventWrites(ctx, webhooks.Event{Type: typ, PartnerID: partnerID, AppID: appID, Data: data})
}

var _ events.RowPublisher = outbox{}

// decisionRows counts what a decision on consent id wrote: its status, its
// audit entries of action, its webhook events of type consent.authorised and
// their deliveries.
type decisionRows struct {
	Status                     string
	Audits, Events, Deliveries int64
}

func rowsOf(t *testing.T, d *db.DB, id, action string) decisionRows {
	t.Helper()
	var r decisionRows
	for _, q := range []struct {
		dst  any
		sql  string
		args []any
	}{
		{&r.Status, `SELECT status FROM api_consents WHERE id = ?`, []any{id}},
		{&r.Audits, `SELECT COUNT(*) FROM audit_events WHERE object_type = 'consent' AND object_id = ? AND action = ?`, []any{id, action}},
		{&r.Events, `SELECT COUNT(*) FROM webhook_events WHERE type = 'consent.authorised' AND payload LIKE ?`, []any{`%"consent_id":"` + id + `"%`}},
		{&r.Deliveries, `SELECT COUNT(*) FROM webhook_deliveries WHERE event_id IN
			(SELECT id FROM webhook_events WHERE type = 'consent.authorised' AND payload LIKE ?)`, []any{`%"consent_id":"` + id + `"%`}},
	} {
		if err := d.Raw(q.sql, q.args...).Scan(q.dst).Error; err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// TestConsentDecidedOnce: a consent's decision, its audit entry and its
// consent.authorised event (with one delivery per subscribed endpoint) are
// written together, once: of concurrent decisions of one consent exactly one
// wins and the others are refused without writing anything; a refused
// (stale) decision writes no audit entry or event; a rejection writes its
// audit entry and no event.
// atOnce runs fn n times at once (released together) and returns each
// run's error.
func atOnce(n int, fn func() error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); <-start; errs[i] = fn() }()
	}
	close(start)
	wg.Wait()
	return errs
}

// mustOneWin fails t unless exactly one of errs is nil and every other is
// a loss (the refusal the losers must get).
func mustOneWin(t *testing.T, errs []error, loss func(error) bool) {
	t.Helper()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !loss(err):
			t.Errorf("a losing decision: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d decisions won, want 1: %v", won, errs)
	}
}

func TestConsentDecidedOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		key := make([]byte, 32)
		rand.Read(key)
		box, err := secrets.NewBox(key)
		if err != nil {
			t.Fatal(err)
		}
		wh, err := webhooks.NewService(webhooks.Config{DB: d, Box: box, AllowLoopback: true})
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, d, func(c *apis.Config) { c.Publisher = outbox{wh} })
		p := e.partner("ptn_decide", environment.Sandbox)
		if _, _, err := wh.CreateEndpoint(ctx, webhooks.Scope{PartnerID: p.id, AppID: p.app}, environment.Sandbox,
			webhooks.EndpointInput{URL: "http://127.0.0.1:9/hook", EventTypes: []string{"consent.authorised"}}); err != nil {
			t.Fatal(err)
		}
		alice := e.customer("alice")
		cur := alice.account(core.AccountCurrent)
		newConsent := func() string {
			r := e.do("POST", aisp+"/account-access-consents", p.token, accountConsentBody(allPerms...))
			wantStatus(t, r, 201)
			return r.data(t)["ConsentId"].(string)
		}
		decide := func(id string, approve bool) error {
			_, err := e.svc.Broker().Decide(ctx, p.client(), alice.id, []oauth.AuthorizationDetail{{Type: apis.TypeAccountAccess, ConsentID: id}},
				approve, map[string][]string{id: {cur.ID}}, nil)
			return err
		}

		t.Run("ok/concurrent approvals decide once", func(t *testing.T) {
			id := newConsent()
			errs := atOnce(8, func() error { return decide(id, true) })
			mustOneWin(t, errs, func(err error) bool {
				return err.Error() == "invalid_authorization_details: consent "+id+" was decided concurrently" ||
					err.Error() == "invalid_authorization_details: consent "+id+" is Authorised, not AwaitingAuthorisation"
			})
			if got, want := rowsOf(t, d, id, "consent.authorised"), (decisionRows{apis.StatusAuthorised, 1, 1, 1}); got != want {
				t.Fatalf("rows %+v, want %+v", got, want)
			}
		})

		t.Run("ok/concurrent store decisions write once", func(t *testing.T) {
			// Below the broker's read of the consent: every writer finds it
			// awaiting authorisation, so the losers are refused by the
			// guarded UPDATE itself.
			id := newConsent()
			store := apis.NewGormStore(d)
			errs := atOnce(8, func() error {
				c := &apis.Consent{ID: id, Status: apis.StatusAuthorised, CustomerID: alice.id, AccountIDs: []string{cur.ID},
					StatusUpdatedAt: time.Now().UTC()}
				return store.DecideConsent(ctx, apis.ConsentDecision{Consent: c, From: []string{apis.StatusAwaitingAuthorisation},
					Audit: audit.Entry{ActorType: audit.ActorCustomer, ActorID: alice.id, Action: "consent.authorised",
						ObjectType: "consent", ObjectID: id, PartnerID: p.id},
					Publisher: outbox{wh}, EventType: "consent.authorised", PartnerID: p.id, AppID: p.app,
					Data: map[string]any{"consent_id": id}})
			})
			mustOneWin(t, errs, func(err error) bool { return errors.Is(err, apis.ErrStale) })
			if got, want := rowsOf(t, d, id, "consent.authorised"), (decisionRows{apis.StatusAuthorised, 1, 1, 1}); got != want {
				t.Fatalf("rows %+v, want %+v", got, want)
			}
		})

		t.Run("fail/a stale decision writes nothing", func(t *testing.T) {
			id := newConsent()
			if err := decide(id, true); err != nil {
				t.Fatal(err)
			}
			// Straight to the store, as a decision that read the consent
			// before the first one wrote it would.
			c := &apis.Consent{ID: id, Status: apis.StatusRejected, CustomerID: alice.id, StatusUpdatedAt: time.Now().UTC()}
			err := apis.NewGormStore(d).DecideConsent(ctx, apis.ConsentDecision{Consent: c, From: []string{apis.StatusAwaitingAuthorisation},
				Audit: audit.Entry{ActorType: audit.ActorCustomer, ActorID: alice.id, Action: "consent.rejected",
					ObjectType: "consent", ObjectID: id, PartnerID: p.id},
				Publisher: outbox{wh}, EventType: "consent.authorised", PartnerID: p.id, AppID: p.app,
				Data: map[string]any{"consent_id": id}})
			if !errors.Is(err, apis.ErrStale) {
				t.Fatalf("DecideConsent = %v, want ErrStale", err)
			}
			if got, want := rowsOf(t, d, id, "consent.authorised"), (decisionRows{apis.StatusAuthorised, 1, 1, 1}); got != want {
				t.Fatalf("rows %+v, want %+v", got, want)
			}
			if got := rowsOf(t, d, id, "consent.rejected"); got.Audits != 0 {
				t.Fatalf("%d consent.rejected audit entries, want 0", got.Audits)
			}
			// Through the broker: refused, nothing more written.
			if err := decide(id, false); err == nil {
				t.Fatal("a second decision was accepted")
			}
			if got := rowsOf(t, d, id, "consent.rejected"); got.Audits != 0 || got.Events != 1 || got.Status != apis.StatusAuthorised {
				t.Fatalf("rows after a refused rejection %+v", got)
			}
		})

		t.Run("ok/a rejection writes its audit entry and no event", func(t *testing.T) {
			id := newConsent()
			if err := decide(id, false); err != nil {
				t.Fatal(err)
			}
			if got, want := rowsOf(t, d, id, "consent.rejected"), (decisionRows{apis.StatusRejected, 1, 0, 0}); got != want {
				t.Fatalf("rows %+v, want %+v", got, want)
			}
		})

		t.Run("ok/several consents are decided together or not at all", func(t *testing.T) {
			a, b := newConsent(), newConsent()
			if err := decide(b, false); err != nil {
				t.Fatal(err)
			}
			// As Decide writes several consents: in one transaction, where
			// the second, decided meanwhile, undoes the first.
			store := apis.NewGormStore(d)
			decision := func(id string) apis.ConsentDecision {
				c := &apis.Consent{ID: id, Status: apis.StatusAuthorised, CustomerID: alice.id, AccountIDs: []string{cur.ID},
					StatusUpdatedAt: time.Now().UTC()}
				return apis.ConsentDecision{Consent: c, From: []string{apis.StatusAwaitingAuthorisation},
					Audit: audit.Entry{ActorType: audit.ActorCustomer, ActorID: alice.id, Action: "consent.authorised",
						ObjectType: "consent", ObjectID: id, PartnerID: p.id},
					Publisher: outbox{wh}, EventType: "consent.authorised", PartnerID: p.id, AppID: p.app,
					Data: map[string]any{"consent_id": id}}
			}
			err := store.Tx(ctx, func(ctx context.Context) error {
				if err := store.DecideConsent(ctx, decision(a)); err != nil {
					return err
				}
				return store.DecideConsent(ctx, decision(b))
			})
			if !errors.Is(err, apis.ErrStale) {
				t.Fatalf("Tx = %v, want ErrStale", err)
			}
			if got, want := rowsOf(t, d, a, "consent.authorised"), (decisionRows{apis.StatusAwaitingAuthorisation, 0, 0, 0}); got != want {
				t.Fatalf("rows of a %+v, want %+v", got, want)
			}
			c := newConsent()
			details := []oauth.AuthorizationDetail{{Type: apis.TypeAccountAccess, ConsentID: a}, {Type: apis.TypeAccountAccess, ConsentID: c}}
			out, err := e.svc.Broker().Decide(ctx, p.client(), alice.id, details, true, map[string][]string{a: {cur.ID}, c: {cur.ID}}, nil)
			if err != nil || len(out) != 2 {
				t.Fatalf("Decide = %v, %v", out, err)
			}
			for _, id := range []string{a, c} {
				if got, want := rowsOf(t, d, id, "consent.authorised"), (decisionRows{apis.StatusAuthorised, 1, 1, 1}); got != want {
					t.Fatalf("rows of %s %+v, want %+v", id, got, want)
				}
			}
		})
	})
}
