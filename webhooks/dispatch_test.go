package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/netguard"
)

var scA1 = Scope{PartnerID: partnerA, AppID: appA1}

func TestDeliverSignedAndVerified(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustService(t, d, nil)
		rc := newReceiver(t, nil)
		hm, creds := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL + "/hmac", EventTypes: []string{"payment.created"}})
		ed, edCreds := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL + "/ed", EventTypes: []string{"payment.created"}, Signing: SigningEd25519})
		runDispatchers(t, s, 1, DispatcherOptions{})
		for i := 0; i < 5; i++ {
			mustPublish(t, s, d, Event{Type: "payment.created", PartnerID: partnerA, AppID: appA1, Data: map[string]any{"payment_id": fmt.Sprintf("pay_%d", i)}})
		}
		eventually(t, "10 deliveries", func() bool {
			return deliveryStatuses(t, d, hm.ID)[StatusSucceeded] == 5 && deliveryStatuses(t, d, ed.ID)[StatusSucceeded] == 5
		})
		for _, r := range rc.all() {
			key := creds.Secret
			if r.Header.Get(HeaderSignature)[:4] == "v1a," {
				key = edCreds.PublicKey
			}
			if err := Verify(key, r.Header, r.Body, 0); err != nil {
				t.Fatalf("verify %v: %s", err, r.Header.Get(HeaderSignature))
			}
			if n := len(strings.Fields(r.Header.Get(HeaderSignature))); n != 1 {
				t.Fatalf("%d signatures", n)
			}
			m := decodeBody(t, r.Body)
			data := m["data"].(map[string]any)
			if m["type"] != "payment.created" || m["timestamp"] == nil || data["event_id"] != r.Header.Get(HeaderID) || data["app_id"] != appA1 {
				t.Fatalf("body %s", r.Body)
			}
		}
		for _, e := range []*Endpoint{hm, ed} {
			if st := deliveryStatuses(t, d, e.ID); st[StatusSucceeded] != 5 {
				t.Fatalf("statuses %v", st)
			}
		}
		keys, err := s.PublicKeys(context.Background())
		if err != nil || len(keys) != 1 || keys[0].PublicKey != edCreds.PublicKey || keys[0].KeyID != ed.KeyID || keys[0].Crv != "Ed25519" {
			t.Fatalf("public keys %+v %v", keys, err)
		}
	})
}

