package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// recObserver records the attempts a dispatcher reports.
type recObserver struct {
	mu       sync.Mutex
	ok       int
	failures map[string]int
}

func (o *recObserver) WebhookDelivery(latency time.Duration, failure string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if latency <= 0 {
		panic("attempt without latency")
	}
	if failure == "" {
		o.ok++
		return
	}
	o.failures[failure]++
}

func (o *recObserver) snapshot() (int, map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f := map[string]int{}
	for k, v := range o.failures {
		f[k] = v
	}
	return o.ok, f
}

func TestQueueGaugesAndObserver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		obs := &recObserver{failures: map[string]int{}}
		s := mustService(t, d, func(c *Config) { c.Observer = obs })
		ctx := context.Background()
		if n, err := s.PendingDeliveries(ctx); err != nil || n != 0 {
			t.Fatalf("empty queue: %d %v", n, err)
		}
		if _, ok, err := s.OldestPending(ctx); err != nil || ok {
			t.Fatalf("empty queue oldest: %v %v", ok, err)
		}
		var mu sync.Mutex
		calls := map[string]int{}
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			calls[r.Header.Get(HeaderID)]++
			n := calls[r.Header.Get(HeaderID)]
			mu.Unlock()
			if n == 1 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
		e, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"payment.status_changed"}})
		const n = 3
		for i := 0; i < n; i++ {
			mustPublish(t, s, d, Event{Type: "payment.status_changed", PartnerID: partnerA, AppID: appA1,
				Data: map[string]any{"payment_id": fmt.Sprint("pay_", i), "status": "settled"}})
		}
		if got, err := s.PendingDeliveries(ctx); err != nil || got != n {
			t.Fatalf("pending %d %v, want %d", got, err, n)
		}
		var first deliveryRow
		if err := d.Where("endpoint_id = ?", e.ID).Order("created_at").Take(&first).Error; err != nil {
			t.Fatal(err)
		}
		if at, ok, err := s.OldestPending(ctx); err != nil || !ok || !at.Equal(first.CreatedAt.UTC()) {
			t.Fatalf("oldest %v %v %v, want %v", at, ok, err, first.CreatedAt.UTC())
		}
		runDispatchers(t, s, 1, DispatcherOptions{Workers: 2})
		eventually(t, "all delivered", func() bool { return deliveryStatuses(t, d, e.ID)[StatusSucceeded] == n })
		if got, err := s.PendingDeliveries(ctx); err != nil || got != 0 {
			t.Fatalf("pending after delivery %d %v", got, err)
		}
		if _, ok, err := s.OldestPending(ctx); err != nil || ok {
			t.Fatalf("oldest after delivery: %v %v", ok, err)
		}
		ok, failures := obs.snapshot()
		if ok != n || fmt.Sprint(failures) != fmt.Sprint(map[string]int{FailureHTTP5xx: n}) {
			t.Fatalf("observed ok %d failures %v, want %d and %d×%s", ok, failures, n, n, FailureHTTP5xx)
		}
	})
}

func TestFailureReason(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    outcome
		want string
	}{
		{"ok/2xx", outcome{status: 204}, ""},
		{"fail/timeout", outcome{err: "timeout: context deadline exceeded"}, FailureTimeout},
		{"fail/refused", outcome{err: "refused: forbidden destination address"}, FailureRefused},
		{"fail/network", outcome{err: "dial tcp: connection refused"}, FailureNetwork},
		{"fail/unreadable-2xx", outcome{status: 200, err: "reading response: unexpected EOF"}, FailureNetwork},
		{"fail/redirect", outcome{status: 302, err: "redirect not followed (Location: x)"}, FailureRedirect},
		{"fail/4xx", outcome{status: 404}, FailureHTTP4xx},
		{"fail/5xx", outcome{status: 502}, FailureHTTP5xx},
		{"fail/1xx", outcome{status: 101}, FailureOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := failureReason(tc.o); got != tc.want {
				t.Fatalf("failureReason(%+v) = %q, want %q", tc.o, got, tc.want)
			}
		})
	}
}
