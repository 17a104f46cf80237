// Package quota enforces per-app request rates with GCRA (the generic cell rate
// algorithm): in-process for one node, in Redis (github.com/go-redis/redis_rate,
// the same algorithm in a Lua script) when several nodes must share one limit.
// It also writes the RateLimit header fields of draft-ietf-httpapi-ratelimit-headers
// (both the older RateLimit-Limit/-Remaining/-Reset trio and the newer
// RateLimit / RateLimit-Policy structured fields).
package quota

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limit is a rate with a burst: Rate requests per Period on average, up to
// Burst at once.
type Limit struct {
	Name   string // policy name for RateLimit-Policy, e.g. "accounts"
	Rate   int
	Burst  int
	Period time.Duration // default 1s
}

// Validate reports a limit that cannot be enforced.
func (l Limit) Validate() error {
	if l.Rate <= 0 || l.Burst <= 0 {
		return fmt.Errorf("quota: rate and burst must be positive (rate %d, burst %d)", l.Rate, l.Burst)
	}
	if l.period()/time.Duration(l.Rate) == 0 {
		return fmt.Errorf("quota: rate %d per %s is finer than a nanosecond", l.Rate, l.period())
	}
	return nil
}

func (l Limit) period() time.Duration {
	if l.Period <= 0 {
		return time.Second
	}
	return l.Period
}

// Result is one decision.
type Result struct {
	Allowed    bool
	Limit      Limit
	Remaining  int
	RetryAfter time.Duration // when refused: wait at least this long
	ResetAfter time.Duration // until the bucket is full again
}

// Limiter decides whether one more request under key fits the limit.
type Limiter interface {
	// Allow consumes one request for key if l allows it. Errors only for an
	// unreachable backing store (Redis); callers decide to fail open or closed.
	Allow(ctx context.Context, key string, l Limit) (Result, error)
}

// Memory is an in-process GCRA limiter (one node).
type Memory struct {
	now func() time.Time
	mu  sync.Mutex
	tat map[string]time.Time // theoretical arrival time per key
	n   int
}

// NewMemory returns an in-process limiter; now may be nil (time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, tat: map[string]time.Time{}}
}

// Allow implements Limiter with the same arithmetic as redis_rate's script.
func (m *Memory) Allow(_ context.Context, key string, l Limit) (Result, error) {
	if err := l.Validate(); err != nil {
		return Result{}, err
	}
	emission := l.period() / time.Duration(l.Rate)
	burstOffset := emission * time.Duration(l.Burst)
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	tat, ok := m.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	newTAT := tat.Add(emission)
	allowAt := newTAT.Add(-burstOffset)
	diff := now.Sub(allowAt)
	remaining := int(diff / emission)
	if diff < 0 {
		return Result{Allowed: false, Limit: l, Remaining: 0, RetryAfter: -diff, ResetAfter: tat.Sub(now)}, nil
	}
	m.tat[key] = newTAT
	if m.n++; m.n%4096 == 0 { // drop keys whose buckets are full again
		for k, t := range m.tat {
			if t.Before(now) {
				delete(m.tat, k)
			}
		}
	}
	return Result{Allowed: true, Limit: l, Remaining: remaining, ResetAfter: newTAT.Sub(now)}, nil
}

// Redis is a GCRA limiter shared by every node using the same Redis.
type Redis struct {
	lim    *redis_rate.Limiter
	prefix string
}

// NewRedis returns a Redis-backed limiter; keys are prefixed with prefix.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	return &Redis{lim: redis_rate.NewLimiter(c), prefix: prefix}
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	if err := l.Validate(); err != nil {
		return Result{}, err
	}
	res, err := r.lim.Allow(ctx, r.prefix+key, redis_rate.Limit{Rate: l.Rate, Burst: l.Burst, Period: l.period()})
	if err != nil {
		return Result{}, fmt.Errorf("quota: redis: %w", err)
	}
	out := Result{Allowed: res.Allowed > 0, Limit: l, Remaining: res.Remaining, ResetAfter: res.ResetAfter}
	if !out.Allowed {
		out.RetryAfter = res.RetryAfter
	}
	return out, nil
}

// ceilSeconds rounds a duration up to whole seconds (never below 0).
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

// WriteHeaders sets the rate-limit response fields for r, and Retry-After
// (RFC 9110 §10.2.3) when the request was refused.
func WriteHeaders(h http.Header, r Result) {
	l := r.Limit
	window := ceilSeconds(time.Duration(l.Burst) * l.period() / time.Duration(l.Rate))
	if window < 1 {
		window = 1
	}
	reset := ceilSeconds(r.ResetAfter)
	if !r.Allowed {
		reset = ceilSeconds(r.RetryAfter)
	}
	name := l.Name
	if name == "" {
		name = "default"
	}
	h.Set("RateLimit-Limit", strconv.Itoa(l.Burst))
	h.Set("RateLimit-Remaining", strconv.Itoa(r.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(reset))
	h.Set("RateLimit-Policy", fmt.Sprintf("%q;q=%d;w=%d", name, l.Burst, window))
	h.Set("RateLimit", fmt.Sprintf("%q;r=%d;t=%d", name, r.Remaining, reset))
	if !r.Allowed {
		ra := ceilSeconds(r.RetryAfter)
		if ra < 1 {
			ra = 1
		}
		h.Set("Retry-After", strconv.Itoa(ra))
	}
}