func TestRotationOverlap(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		clk := newClock()
		s := mustService(t, d, func(c *Config) { c.Clock = clk.Now })
		rc := newReceiver(t, nil)
		ctx := context.Background()
		hm, old := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"consent.revoked"}})
		ed, oldEd := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"consent.revoked"}, Signing: SigningEd25519})
		runDispatchers(t, s, 1, DispatcherOptions{})
		_, fresh, err := s.RotateSecret(ctx, scA1, hm.ID, -1)
		if err != nil || fresh.Secret == "" || fresh.Secret == old.Secret || fresh.PreviousValidUntil == nil || !fresh.PreviousValidUntil.Equal(clk.Now().Truncate(time.Microsecond).Add(24*time.Hour)) {
			t.Fatalf("rotate: %+v %v", fresh, err)
		}
		edAfter, freshEd, err := s.RotateSecret(ctx, scA1, ed.ID, -1)
		if err != nil || freshEd.PublicKey == oldEd.PublicKey || edAfter.PreviousPublicKey != oldEd.PublicKey {
			t.Fatalf("rotate ed: %+v %v", freshEd, err)
		}
		if keys, _ := s.PublicKeys(ctx); len(keys) != 2 || keys[1].NotAfter == nil {
			t.Fatalf("public keys during overlap: %+v", keys)
		}
		check := func(want int, keys ...string) {
			t.Helper()
			n := len(rc.all())
			mustPublish(t, s, d, Event{Type: "consent.revoked", PartnerID: partnerA, AppID: appA1, Data: map[string]any{"consent_id": "cns_1"}})
			eventually(t, "2 more deliveries", func() bool { return len(rc.all()) >= n+2 })
			for _, r := range rc.all()[n:] {
				sigs := strings.Fields(r.Header.Get(HeaderSignature))
				if len(sigs) != want {
					t.Fatalf("%d signatures, want %d: %v", len(sigs), want, sigs)
				}
				ok := 0
				for _, k := range keys {
					if verifyAt(k, r.Header, r.Body, 0, clk.Now()) == nil {
						ok++
					}
				}
				if ok != 1 { // each delivery verifies under exactly one of the hmac/ed key sets
					t.Fatalf("verified under %d keys", ok)
				}
			}
		}
		// During the overlap: both signatures, each valid alone.
		check(2, fresh.Secret, freshEd.PublicKey)
		check(2, old.Secret, oldEd.PublicKey)
		// After it: only the new one.
		clk.Add(24*time.Hour + time.Second)
		check(1, fresh.Secret, freshEd.PublicKey)
		n := len(rc.all())
		for _, r := range rc.all()[n-2:] {
			if verifyAt(old.Secret, r.Header, r.Body, 0, clk.Now()) == nil || verifyAt(oldEd.PublicKey, r.Header, r.Body, 0, clk.Now()) == nil {
				t.Fatal("old key still verifies after the overlap")
			}
		}
		// Immediate rotation: no overlap.
		_, imm, err := s.RotateSecret(ctx, scA1, hm.ID, 0)
		if err != nil || imm.PreviousValidUntil != nil {
			t.Fatalf("immediate rotation %+v %v", imm, err)
		}
	})
}

func TestFailingReceiverRecovers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustService(t, d, nil)
		var mu sync.Mutex
		calls := map[string]int{}
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			calls[r.Header.Get(HeaderID)]++
			n := calls[r.Header.Get(HeaderID)]
			mu.Unlock()
			if n <= 3 { // fails a while, then recovers
				http.Error(w, "database down", http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		e, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"payment.status_changed"}})
		runDispatchers(t, s, 2, DispatcherOptions{Workers: 4})
		const n = 20
		for i := 0; i < n; i++ {
			mustPublish(t, s, d, Event{Type: "payment.status_changed", PartnerID: partnerA, AppID: appA1, Data: map[string]any{"payment_id": fmt.Sprint("pay_", i), "status": "settled"}})
		}
		eventually(t, "all delivered", func() bool { return deliveryStatuses(t, d, e.ID)[StatusSucceeded] == n })
		if ids := rc.distinctIDs(); len(ids) != n {
			t.Fatalf("%d distinct ids", len(ids))
		}
		as, err := s.Attempts(context.Background(), partnerA, e.ID, AttemptFilter{Limit: 500})
		if err != nil || len(as) != 4*n {
			t.Fatalf("%d attempts, %v", len(as), err)
		}
		for _, a := range as {
			switch a.Attempt {
			case 1, 2, 3:
				if a.StatusCode != 500 || a.ResponseExcerpt != "database down\n" || a.NextRetryAt == nil || a.Succeeded() {
					t.Fatalf("failed attempt %+v", a)
				}
			case 4:
				if a.StatusCode != 200 || a.NextRetryAt != nil || !a.Succeeded() {
					t.Fatalf("final attempt %+v", a)
				}
			default:
				t.Fatalf("attempt %+v", a)
			}
		}
		failed, _ := s.Attempts(context.Background(), partnerA, e.ID, AttemptFilter{FailedOnly: true, Limit: 500})
		if len(failed) != 3*n {
			t.Fatalf("%d failed attempts", len(failed))
		}
		var ep endpointRow
		d.Where("id = ?", e.ID).Take(&ep)
		if ep.FailingSince != nil || !ep.Enabled {
			t.Fatalf("endpoint after recovery %+v", ep)
		}
	})
}

