package dpop

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/redis/go-redis/v9"
)

// RedisEnv names the variable holding a test Redis URL
// (redis://127.0.0.1:6379/0, as CI sets it); the Redis run is skipped when
// it is unset.
const RedisEnv = "BANKBRIDGE_TEST_REDIS"

// replayConformance runs the ReplayStore contract against one store. setNow
// moves the store's clock.
func replayConformance(t *testing.T, s ReplayStore, setNow func(time.Time)) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	setNow(t0)
	pfx := ids.Random(8) + "/"

	t.Run("ok/first use", func(t *testing.T) {
		if err := s.Use(ctx, pfx+"a", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fail/second use before expiry", func(t *testing.T) {
		setNow(t0.Add(59 * time.Second))
		if err := s.Use(ctx, pfx+"a", t0.Add(2*time.Minute)); !errors.Is(err, ErrReplay) {
			t.Fatalf("err = %v, want ErrReplay", err)
		}
	})
	t.Run("ok/other key", func(t *testing.T) {
		if err := s.Use(ctx, pfx+"b", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ok/reuse after expiry", func(t *testing.T) {
		setNow(t0.Add(time.Minute + time.Second))
		if err := s.Use(ctx, pfx+"a", t0.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		setNow(t0.Add(2 * time.Minute))
		if err := s.Use(ctx, pfx+"a", t0.Add(4*time.Minute)); !errors.Is(err, ErrReplay) {
			t.Fatalf("err = %v, want ErrReplay (the new expiry holds)", err)
		}
	})
	t.Run("ok/concurrent uses: exactly one wins", func(t *testing.T) {
		setNow(t0)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Use(ctx, pfx+"race", t0.Add(time.Minute))
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, ErrReplay):
				t.Fatalf("unexpected error %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d uses won, want 1", wins)
		}
	})
	if p, ok := s.(Purger); ok {
		t.Run("ok/purge deletes expired keys only", func(t *testing.T) {
			setNow(t0)
			if err := s.Use(ctx, pfx+"short", t0.Add(10*time.Second)); err != nil {
				t.Fatal(err)
			}
			if err := s.Use(ctx, pfx+"long", t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			setNow(t0.Add(30 * time.Minute))
			n, err := p.Purge(ctx)
			if err != nil || n < 1 {
				t.Fatalf("Purge = %d, %v", n, err)
			}
			if err := s.Use(ctx, pfx+"long", t0.Add(2*time.Hour)); !errors.Is(err, ErrReplay) {
				t.Fatalf("long key after purge: %v, want ErrReplay", err)
			}
			if err := s.Use(ctx, pfx+"short", t0.Add(2*time.Hour)); err != nil {
				t.Fatalf("short key after purge: %v", err)
			}
		})
	}
}

func TestMemoryReplayStore(t *testing.T) {
	s := NewMemoryReplayStore().(*MemoryReplayStore)
	replayConformance(t, s, func(n time.Time) { s.Now = clockAt(n) })
}

func TestGormReplayStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := NewGormReplayStore(d.DB).(*GormReplayStore)
		replayConformance(t, s, func(n time.Time) { s.Now = clockAt(n) })
		t.Run("in a transaction", func(t *testing.T) { gormUseIn(t, d, s) })
	})
}

// gormUseIn: UseIn records within the caller's transaction (rolled back with
// it, visible to Use once committed) and Shares recognises its database.
func gormUseIn(t *testing.T, d *db.DB, s *GormReplayStore) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)
	s.Now = clockAt(t0)
	if !s.Cutoff().Equal(t0) {
		t.Fatalf("Cutoff = %v, want %v", s.Cutoff(), t0)
	}
	sqlDB, err := d.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	pfx := ids.Random(8) + "/"
	useIn := func(key string, commit bool) error {
		tx, err := sqlDB.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = s.UseIn(ctx, tx, key, t0.Add(time.Minute))
		if commit && err == nil {
			if cerr := tx.Commit(); cerr != nil {
				t.Fatal(cerr)
			}
		} else {
			_ = tx.Rollback()
		}
		return err
	}
	t.Run("ok/rolled back: not recorded", func(t *testing.T) {
		if err := useIn(pfx+"a", false); err != nil {
			t.Fatal(err)
		}
		if err := s.Use(ctx, pfx+"a", t0.Add(time.Minute)); err != nil {
			t.Fatalf("after rollback: %v", err)
		}
	})
	t.Run("fail/committed: a replay for Use and UseIn", func(t *testing.T) {
		if err := useIn(pfx+"b", true); err != nil {
			t.Fatal(err)
		}
		if err := s.Use(ctx, pfx+"b", t0.Add(time.Minute)); !errors.Is(err, ErrReplay) {
			t.Fatalf("Use = %v, want ErrReplay", err)
		}
		if err := useIn(pfx+"b", false); !errors.Is(err, ErrReplay) {
			t.Fatalf("UseIn = %v, want ErrReplay", err)
		}
	})
	t.Run("ok/shares its own database only", func(t *testing.T) {
		if !s.Shares(d.DB) {
			t.Fatal("Shares(own database) = false")
		}
		other := dbtest.MustSQLite(t)
		if s.Shares(other.DB) {
			t.Fatal("Shares(another database) = true")
		}
	})
}

func TestRedisReplayStore(t *testing.T) {
	u := os.Getenv(RedisEnv)
	if u == "" {
		t.Skip(RedisEnv + " not set")
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("%s: %v", RedisEnv, err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis %s: %v", u, err)
	}
	s := NewRedisReplayStore(c, "test:dpop:"+ids.Random(8)+":").(*RedisReplayStore)
	// Redis expires keys on its own clock, so only the clock-free cases run here.
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	t.Run("ok/first use", func(t *testing.T) {
		if err := s.Use(ctx, "a", exp); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fail/second use", func(t *testing.T) {
		if err := s.Use(ctx, "a", exp); !errors.Is(err, ErrReplay) {
			t.Fatalf("err = %v, want ErrReplay", err)
		}
	})
	t.Run("ok/expiry set from exp", func(t *testing.T) {
		ttl, err := c.PTTL(ctx, s.prefix+"a").Result()
		if err != nil || ttl <= 0 || ttl > time.Minute {
			t.Fatalf("PTTL = %v, %v", ttl, err)
		}
	})
	t.Run("ok/concurrent uses: exactly one wins", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = s.Use(ctx, "race", exp) }()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else if !errors.Is(err, ErrReplay) {
				t.Fatal(err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d wins", wins)
		}
	})
	t.Run("ok/past expiry still records briefly", func(t *testing.T) {
		if err := s.Use(ctx, "past", time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
}
