package webhooks

import (
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// TestRecordBatch records outcomes of every kind in one batch (one UPDATE
// with a CASE per column, one INSERT): each delivery gets its own state, the
// attempt log its own row, and a delivery whose claim was taken over
// meanwhile is left alone, with no attempt logged.
func TestRecordBatch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := &clock{t: time.Now().UTC().Truncate(time.Millisecond)} // stored exactly by both engines
		s := mustService(t, d, func(c *Config) { c.Clock = clk.Now })
		e, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: "http://localhost:9/hook", EventTypes: []string{"payment.created"}})
		events := []string{"evt_ok", "evt_retry", "evt_dead", "evt_stolen", "evt_gone_later"}
		for _, id := range events[:4] {
			mustPublish(t, s, d, Event{ID: id, Type: "payment.created", PartnerID: partnerA, AppID: appA1})
		}
		// The third delivery is on its last try.
		if err := d.Exec(`UPDATE webhook_deliveries SET attempts = ? WHERE event_id = ?`, len(fastSchedule)-1, "evt_dead").Error; err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
		disp := NewDispatcher(s, DispatcherOptions{ID: "disp-test"})
		batch, err := disp.claimBatch(ctx, "tok-1", 10)
		if err != nil || len(batch) != 4 {
			t.Fatalf("claimed %d, %v", len(batch), err)
		}
		byEvent := map[string]claimed{}
		for _, c := range batch {
			if c.skip != nil || c.ep == nil || c.ev == nil || len(c.keys) != 1 {
				t.Fatalf("claim not loaded: %+v", c)
			}
			byEvent[c.dl.EventID] = c
		}
		// Another dispatcher took one over (as after a lost lease).
		if err := d.Exec(`UPDATE webhook_deliveries SET claimed_by = 'other' WHERE event_id = ?`, "evt_stolen").Error; err != nil {
			t.Fatal(err)
		}
		at := clk.Now()
		disp.recordBatch([]result{
			{c: byEvent["evt_ok"], kind: resultAttempt, at: at, o: outcome{status: http.StatusNoContent, latency: 3 * time.Millisecond}},
			{c: byEvent["evt_retry"], kind: resultAttempt, at: at, o: outcome{status: http.StatusServiceUnavailable, excerpt: "busy", retryAfter: time.Hour}},
			{c: byEvent["evt_dead"], kind: resultAttempt, at: at, o: outcome{err: "timeout: deadline exceeded"}},
			{c: byEvent["evt_stolen"], kind: resultAttempt, at: at, o: outcome{status: http.StatusOK}},
		})

		var rows []deliveryRow
		if err := d.Where("endpoint_id = ?", e.ID).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		got := map[string]deliveryRow{}
		for _, r := range rows {
			got[r.EventID] = r
		}
		now := clk.Now()
		tests := []struct {
			name, event, status, claimedBy, lastError string
			attempts, code                            int
			delivered                                 bool
			next                                      time.Time
		}{
			{name: "ok/succeeded", event: "evt_ok", status: StatusSucceeded, attempts: 1, code: 204, delivered: true},
			{name: "ok/retry after the receiver's Retry-After", event: "evt_retry", status: StatusPending, attempts: 1, code: 503, next: now.Add(time.Hour)},
			{name: "ok/dead on the last try", event: "evt_dead", status: StatusDead, attempts: len(fastSchedule), lastError: "timeout: deadline exceeded"},
			{name: "fail/lease lost: untouched", event: "evt_stolen", status: StatusPending, claimedBy: "other"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := got[tc.event]
				if r.Status != tc.status || r.Attempts != tc.attempts || r.LastStatusCode != tc.code || r.ClaimedBy != tc.claimedBy || r.LastError != tc.lastError {
					t.Fatalf("row %+v", r)
				}
				if (r.DeliveredAt != nil) != tc.delivered {
					t.Fatalf("delivered_at %v", r.DeliveredAt)
				}
				if !tc.next.IsZero() && !r.NextAttemptAt.Equal(tc.next) {
					t.Fatalf("next attempt %v, want %v", r.NextAttemptAt, tc.next)
				}
				if tc.claimedBy == "" && r.LeaseUntil != nil {
					t.Fatalf("lease kept: %v", r.LeaseUntil)
				}
			})
		}
		as, err := s.Attempts(ctx, partnerA, e.ID, AttemptFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var logged []string
		for _, a := range as {
			logged = append(logged, a.EventID)
			if a.Dispatcher != "disp-test" || !a.At.Equal(at) {
				t.Fatalf("attempt %+v", a)
			}
			if a.EventID == "evt_retry" && (a.StatusCode != 503 || a.ResponseExcerpt != "busy" || a.NextRetryAt == nil || !a.NextRetryAt.Equal(now.Add(time.Hour))) {
				t.Fatalf("retry attempt %+v", a)
			}
			if a.EventID == "evt_dead" && (a.Attempt != len(fastSchedule) || a.NextRetryAt != nil) {
				t.Fatalf("dead attempt %+v", a)
			}
		}
		sort.Strings(logged)
		if want := []string{"evt_dead", "evt_ok", "evt_retry"}; len(logged) != 3 || logged[0] != want[0] || logged[1] != want[1] || logged[2] != want[2] {
			t.Fatalf("attempts logged for %v, want %v", logged, want)
		}
		// The failures started the endpoint's failure run.
		ep, err := s.GetEndpoint(ctx, scA1, e.ID)
		if err != nil || ep.FailingSince == nil || !ep.FailingSince.Equal(now) || !ep.Enabled {
			t.Fatalf("endpoint %+v %v", ep, err)
		}
		// A later batch: the endpoint answers 410 Gone, which cancels the
		// delivery and disables the endpoint, in the same transaction.
		mustPublish(t, s, d, Event{ID: events[4], Type: "payment.created", PartnerID: partnerA, AppID: appA1})
		clk.Add(time.Second)
		batch, err = disp.claimBatch(ctx, "tok-2", 10)
		if err != nil || len(batch) != 1 || batch[0].dl.EventID != events[4] {
			t.Fatalf("claimed %+v, %v", batch, err)
		}
		disp.recordBatch([]result{{c: batch[0], kind: resultAttempt, at: clk.Now(), o: outcome{status: http.StatusGone}}})
		if st := deliveryStatuses(t, d, e.ID); st[StatusCancelled] != 1 {
			t.Fatalf("statuses %v", st)
		}
		ep, _ = s.GetEndpoint(ctx, scA1, e.ID)
		if ep.Enabled || ep.DisabledReason != "the endpoint answered 410 Gone" {
			t.Fatalf("endpoint %+v", ep)
		}
	})
}