func TestDeadLetter(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustService(t, d, func(c *Config) { c.Schedule = []time.Duration{0, time.Millisecond, time.Millisecond} })
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
		e, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"statement.issued"}})
		runDispatchers(t, s, 1, DispatcherOptions{})
		mustPublish(t, s, d, Event{ID: "evt_dead", Type: "statement.issued", PartnerID: partnerA, Data: map[string]any{"statement_id": "stm_1"}})
		eventually(t, "dead-lettered", func() bool { return deliveryStatuses(t, d, e.ID)[StatusDead] == 1 })
		as, _ := s.Attempts(context.Background(), partnerA, e.ID, AttemptFilter{})
		if len(as) != 3 || as[0].Attempt != 3 || as[0].NextRetryAt != nil || as[1].NextRetryAt == nil {
			t.Fatalf("attempts %+v", as)
		}
		// Replay after the receiver is fixed.
		rc.setAnswer(nil)
		n, err := s.ReplayEvent(context.Background(), Scope{PartnerID: partnerA}, "evt_dead")
		if err != nil || n != 1 {
			t.Fatalf("replay %d %v", n, err)
		}
		eventually(t, "replayed", func() bool { return deliveryStatuses(t, d, e.ID)[StatusSucceeded] == 1 })
		if got := rc.distinctIDs(); got["evt_dead"] != 4 {
			t.Fatalf("receipts %v", got)
		}
	})
}

func TestGoneDisablesEndpoint(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustService(t, d, nil)
		dbtest.MustPartnerOwner(t, d, partnerA, "owner1@a.example")
		dbtest.MustPartnerOwner(t, d, partnerA, "owner2@a.example")
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
		e, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"app.suspended"}})
		runDispatchers(t, s, 1, DispatcherOptions{})
		mustPublish(t, s, d, Event{Type: "app.suspended", PartnerID: partnerA, AppID: appA1})
		eventually(t, "cancelled", func() bool { return deliveryStatuses(t, d, e.ID)[StatusCancelled] == 1 })
		got, _ := s.GetEndpoint(context.Background(), scA1, e.ID)
		if got.Enabled || got.DisabledReason != "the endpoint answered 410 Gone" {
			t.Fatalf("endpoint %+v", got)
		}
		notices, _ := s.Notices(context.Background(), partnerA, true)
		if len(notices) != 1 || notices[0].Kind != NoticeEndpointDisabled || notices[0].ObjectID != e.ID {
			t.Fatalf("notices %+v", notices)
		}
		var emails []string
		d.Model(&mail.Message{}).Where("partner_id = ? AND template = ?", partnerA, NoticeEndpointDisabled).Order("recipient").Pluck("recipient", &emails)
		if strings.Join(emails, ",") != "owner1@a.example,owner2@a.example" {
			t.Fatalf("emails to %v, want one to each owner", emails)
		}
		// Later events are not queued for a disabled endpoint; a test event is refused.
		mustPublish(t, s, d, Event{Type: "app.suspended", PartnerID: partnerA, AppID: appA1})
		if st := deliveryStatuses(t, d, e.ID); st[StatusPending] != 0 || len(rc.all()) != 1 {
			t.Fatalf("after disable: %v, %d receipts", st, len(rc.all()))
		}
		_, err := s.SendTest(context.Background(), scA1, e.ID)
		wantProblem(t, err, "conflict", "webhook endpoint "+e.ID+" is disabled; enable it to send a test event")
		if err := s.MarkNoticeRead(context.Background(), partnerA, notices[0].ID); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, s.MarkNoticeRead(context.Background(), partnerB, notices[0].ID), "not_found", "notice "+notices[0].ID+" not found")
	})
}

