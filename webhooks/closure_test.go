package webhooks

import (
	"context"
	"net/http"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// TestClosePartner: events published in the closing transaction are still
// delivered; after it no event of the partner is queued (Publish, replays
// and test events), another partner's are; the endpoints are disabled only
// once the outbox is closed; the summary counts deliveries per endpoint.
func TestClosePartner(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		// Two nodes sharing a cache bus: B fans events out from its cache of
		// the partner's endpoints, which the closure on A must drop.
		bus := cachebus.NewLocal()
		s := mustService(t, d, func(c *Config) { c.Bus = bus })
		nodeB := mustService(t, d, func(c *Config) { c.Bus = bus })
		rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {})
		a, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"partner.terminated", "consent.revoked"}})
		scB := Scope{PartnerID: "ptn_other", AppID: "app_other"}
		b, _ := mustCreate(t, s, scB, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"consent.revoked"}})

		mustPublish(t, nodeB, d, Event{Type: "app.suspended", PartnerID: scA1.PartnerID}) // B caches A's endpoints (not subscribed)
		_, err := s.DisablePartnerEndpoints(ctx, scA1.PartnerID, "partnership ended")
		wantProblem(t, err, problem.CodeConflict, "the outbox of partner "+scA1.PartnerID+" is open")
		if err := d.Tx(ctx, func(tx *gorm.DB) error {
			if err := s.Publish(ctx, tx, Event{Type: "partner.terminated", PartnerID: scA1.PartnerID}); err != nil {
				return err
			}
			return s.ClosePartner(ctx, tx, scA1.PartnerID, "partnership ended")
		}); err != nil {
			t.Fatal(err)
		}
		s.AfterClose(ctx, scA1.PartnerID)
		if got := deliveryStatuses(t, d, a.ID); got[StatusPending] != 1 {
			t.Fatalf("the last event: deliveries %v, want one pending", got)
		}
		mustPublish(t, s, d, Event{Type: "consent.revoked", PartnerID: scA1.PartnerID, Data: map[string]any{"consent_id": "cns_1"}})
		mustPublish(t, nodeB, d, Event{Type: "consent.revoked", PartnerID: scA1.PartnerID, Data: map[string]any{"consent_id": "cns_3"}})
		mustPublish(t, s, d, Event{Type: "consent.revoked", PartnerID: scB.PartnerID, Data: map[string]any{"consent_id": "cns_2"}})
		if got := deliveryStatuses(t, d, a.ID); got[StatusPending] != 1 || len(got) != 1 {
			t.Fatalf("closed partner: deliveries %v, want still the one", got)
		}
		if got := deliveryStatuses(t, d, b.ID); got[StatusPending] != 1 {
			t.Fatalf("other partner: deliveries %v, want one", got)
		}
		n, err := s.PartnerPendingDeliveries(ctx, scA1.PartnerID)
		if err != nil || n != 1 {
			t.Fatalf("pending %d %v", n, err)
		}
		for _, tc := range []struct {
			name string
			run  func() error
		}{
			{"fail/test-event", func() error { _, err := s.SendTest(ctx, scA1, a.ID); return err }},
			{"fail/range-replay", func() error {
				_, err := s.ReplayRange(ctx, scA1, a.ID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), false)
				return err
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantProblem(t, tc.run(), problem.CodeConflict, "the partnership has ended: no more webhook events are sent")
			})
		}
		if err := d.Tx(ctx, func(tx *gorm.DB) error { return s.ClosePartner(ctx, tx, scA1.PartnerID, "again") }); err != nil {
			t.Fatalf("closing twice: %v", err)
		}
		disabled, err := s.DisablePartnerEndpoints(ctx, scA1.PartnerID, "partnership ended")
		if err != nil || disabled != 1 {
			t.Fatalf("disabled %d %v", disabled, err)
		}
		sum, err := s.PartnerDeliverySummary(ctx, scA1.PartnerID)
		if err != nil || len(sum) != 1 || sum[0].Enabled || sum[0].Deliveries[StatusPending] != 1 {
			t.Fatalf("summary %+v %v", sum, err)
		}
		if closed, err := s.PartnerClosed(ctx, scB.PartnerID); err != nil || closed {
			t.Fatalf("other partner closed %v %v", closed, err)
		}
	})
}