// TestShutdownReleasesClaimedAhead: a dispatcher claims up to two workers'
// worth ahead; when it stops, the deliveries in flight and those claimed
// ahead are all given back, uncounted, and another dispatcher delivers them.
func TestShutdownReleasesClaimedAhead(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustService(t, d, nil)
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		e, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"payment.created"}})
		const n = 10
		for i := 0; i < n; i++ {
			mustPublish(t, s, d, Event{Type: "payment.created", PartnerID: partnerA, AppID: appA1})
		}
		claimedRows := func() int64 {
			var c int64
			if err := d.Model(&deliveryRow{}).Where("endpoint_id = ? AND claimed_by <> ''", e.ID).Count(&c).Error; err != nil {
				t.Fatal(err)
			}
			return c
		}
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { defer close(stopped); NewDispatcher(s, DispatcherOptions{Workers: 2}).Run(ctx) }()
		eventually(t, "two deliveries in flight", func() bool { return len(rc.all()) == 2 })
		if c := claimedRows(); c != 4 {
			t.Fatalf("%d rows claimed, want 4 (2 in flight, 2 ahead)", c)
		}
		cancel()
		<-stopped
		if c := claimedRows(); c != 0 {
			t.Fatalf("%d rows still claimed after shutdown", c)
		}
		var attempted int64
		d.Model(&deliveryRow{}).Where("endpoint_id = ? AND (attempts <> 0 OR status <> ?)", e.ID, StatusPending).Count(&attempted)
		if attempted != 0 || countAttempts(t, d, e.ID) != 0 {
			t.Fatalf("%d deliveries moved on, %d attempts logged; want none", attempted, countAttempts(t, d, e.ID))
		}
		rc.setAnswer(nil)
		runDispatchers(t, s, 1, DispatcherOptions{Workers: 2})
		eventually(t, "all delivered", func() bool { return deliveryStatuses(t, d, e.ID)[StatusSucceeded] == n })
		if ids := rc.distinctIDs(); len(ids) != n {
			t.Fatalf("%d distinct webhook-ids, want %d", len(ids), n)
		}
	})
}
