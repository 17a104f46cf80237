package webhooks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
)

var scB1 = Scope{PartnerID: partnerB, AppID: appB1}

// limited asserts err is rate_limited with exactly detail and returns it.
func limited(t *testing.T, err error, detail string) *problem.Error {
	t.Helper()
	wantProblem(t, err, problem.CodeRateLimited, detail)
	var p *problem.Error
	errors.As(err, &p)
	return p
}

// TestReplayLimits: range replays are limited per endpoint per minute and in
// size, and everything queued on demand (range replays, event replays, test
// events) per partner per UTC day; each refusal is a 429 rate_limited with
// its retry_after, and queues nothing.
func TestReplayLimits(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		clk := newClock()
		// Noon UTC, so the daily window is predictable.
		clk.t = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		s := mustService(t, d, func(c *Config) {
			c.Clock = clk.Now
			c.ReplayMaxEvents = 5
			c.ReplayDailyDeliveries = 10
		})
		ctx := context.Background()
		e, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: "https://hooks.example.com/in", EventTypes: []string{"payment.created"}})
		other, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: "https://hooks.example.com/two", EventTypes: []string{"payment.created"}})
		for i := range 4 {
			mustPublish(t, s, d, Event{ID: fmt.Sprintf("evt_lim%d", i), Type: "payment.created", PartnerID: partnerA, AppID: appA1, Data: map[string]any{}})
		}
		noon := clk.Now()
		from, to := noon.Add(-time.Hour), noon.Add(time.Minute)
		deliveries := func() int {
			st := deliveryStatuses(t, d, e.ID)
			return st[StatusPending]
		}

		t.Run("ok/first range replay", func(t *testing.T) {
			n, err := s.ReplayRange(ctx, scA1, e.ID, from, to, false)
			if err != nil || n != 4 {
				t.Fatalf("replay: %d %v", n, err)
			}
		})
		t.Run("fail/second range replay within the minute", func(t *testing.T) {
			before := deliveries()
			clk.Add(20 * time.Second)
			_, err := s.ReplayRange(ctx, scA1, e.ID, from, to, false)
			limited(t, err, "webhook endpoint "+e.ID+" may have one range replay per minute; try again in 40 seconds")
			if ra, ok := RetryAfter(err); !ok || ra != 40*time.Second {
				t.Fatalf("retry after %v %v", ra, ok)
			}
			if deliveries() != before {
				t.Fatal("a refused replay queued deliveries")
			}
		})
		t.Run("ok/another endpoint is not limited by the first", func(t *testing.T) {
			if n, err := s.ReplayRange(ctx, scA1, other.ID, from, to, false); err != nil || n != 4 {
				t.Fatalf("replay other: %d %v", n, err)
			}
		})
		t.Run("fail/range with more events than a replay may queue", func(t *testing.T) {
			clk.Add(time.Minute)
			for i := 4; i < 6; i++ {
				mustPublish(t, s, d, Event{ID: fmt.Sprintf("evt_lim%d", i), Type: "payment.created", PartnerID: partnerA, AppID: appA1, Data: map[string]any{}})
			}
			_, err := s.ReplayRange(ctx, scA1, e.ID, from, clk.Now().Add(time.Minute), false)
			wantProblem(t, err, problem.CodeValidation, "the range holds more than 5 events to replay; a range replay queues at most 5, so narrow the range")
		})
		t.Run("fail/daily budget", func(t *testing.T) {
			// 8 spent (4 + 4); the refused oversize replay above used
			// neither its slot nor budget.
			before := deliveries()
			// The 4 events published at noon, and 2 left.
			_, err := s.ReplayRange(ctx, scA1, e.ID, from, noon.Add(time.Second), false)
			p := limited(t, err, "this would queue 4 deliveries, and replays and test events may queue at most 10 per partner per UTC day (2 left today)")
			// 12:01:20 → midnight.
			if p.Extra["retry_after"] != int64(11*3600+58*60+40) {
				t.Fatalf("retry_after %v", p.Extra["retry_after"])
			}
			if deliveries() != before {
				t.Fatal("a refused replay queued deliveries")
			}
		})
		t.Run("ok/test events and event replays spend the same budget", func(t *testing.T) {
			if _, err := s.SendTest(ctx, scA1, e.ID); err != nil {
				t.Fatal(err)
			}
			// 9 spent; replaying one event to both endpoints needs 2.
			_, err := s.ReplayEvent(ctx, Scope{PartnerID: partnerA}, "evt_lim0")
			limited(t, err, "this would queue 2 deliveries, and replays and test events may queue at most 10 per partner per UTC day (1 left today)")
			if _, err := s.SendTest(ctx, scA1, e.ID); err != nil {
				t.Fatal(err)
			}
			_, err = s.SendTest(ctx, scA1, e.ID)
			limited(t, err, "this would queue 1 deliveries, and replays and test events may queue at most 10 per partner per UTC day (0 left today)")
		})
		t.Run("ok/other partners have their own budget", func(t *testing.T) {
			eb, _ := mustCreate(t, s, scB1, environment.Production, EndpointInput{URL: "https://hooks.example.com/b", EventTypes: []string{"payment.created"}})
			if _, err := s.SendTest(ctx, scB1, eb.ID); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("ok/a new UTC day has a new budget", func(t *testing.T) {
			clk.Add(12 * time.Hour)
			if _, err := s.SendTest(ctx, scA1, e.ID); err != nil {
				t.Fatal(err)
			}
			var days int64
			d.Table("webhook_replay_budgets").Where("partner_id = ?", partnerA).Count(&days)
			if days != 1 {
				t.Fatalf("%d budget rows for partner A, want only today's", days)
			}
		})
	})
}

