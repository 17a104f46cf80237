package quota

import (
	"context"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bankbridge/bankbridge/internal/ids"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// limiters returns the in-process limiter, and the Redis one when
// BANKBRIDGE_TEST_REDIS is set (CI sets it).
func limiters(t *testing.T) map[string]Limiter {
	out := map[string]Limiter{"memory": NewMemory(nil)}
	if u := os.Getenv("BANKBRIDGE_TEST_REDIS"); u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		out["redis"] = NewRedis(c, "test:"+ids.Random(8)+":")
	}
	return out
}

func TestBurstThenRefuse(t *testing.T) {
	for name, lim := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			l := Limit{Name: "accounts", Rate: 10, Burst: 20}
			ctx := context.Background()
			allowed := 0
			var last Result
			for i := 0; i < 25; i++ {
				r, err := lim.Allow(ctx, "app_a", l)
				if err != nil {
					t.Fatal(err)
				}
				if r.Allowed {
					allowed++
				}
				last = r
			}
			// 25 requests in well under the 100 ms one token takes to refill.
			if allowed < 20 || allowed > 21 {
				t.Fatalf("allowed %d of 25 with burst 20", allowed)
			}
			if last.Allowed || last.RetryAfter <= 0 || last.RetryAfter > 100*time.Millisecond {
				t.Fatalf("last %+v: want refused with retry-after ≤ 100ms", last)
			}
			other, _ := lim.Allow(ctx, "app_b", l)
			// redis_rate computes in Lua floats and may floor 19 to 18.
			if !other.Allowed || other.Remaining < 18 || other.Remaining > 19 {
				t.Fatalf("other key %+v: keys must not share a bucket", other)
			}
		})
	}
}

func TestRefillOverTime(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	m := NewMemory(c.Now)
	l := Limit{Rate: 10, Burst: 2}
	ctx := context.Background()
	for i, want := range []bool{true, true, false} {
		if r, _ := m.Allow(ctx, "k", l); r.Allowed != want {
			t.Fatalf("request %d allowed=%v", i, r.Allowed)
		}
	}
	c.Advance(100 * time.Millisecond)
	if r, _ := m.Allow(ctx, "k", l); !r.Allowed {
		t.Fatal("one token should have refilled after 100ms at 10/s")
	}
	if r, _ := m.Allow(ctx, "k", l); r.Allowed {
		t.Fatal("only one token refilled")
	}
}

func TestConcurrentNeverExceedsBurst(t *testing.T) {
	for name, lim := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			l := Limit{Rate: 1, Burst: 50, Period: time.Minute}
			var ok atomic.Int64
			var wg sync.WaitGroup
			for g := 0; g < 20; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 10; i++ {
						if r, err := lim.Allow(context.Background(), "shared", l); err == nil && r.Allowed {
							ok.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 50 {
				t.Fatalf("allowed %d of 200 with burst 50 and no refill", ok.Load())
			}
		})
	}
}

func TestInvalidLimit(t *testing.T) {
	if _, err := NewMemory(nil).Allow(context.Background(), "k", Limit{Rate: 0, Burst: 1}); err == nil ||
		err.Error() != "quota: rate and burst must be positive (rate 0, burst 1)" {
		t.Fatalf("err %v", err)
	}
}

func TestWriteHeaders(t *testing.T) {
	cases := []struct {
		name string
		r    Result
		want map[string]string
	}{
		{"ok/allowed", Result{Allowed: true, Limit: Limit{Name: "accounts", Rate: 10, Burst: 20}, Remaining: 7, ResetAfter: 1300 * time.Millisecond},
			map[string]string{"RateLimit-Limit": "20", "RateLimit-Remaining": "7", "RateLimit-Reset": "2",
				"RateLimit-Policy": `"accounts";q=20;w=2`, "RateLimit": `"accounts";r=7;t=2`, "Retry-After": ""}},
		{"fail/refused", Result{Allowed: false, Limit: Limit{Rate: 10, Burst: 20}, RetryAfter: 40 * time.Millisecond, ResetAfter: 2 * time.Second},
			map[string]string{"RateLimit-Remaining": "0", "RateLimit-Reset": "1", "Retry-After": "1", "RateLimit": `"default";r=0;t=1`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			WriteHeaders(h, tc.r)
			for k, v := range tc.want {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory(nil)
	l := Limit{Rate: 1_000_000, Burst: 1 << 30}
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Allow(ctx, "app_x", l)
		}
	})
}
