package webhooks

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// Two nodes (each its own Service, as two processes would have) with several
// workers each never deliver the same attempt at the same time: the receiver
// counts requests in flight per webhook-id and the log holds each attempt once.
func TestDispatchersNeverOverlap(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		box, _ := mustBox(t)
		node := func() *Service {
			return mustService(t, d, func(c *Config) { c.Box = box })
		}
		s1, s2 := node(), node()
		var (
			mu       sync.Mutex
			inFlight = map[string]int{}
			maxSeen  int
			calls    = map[string]int{}
		)
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(HeaderID)
			mu.Lock()
			inFlight[id]++
			if inFlight[id] > maxSeen {
				maxSeen = inFlight[id]
			}
			calls[id]++
			first := calls[id] == 1
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			inFlight[id]--
			mu.Unlock()
			if first && len(id)%3 == 0 { // some fail once, to be retried by either node
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		e, creds := mustCreate(t, s1, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"payment.created"}})
		runDispatchers(t, s1, 2, DispatcherOptions{Workers: 4})
		runDispatchers(t, s2, 2, DispatcherOptions{Workers: 4})
		const n = 200
		for i := 0; i < n; i++ {
			pub := s1
			if i%2 == 1 {
				pub = s2
			}
			mustPublish(t, pub, d, Event{Type: "payment.created", PartnerID: partnerA, AppID: appA1, Data: map[string]any{"payment_id": fmt.Sprint("pay_", i)}})
		}
		eventually(t, "all delivered", func() bool { return deliveryStatuses(t, d, e.ID)[StatusSucceeded] == n })
		mu.Lock()
		defer mu.Unlock()
		if maxSeen != 1 {
			t.Fatalf("a webhook-id was in flight %d times at once", maxSeen)
		}
		if len(calls) != n {
			t.Fatalf("%d distinct webhook-ids, want %d", len(calls), n)
		}
		var dup int64
		d.Raw(`SELECT COUNT(*) FROM (SELECT delivery_id, attempt FROM webhook_attempts GROUP BY delivery_id, attempt HAVING COUNT(*) > 1) x`).Scan(&dup)
		if dup != 0 {
			t.Fatalf("%d attempts logged twice", dup)
		}
		var byNode []struct {
			Dispatcher string
			N          int
		}
		d.Raw(`SELECT dispatcher, COUNT(*) AS n FROM webhook_attempts GROUP BY dispatcher`).Scan(&byNode)
		t.Logf("attempts by dispatcher: %v", byNode)
		for _, r := range rc.all() {
			if err := Verify(creds.Secret, r.Header, r.Body, 0); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestNotifyWakesOtherNodes: on PostgreSQL a commit on one node wakes the
// dispatchers of another at once (LISTEN/NOTIFY); here the dispatcher polls
// only every 10 minutes, so every delivery below is the notification's.
func TestNotifyWakesOtherNodes(t *testing.T) {
	d := dbtest.MustPostgres(t)
	box, _ := mustBox(t)
	publisher := mustService(t, d, func(c *Config) { c.Box = box })
	deliverer := mustService(t, d, func(c *Config) { c.Box = box })
	listening := make(chan struct{}, 1)
	deliverer.onListen = func() {
		select {
		case listening <- struct{}{}:
		default:
		}
	}
	rc := newReceiver(t, nil)
	ep, _ := mustCreate(t, publisher, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"payment.created"}})
	runDispatchers(t, deliverer, 1, DispatcherOptions{PollInterval: 10 * time.Minute})
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		t.Fatal("the dispatcher never listened")
	}
	for i := 0; i < 5; i++ {
		mustPublish(t, publisher, d, Event{Type: "payment.created", PartnerID: partnerA, AppID: appA1, Data: map[string]any{"payment_id": fmt.Sprint("pay_", i)}})
		eventually(t, fmt.Sprintf("delivery %d woken by NOTIFY", i+1), func() bool {
			return deliveryStatuses(t, d, ep.ID)[StatusSucceeded] == i+1
		})
	}
}