// TestReplayWindowConcurrent: many simultaneous range replays of one
// endpoint (as from many nodes) queue exactly one replay; the others are
// refused with rate_limited.
func TestReplayWindowConcurrent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustService(t, d, nil)
		ctx := context.Background()
		e, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: "https://hooks.example.com/in", EventTypes: []string{"payment.created"}})
		mustPublish(t, s, d, Event{ID: "evt_conc", Type: "payment.created", PartnerID: partnerA, AppID: appA1, Data: map[string]any{}})
		const n = 12
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = s.ReplayRange(ctx, scA1, e.ID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), false)
			}()
		}
		close(start)
		wg.Wait()
		ok, limited := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case problem.CodeOf(err) == problem.CodeRateLimited:
				limited++
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		if ok != 1 || limited != n-1 {
			t.Fatalf("%d replays ran and %d were refused, want 1 and %d", ok, limited, n-1)
		}
		// One from publishing the event, one from the replay.
		if got := deliveryStatuses(t, d, e.ID)[StatusPending]; got != 2 {
			t.Fatalf("%d deliveries queued, want 2", got)
		}
	})
}

// TestReplayLimitHTTP: the partner API answers a refused replay with 429
// problem+json and Retry-After.
func TestReplayLimitHTTP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		clk := newClock()
		s := mustService(t, d, func(c *Config) { c.Clock = clk.Now })
		api := newAPI(t, s)
		e, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: "https://hooks.example.com/in", EventTypes: []string{"payment.created"}})
		body := `{"from":"2020-01-01T00:00:00Z","to":"2100-01-01T00:00:00Z"}`
		if st, _, m := api.do("a1", "POST", "/webhook-endpoints/"+e.ID+"/replay", body); st != 202 {
			t.Fatalf("first replay: %d %v", st, m)
		}
		clk.Add(15 * time.Second)
		st, h, m := api.do("a1", "POST", "/webhook-endpoints/"+e.ID+"/replay", body)
		if st != 429 || h.Get("Content-Type") != problem.MediaType || h.Get("Retry-After") != "45" ||
			m["type"] != problem.TypePrefix+string(problem.CodeRateLimited) ||
			m["detail"] != "webhook endpoint "+e.ID+" may have one range replay per minute; try again in 45 seconds" ||
			m["retry_after"] != float64(45) {
			t.Fatalf("second replay: %d %v %v", st, h, m)
		}
		if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra != 45 {
			t.Fatalf("Retry-After %q", h.Get("Retry-After"))
		}
	})
}