func TestRetryAfterRespected(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		clk := newClock()
		s := mustService(t, d, func(c *Config) { c.Clock = clk.Now })
		rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			if n == 2 {
				w.Header().Set("Retry-After", clk.Now().Add(2*time.Hour).Format(http.TimeFormat))
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		})
		e, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"quota.threshold_reached"}})
		runDispatchers(t, s, 1, DispatcherOptions{})
		t0 := clk.Now().Truncate(time.Microsecond)
		mustPublish(t, s, d, Event{Type: "quota.threshold_reached", PartnerID: partnerA, Data: map[string]any{"threshold_bp": 8000}})
		eventually(t, "first attempt", func() bool { return countAttempts(t, d, e.ID) == 1 })
		as, _ := s.Attempts(context.Background(), partnerA, e.ID, AttemptFilter{})
		if as[0].StatusCode != 429 || as[0].NextRetryAt == nil || as[0].NextRetryAt.Before(t0.Add(time.Hour)) {
			t.Fatalf("attempt %+v", as[0])
		}
		var dl deliveryRow
		d.Where("endpoint_id = ?", e.ID).Take(&dl)
		if dl.NextAttemptAt.Before(t0.Add(time.Hour)) || dl.Status != StatusPending {
			t.Fatalf("delivery %+v", dl)
		}
		// Not due before Retry-After: a claim now finds nothing.
		if got, err := NewDispatcher(s, DispatcherOptions{}).claim(context.Background(), "probe", 10); err != nil || len(got) != 0 {
			t.Fatalf("claimed before Retry-After: %v %v", got, err)
		}
		clk.Add(59 * time.Minute)
		if got, _ := NewDispatcher(s, DispatcherOptions{}).claim(context.Background(), "probe", 10); len(got) != 0 {
			t.Fatalf("claimed before Retry-After: %v", got)
		}
		clk.Add(2 * time.Minute)
		eventually(t, "second attempt", func() bool { return countAttempts(t, d, e.ID) == 2 })
		as, _ = s.Attempts(context.Background(), partnerA, e.ID, AttemptFilter{})
		if as[0].StatusCode != 503 || as[0].NextRetryAt == nil || as[0].NextRetryAt.Before(clk.Now().Add(time.Hour+59*time.Minute)) {
			t.Fatalf("attempt %+v", as[0])
		}
		clk.Add(2*time.Hour + time.Minute)
		eventually(t, "delivered", func() bool {
			return deliveryStatuses(t, d, e.ID)[StatusSucceeded] == 1
		})
	})
}

func TestDisableAfterContinuousFailure(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		clk := newClock()
		s := mustService(t, d, func(c *Config) {
			c.Clock = clk.Now
			c.Schedule = []time.Duration{0, 24 * time.Hour, 24 * time.Hour, 24 * time.Hour, 24 * time.Hour, 24 * time.Hour, 24 * time.Hour, 24 * time.Hour}
			c.DisableAfter = 3 * 24 * time.Hour
		})
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
		e, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"consent.expired"}})
		runDispatchers(t, s, 1, DispatcherOptions{})
		mustPublish(t, s, d, Event{Type: "consent.expired", PartnerID: partnerA, AppID: appA1, Data: map[string]any{"consent_id": "cns_9"}})
		for day := 1; day <= 4; day++ {
			eventually(t, fmt.Sprintf("attempt %d", day), func() bool { return countAttempts(t, d, e.ID) == day })
			got, _ := s.GetEndpoint(context.Background(), scA1, e.ID)
			if want := day < 4; got.Enabled != want {
				t.Fatalf("day %d: enabled %v", day, got.Enabled)
			}
			clk.Add(24*time.Hour + time.Second)
		}
		got, _ := s.GetEndpoint(context.Background(), scA1, e.ID)
		if !strings.HasPrefix(got.DisabledReason, "deliveries failed continuously since ") {
			t.Fatalf("reason %q", got.DisabledReason)
		}
		notices, _ := s.Notices(context.Background(), partnerA, false)
		if len(notices) != 1 || !strings.Contains(notices[0].Body, e.ID) {
			t.Fatalf("notices %+v", notices)
		}
		eventually(t, "cancelled", func() bool { return deliveryStatuses(t, d, e.ID)[StatusCancelled] == 1 })
		// Re-enabled by the partner: failure run reset; the missed event replayed.
		on := true
		if _, err := s.UpdateEndpoint(context.Background(), scA1, e.ID, EndpointPatch{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		rc.setAnswer(nil)
		n, err := s.ReplayRange(context.Background(), scA1, e.ID, clk.Now().Add(-30*24*time.Hour), clk.Now(), true)
		if err != nil || n != 1 {
			t.Fatalf("replay range %d %v", n, err)
		}
		eventually(t, "replayed", func() bool { return deliveryStatuses(t, d, e.ID)[StatusSucceeded] == 1 })
		clk.Add(time.Minute) // one range replay per endpoint per minute
		if n, _ := s.ReplayRange(context.Background(), scA1, e.ID, clk.Now().Add(-30*24*time.Hour), clk.Now(), true); n != 0 {
			t.Fatalf("failed-only replay re-queued %d delivered events", n)
		}
	})
}

