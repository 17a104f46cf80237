package webhooks

import (
	"context"
	"testing"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// TestEndpointCacheAcrossNodes: two services ("nodes") on one database share
// a bus. Once both have cached partner A's endpoints, every change made on
// one node — create, disable, re-enable, delete — is what the other node's
// next publish fans out to, and a node reads no endpoint while its cache is
// warm.
func TestEndpointCacheAcrossNodes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		bus := cachebus.NewLocal()
		nodeA := mustService(t, d, func(c *Config) { c.Bus = bus })
		nodeB := mustService(t, d, func(c *Config) { c.Bus = bus })
		ctx := context.Background()
		url := "http://127.0.0.1:1/"
		scope := Scope{PartnerID: partnerA, AppID: appA1}
		e1, _ := mustCreate(t, nodeA, scope, environment.Sandbox, EndpointInput{URL: url, EventTypes: []string{"payment.created"}})

		n := 0
		publish := func(s *Service) string {
			t.Helper()
			n++
			id := "evt_cache_" + string(rune('a'+n))
			mustPublish(t, s, d, Event{ID: id, Type: "payment.created", PartnerID: partnerA, AppID: appA1, Data: map[string]any{"payment_id": "pay_1"}})
			return id
		}
		// targets lists the endpoints an event was queued for.
		targets := func(eventID string) map[string]bool {
			t.Helper()
			var rows []deliveryRow
			if err := d.Where("event_id = ?", eventID).Find(&rows).Error; err != nil {
				t.Fatal(err)
			}
			out := map[string]bool{}
			for _, r := range rows {
				out[r.EndpointID] = true
			}
			return out
		}
		expect := func(eventID string, want ...string) {
			t.Helper()
			got := targets(eventID)
			if len(got) != len(want) {
				t.Fatalf("event %s queued for %v, want %v", eventID, got, want)
			}
			for _, w := range want {
				if !got[w] {
					t.Fatalf("event %s queued for %v, want %v", eventID, got, want)
				}
			}
		}
		// Warm both caches.
		expect(publish(nodeA), e1.ID)
		expect(publish(nodeB), e1.ID)

		// ok/warm: with the cache warm, publishing reads no endpoint row
		// (counted on the rows read from webhook_endpoints by a callback).
		var endpointReads int
		if err := d.Callback().Query().After("gorm:query").Register("count_endpoint_reads", func(g *gorm.DB) {
			if g.Statement.Table == "webhook_endpoints" {
				endpointReads++
			}
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Callback().Query().Remove("count_endpoint_reads") })
		expect(publish(nodeA), e1.ID)
		if endpointReads != 0 {
			t.Fatalf("warm cache: %d endpoint reads, want 0", endpointReads)
		}

		// A created on node B is queued by node A.
		e2, _ := mustCreate(t, nodeB, scope, environment.Sandbox, EndpointInput{URL: url, EventTypes: []string{"payment.created"}})
		expect(publish(nodeA), e1.ID, e2.ID)
		expect(publish(nodeB), e1.ID, e2.ID)

		// Disabled on node A: node B stops queueing for it.
		off, on := false, true
		if _, err := nodeA.UpdateEndpoint(ctx, scope, e1.ID, EndpointPatch{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		expect(publish(nodeB), e2.ID)
		// Re-enabled on node B: node A queues for it again.
		if _, err := nodeB.UpdateEndpoint(ctx, scope, e1.ID, EndpointPatch{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		expect(publish(nodeA), e1.ID, e2.ID)
		// Deleted on node B: node A no longer queues for it.
		if err := nodeB.DeleteEndpoint(ctx, scope, e2.ID); err != nil {
			t.Fatal(err)
		}
		expect(publish(nodeA), e1.ID)

		// Another app's event of the same partner never reaches appA1's
		// endpoints, cached or not.
		mustPublish(t, nodeA, d, Event{ID: "evt_cache_other_app", Type: "payment.created", PartnerID: partnerA, AppID: appA2, Data: map[string]any{"payment_id": "pay_2"}})
		expect("evt_cache_other_app")
	})
}
