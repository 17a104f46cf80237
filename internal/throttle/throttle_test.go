package throttle_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/throttle"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var ctx = context.Background()

func newStore(t *testing.T, d *db.DB) (*throttle.Store, *clock) {
	c := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)}
	return throttle.NewStore(d.DB, c.now), c
}

var small = throttle.Policy{
	Address:        throttle.Rule{Limit: 6, Window: 10 * time.Minute},
	AccountAddress: throttle.Rule{Limit: 2, Window: 10 * time.Minute},
	Account:        throttle.Rule{Limit: 3, Window: 10 * time.Minute},
}

// wantLocked fails unless err is a *LockedError until want.
func wantLocked(t *testing.T, name string, err error, until time.Time) {
	t.Helper()
	var le *throttle.LockedError
	if !errors.As(err, &le) || !errors.Is(err, throttle.ErrLocked) {
		t.Fatalf("%s: err %v, want a LockedError", name, err)
	}
	if !le.Until.Equal(until) {
		t.Fatalf("%s: until %s, want %s", name, le.Until, until)
	}
}

// fail begins an attempt and reports it failed; it returns Begin's error.
func fail(l *throttle.Limiter, account, addr string) error {
	a, err := l.Begin(ctx, account, addr)
	if err != nil {
		return err
	}
	a.Failed()
	return nil
}

// TestParallelAttempts: of 50 attempts at once on one account from one
// address, exactly the limit is admitted, on both engines.
func TestParallelAttempts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, c := newStore(t, d)
		l := s.Limiter("portal", throttle.DefaultPolicy)
		var admitted, refused, other int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := fail(l, "ada@acme.example", "192.0.2.1")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					admitted++
				case errors.Is(err, throttle.ErrLocked):
					refused++
				default:
					other++
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if admitted != 5 || refused != 45 {
			t.Fatalf("admitted %d, refused %d, errors %d; want 5 and 45", admitted, refused, other)
		}
		until := c.now().Truncate(time.Microsecond).Add(15 * time.Minute)
		wantLocked(t, "fail/locked", fail(l, "ada@acme.example", "192.0.2.1"), until)
		c.advance(15 * time.Minute)
		if err := fail(l, "ada@acme.example", "192.0.2.1"); err != nil {
			t.Fatalf("ok/window-over: %v", err)
		}
	})
}

