package quota

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bankbridge/bankbridge/internal/ids"
)

// counters returns the in-process counter, and the Redis one when
// BANKBRIDGE_TEST_REDIS is set.
func counters(t *testing.T, now func() time.Time) map[string]Counter {
	out := map[string]Counter{"memory": NewMemoryCounter(now)}
	if u := os.Getenv("BANKBRIDGE_TEST_REDIS"); u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		out["redis"] = NewRedisCounter(c, "test:"+ids.Random(8)+":")
	}
	return out
}

func TestCounterSeedOnceThenIncr(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)}
	for name, c := range counters(t, clk.Now) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if _, ok, err := c.Get(ctx, "app:accounts:2026-11"); ok || err != nil {
				t.Fatalf("fresh key exists: %v %v", ok, err)
			}
			if err := c.Seed(ctx, "app:accounts:2026-11", 41, time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := c.Seed(ctx, "app:accounts:2026-11", 7, time.Hour); err != nil { // a second seed is ignored
				t.Fatal(err)
			}
			n, err := c.Incr(ctx, "app:accounts:2026-11")
			if err != nil || n != 42 {
				t.Fatalf("incr %d %v", n, err)
			}
			if n, ok, err := c.Get(ctx, "app:accounts:2026-11"); !ok || n != 42 || err != nil {
				t.Fatalf("get %d %v %v", n, ok, err)
			}
		})
	}
	t.Run("memory/expires", func(t *testing.T) {
		c := NewMemoryCounter(clk.Now)
		ctx := context.Background()
		c.Seed(ctx, "k", 5, time.Minute)
		clk.Advance(time.Minute)
		if _, ok, _ := c.Get(ctx, "k"); ok {
			t.Fatal("key outlived its ttl")
		}
	})
}