func TestNoRedirectsFollowed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustService(t, d, func(c *Config) { c.Schedule = []time.Duration{0} })
		target := newReceiver(t, nil)
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/elsewhere", http.StatusTemporaryRedirect)
		})
		e, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"payment.created"}})
		runDispatchers(t, s, 1, DispatcherOptions{})
		mustPublish(t, s, d, Event{Type: "payment.created", PartnerID: partnerA, AppID: appA1})
		eventually(t, "dead", func() bool { return deliveryStatuses(t, d, e.ID)[StatusDead] == 1 })
		as, _ := s.Attempts(context.Background(), partnerA, e.ID, AttemptFilter{})
		if len(as) != 1 || as[0].StatusCode != 307 || as[0].Error != "redirect not followed (Location: "+target.URL+"/elsewhere)" {
			t.Fatalf("attempt %+v", as)
		}
		if len(target.all()) != 0 {
			t.Fatal("redirect followed")
		}
	})
}

func TestConnectTimeRefusal(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		// Create time: "localhost" resolves (per the injected resolver) to a
		// public address; at connect time the real resolver answers 127.0.0.1,
		// as after a DNS rebinding. The dialer refuses it.
		s := mustService(t, d, func(c *Config) {
			c.Schedule = []time.Duration{0}
			c.Resolver = fakeResolver{"localhost": testResolver["hooks.example.com"]}
		})
		rc := newReceiver(t, nil)
		port := rc.Listener.Addr().(interface{ String() string }).String()
		port = port[strings.LastIndex(port, ":"):]
		e, _ := mustCreate(t, s, scA1, environment.Production, EndpointInput{URL: "https://localhost" + port + "/hook", EventTypes: []string{"payment.created"}})
		// A sandbox endpoint at the same place is allowed (AllowLoopback).
		sb, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: "http://127.0.0.1" + port + "/hook", EventTypes: []string{"payment.created"}})
		runDispatchers(t, s, 1, DispatcherOptions{})
		mustPublish(t, s, d, Event{Type: "payment.created", PartnerID: partnerA, AppID: appA1})
		eventually(t, "both settled", func() bool {
			return deliveryStatuses(t, d, e.ID)[StatusDead] == 1 && deliveryStatuses(t, d, sb.ID)[StatusSucceeded] == 1
		})
		as, _ := s.Attempts(context.Background(), partnerA, e.ID, AttemptFilter{})
		if len(as) != 1 || as[0].StatusCode != 0 || !strings.HasPrefix(as[0].Error, "refused: forbidden destination address: 127.0.0.1 is a loopback address") {
			t.Fatalf("attempt %+v", as)
		}
		if len(rc.all()) != 1 {
			t.Fatalf("receiver got %d requests, want only the sandbox one", len(rc.all()))
		}
	})
}