func TestPolicy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, c := newStore(t, d)
		l := s.Limiter("staff", small)
		start := c.now().Truncate(time.Microsecond)
		until := start.Add(10 * time.Minute)

		// Account at address: 2 attempts, the second failure says locked.
		a, err := l.Begin(ctx, "ada", "192.0.2.1")
		if err != nil || a.Failed() != nil {
			t.Fatalf("ok/first-failure: %v", err)
		}
		a, err = l.Begin(ctx, "ada", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		wantLocked(t, "fail/second-failure-locks", a.Failed(), until)
		wantLocked(t, "fail/third-refused", fail(l, "ada", "192.0.2.1"), until)

		// Another address is not locked out of the account...
		c.advance(time.Minute)
		a, err = l.Begin(ctx, "ada", "192.0.2.2")
		if err != nil {
			t.Fatalf("ok/other-address: %v", err)
		}
		// ...but the account-wide ceiling (3) is now spent: this failure says so,
		wantLocked(t, "fail/ceiling-reached", a.Failed(), until)
		// and every address is refused until the ceiling's window ends.
		wantLocked(t, "fail/ceiling-third-address", fail(l, "ada", "192.0.2.3"), until)
		// A refusal by the ceiling is refunded on the counters before it:
		// 192.0.2.3 has one attempt left on "ada" once the ceiling lifts, and
		// its address budget is untouched.
		c.advance(9 * time.Minute)
		a, err = l.Begin(ctx, "ada", "192.0.2.3")
		if err != nil {
			t.Fatalf("ok/after-ceiling: %v", err)
		}
		if err := a.Succeeded(ctx); err != nil {
			t.Fatal(err)
		}
		// Success resets the account: 192.0.2.3 starts afresh on it.
		if err := fail(l, "ada", "192.0.2.3"); err != nil {
			t.Fatalf("ok/after-success: %v", err)
		}

		// Spraying: 6 failures from one address across accounts, then refused
		// for every account, even one it never tried; other addresses are not.
		c.advance(time.Hour)
		sprayStart := c.now().Truncate(time.Microsecond)
		for i := range 6 {
			if err := fail(l, string(rune('a'+i))+"@x", "198.51.100.7"); err != nil {
				t.Fatalf("ok/spray-%d: %v", i, err)
			}
		}
		wantLocked(t, "fail/spray-budget", fail(l, "zed@x", "198.51.100.7"), sprayStart.Add(10*time.Minute))
		if err := fail(l, "zed@x", "198.51.100.8"); err != nil {
			t.Fatalf("ok/other-address-not-sprayed: %v", err)
		}
		// Attempts the address budget refuses never reach the account's
		// counters (all counters are counted in one statement, and the
		// admitted ones refunded): zed@x's ceiling (3) still has room.
		for range 3 {
			wantLocked(t, "fail/spray-budget-again", fail(l, "zed@x", "198.51.100.7"), sprayStart.Add(10*time.Minute))
		}
		if err := fail(l, "zed@x", "198.51.100.9"); err != nil {
			t.Fatalf("ok/refused-attempts-not-counted-on-account: %v", err)
		}

		// Successes do not spend the address budget; Cancel refunds all.
		c.advance(time.Hour)
		for i := range 10 {
			a, err := l.Begin(ctx, string(rune('a'+i))+"@office", "203.0.113.9")
			if err != nil {
				t.Fatalf("ok/office-%d: %v", i, err)
			}
			if i%2 == 0 {
				err = a.Succeeded(ctx)
			} else {
				err = a.Cancel(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range 6 {
			if err := fail(l, "x"+string(rune('a'+i)), "203.0.113.9"); err != nil {
				t.Fatalf("ok/office-budget-intact-%d: %v", i, err)
			}
		}

		// Surfaces never share counters.
		if err := fail(s.Limiter("portal", small), "zed@x", "198.51.100.7"); err != nil {
			t.Fatalf("ok/other-surface: %v", err)
		}
	})
}

func TestAdmitAndPurge(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, c := newStore(t, d)
		r := throttle.Rule{Limit: 3, Window: time.Hour}
		start := c.now().Truncate(time.Microsecond)
		for i := range 3 {
			if err := s.Admit(ctx, r, "portal", "sign-up", "192.0.2.1"); err != nil {
				t.Fatalf("ok/sign-up-%d: %v", i, err)
			}
		}
		wantLocked(t, "fail/sign-up-4", s.Admit(ctx, r, "portal", "sign-up", "192.0.2.1"), start.Add(time.Hour))
		if err := s.Admit(ctx, r, "portal", "sign-up", "192.0.2.2"); err != nil {
			t.Fatalf("ok/other-address: %v", err)
		}
		c.advance(time.Hour)
		if n, err := s.Purge(ctx, c.now()); err != nil || n != 0 {
			t.Fatalf("purged %d, %v at the window's end; want 0", n, err)
		}
		c.advance(time.Second)
		n, err := s.Purge(ctx, c.now())
		if err != nil || n != 2 {
			t.Fatalf("purged %d, %v; want 2", n, err)
		}
		if err := s.Admit(ctx, r, "portal", "sign-up", "192.0.2.1"); err != nil {
			t.Fatalf("ok/after-window: %v", err)
		}
	})
}

func TestClientAddress(t *testing.T) {
	for name, c := range map[string]struct{ remote, want string }{
		"ok/ipv4":          {"192.0.2.1:5555", "192.0.2.1"},
		"ok/ipv4-mapped":   {"[::ffff:192.0.2.1]:5555", "192.0.2.1"},
		"ok/ipv6-per-/64":  {"[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:443", "2001:db8:1:2::/64"},
		"ok/ipv6-same-/64": {"[2001:db8:1:2::1]:443", "2001:db8:1:2::/64"},
		"ok/ipv6-zone":     {"[fe80::1%eth0]:443", "fe80::/64"},
		"ok/no-port":       {"192.0.2.1", "192.0.2.1"},
		"ok/unparseable":   {"pipe", "pipe"},
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			r.Header.Set("X-Forwarded-For", "203.0.113.1")
			if got := throttle.ClientAddress(r); got != c.want {
				t.Fatalf("ClientAddress(%q) = %q, want %q", c.remote, got, c.want)
			}
			if got := throttle.Address(throttle.WithClient(ctx, r)); got != c.want {
				t.Fatalf("Address(WithClient) = %q, want %q", got, c.want)
			}
		})
	}
	if got := throttle.Address(ctx); got != "" {
		t.Fatalf("Address without WithAddress = %q", got)
	}
}
