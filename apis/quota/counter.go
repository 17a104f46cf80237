package quota

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Counter keeps monthly call counts: in-process (MemoryCounter) or in Redis
// (RedisCounter) so every node sees one count. A key is created by Seed (from
// the database's count) before it is incremented.
type Counter interface {
	// Get returns the count of key and whether the key exists.
	Get(ctx context.Context, key string) (n int64, ok bool, err error)
	// Seed sets key to n, expiring after ttl, unless it exists already.
	Seed(ctx context.Context, key string, n int64, ttl time.Duration) error
	// Incr adds one to key and returns the new count.
	Incr(ctx context.Context, key string) (int64, error)
}

// MemoryCounter is an in-process Counter (one node).
type MemoryCounter struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]memCount
}

type memCount struct {
	n   int64
	exp time.Time
}

// NewMemoryCounter returns an in-process Counter; now may be nil (time.Now).
func NewMemoryCounter(now func() time.Time) *MemoryCounter {
	if now == nil {
		now = time.Now
	}
	return &MemoryCounter{now: now, m: map[string]memCount{}}
}

// Get implements Counter.
func (c *MemoryCounter) Get(_ context.Context, key string) (int64, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	if ok && !c.now().Before(v.exp) {
		delete(c.m, key)
		return 0, false, nil
	}
	return v.n, ok, nil
}

// Seed implements Counter.
func (c *MemoryCounter) Seed(_ context.Context, key string, n int64, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if v, ok := c.m[key]; ok && now.Before(v.exp) {
		return nil
	}
	c.m[key] = memCount{n: n, exp: now.Add(ttl)}
	return nil
}

// Incr implements Counter; an unseeded key starts at 1 and lives a day.
func (c *MemoryCounter) Incr(_ context.Context, key string) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	if !ok {
		v.exp = c.now().Add(24 * time.Hour)
	}
	v.n++
	c.m[key] = v
	return v.n, nil
}

// RedisCounter is a Counter shared by every node using the same Redis.
type RedisCounter struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisCounter returns a Redis-backed Counter; keys are prefixed with prefix.
func NewRedisCounter(c redis.UniversalClient, prefix string) *RedisCounter {
	return &RedisCounter{c: c, prefix: prefix}
}

// Get implements Counter.
func (r *RedisCounter) Get(ctx context.Context, key string) (int64, bool, error) {
	n, err := r.c.Get(ctx, r.prefix+key).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("quota: redis: %w", err)
	}
	return n, true, nil
}

// Seed implements Counter (SET NX with an expiry).
func (r *RedisCounter) Seed(ctx context.Context, key string, n int64, ttl time.Duration) error {
	if err := r.c.SetNX(ctx, r.prefix+key, n, ttl).Err(); err != nil {
		return fmt.Errorf("quota: redis: %w", err)
	}
	return nil
}

// Incr implements Counter.
func (r *RedisCounter) Incr(ctx context.Context, key string) (int64, error) {
	n, err := r.c.Incr(ctx, r.prefix+key).Result()
	if err != nil {
		return 0, fmt.Errorf("quota: redis: %w", err)
	}
	return n, nil
}