func TestDialerControl(t *testing.T) {
	strict, loose := netguard.Policy{}, netguard.Policy{AllowLoopback: true}
	cases := []struct {
		name string
		p    netguard.Policy
		addr string
		want string
	}{
		{"ok/public-v4", strict, "93.184.216.34:443", ""},
		{"ok/public-v6", strict, "[2606:2800:220:1:248:1893:25c8:1946]:443", ""},
		{"ok/loopback-when-allowed", loose, "127.0.0.1:8080", ""},
		{"fail/loopback", strict, "127.0.0.1:443", "forbidden destination address: 127.0.0.1 is a loopback address"},
		{"fail/loopback-v6", strict, "[::1]:443", "forbidden destination address: ::1 is a loopback address"},
		{"fail/v4-mapped-loopback", strict, "[::ffff:127.0.0.1]:443", "forbidden destination address: 127.0.0.1 is a loopback address"},
		{"fail/private-10", loose, "10.0.0.1:443", "forbidden destination address: 10.0.0.1 is a private address"},
		{"fail/private-172", strict, "172.16.5.4:443", "forbidden destination address: 172.16.5.4 is a private address"},
		{"fail/private-v6-ula", strict, "[fd00::1]:443", "forbidden destination address: fd00::1 is a private address"},
		{"fail/link-local-metadata", loose, "169.254.169.254:80", "forbidden destination address: 169.254.169.254 is a link-local address"},
		{"fail/link-local-v6", strict, "[fe80::1]:443", "forbidden destination address: fe80::1 is a link-local address"},
		{"fail/multicast", strict, "239.1.1.1:443", "forbidden destination address: 239.1.1.1 is a multicast address"},
		{"fail/unspecified", strict, "0.0.0.0:443", "forbidden destination address: 0.0.0.0 is an unspecified address"},
		{"fail/unspecified-v6", strict, "[::]:443", "forbidden destination address: :: is an unspecified address"},
		{"fail/cgnat", strict, "100.64.1.1:443", "forbidden destination address: 100.64.1.1 is in 100.64.0.0/10 (shared address space, RFC 6598)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Control("tcp", tc.addr, nil)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name, v string
		want    time.Duration
	}{
		{"ok/seconds", "120", 2 * time.Minute},
		{"ok/date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"ok/capped", "999999", 24 * time.Hour},
		{"fail/past-date", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"fail/garbage", "soon", 0},
		{"fail/negative", "-5", 0},
		{"fail/empty", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseRetryAfter(tc.v, now); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSendTestAndResponseCap(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustService(t, d, nil)
		big := strings.Repeat("x", 200<<10)
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) { w.Write([]byte(big)) })
		e, creds := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"payment.created"}})
		runDispatchers(t, s, 1, DispatcherOptions{})
		id, err := s.SendTest(context.Background(), scA1, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "test delivered", func() bool { return deliveryStatuses(t, d, e.ID)[StatusSucceeded] == 1 })
		r := rc.all()[0]
		if r.Header.Get(HeaderID) != id || Verify(creds.Secret, r.Header, r.Body, 0) != nil || decodeBody(t, r.Body)["type"] != TestEventType {
			t.Fatalf("test delivery %v %s", r.Header, r.Body)
		}
		as, _ := s.Attempts(context.Background(), partnerA, e.ID, AttemptFilter{EventID: id})
		if len(as) != 1 || len(as[0].ResponseExcerpt) != ResponseExcerptSize || as[0].StatusCode != 200 {
			t.Fatalf("attempts %+v", as)
		}
		_, err = s.SendTest(context.Background(), Scope{PartnerID: partnerA, AppID: appA2}, e.ID)
		wantProblem(t, err, "not_found", "webhook endpoint "+e.ID+" not found")
		_, err = s.Attempts(context.Background(), partnerB, e.ID, AttemptFilter{})
		wantProblem(t, err, "not_found", "webhook endpoint "+e.ID+" not found")
	})
}
