package cachebus

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/bankbridge/bankbridge/internal/ids"
)

// Environment variables of the shared services (as elsewhere in the repo);
// each backend's tests are skipped when its variable is unset.
const (
	postgresEnv = "BANKBRIDGE_TEST_POSTGRES"
	redisEnv    = "BANKBRIDGE_TEST_REDIS"
)

// node is one node's bus and what a test does to it.
type node struct {
	bus Bus
	// cut breaks the node's subscription connection (the server side), so
	// the bus sees it lost.
	cut func(t *testing.T)
}

// backend makes nodes sharing one channel.
type backend struct {
	name    string
	newNode func(t *testing.T, channel string) node
}

func backends(t *testing.T) []backend {
	out := []backend{}
	if u := os.Getenv(postgresEnv); u != "" {
		out = append(out, backend{name: "postgres", newNode: func(t *testing.T, channel string) node {
			p := NewPostgres(u, channel, nil)
			t.Cleanup(func() { _ = p.Close() })
			waitUp(t, p.WaitLive)
			return node{bus: p, cut: func(t *testing.T) {
				c, err := pgx.Connect(context.Background(), u)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(context.Background())
				var ok bool
				if err := c.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", int32(p.pid.Load())).Scan(&ok); err != nil || !ok {
					t.Fatalf("terminate the listener: %v %v", ok, err)
				}
			}}
		}})
	}
	if u := os.Getenv(redisEnv); u != "" {
		out = append(out, backend{name: "redis", newNode: func(t *testing.T, channel string) node {
			opt, err := redis.ParseURL(u)
			if err != nil {
				t.Fatal(err)
			}
			opt.ClientName = "cachebus-test-" + ids.Random(8)
			rc := redis.NewClient(opt)
			r := NewRedis(rc, channel, nil)
			t.Cleanup(func() { _ = r.Close(); _ = rc.Close() })
			waitUp(t, r.WaitLive)
			return node{bus: r, cut: func(t *testing.T) {
				// Only this node's subscription: CLIENT KILL by id.
				list, err := rc.ClientList(context.Background()).Result()
				if err != nil {
					t.Fatal(err)
				}
				killed := 0
				sc := bufio.NewScanner(strings.NewReader(list))
				for sc.Scan() {
					line := sc.Text()
					if !strings.Contains(line, " name="+opt.ClientName+" ") || strings.Contains(line, " sub=0 ") {
						continue
					}
					id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
					if err := rc.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err(); err != nil {
						t.Fatal(err)
					}
					killed++
				}
				if killed != 1 {
					t.Fatalf("killed %d subscriptions, want 1:\n%s", killed, list)
				}
			}}
		}})
	}
	return out
}

func waitUp(t *testing.T, wait func(context.Context) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !wait(ctx) {
		t.Fatal("the subscription never came up")
	}
}

// waitFor blocks until cond holds (the test's own timeout bounds it).
func waitFor(cond func() bool) {
	for !cond() {
		time.Sleep(2 * time.Millisecond)
	}
}

// seen subscribes to topic on b and returns a channel of the keys delivered.
func seen(b Bus, topic string) <-chan string {
	ch := make(chan string, 64)
	b.Subscribe(topic, func(k string) { ch <- k })
	return ch
}

func TestCache(t *testing.T) {
	bus := NewLocal()
	tests := []struct {
		name string
		do   func(c *Cache[string])
		want map[string]bool // key → kept
	}{
		{"ok/put-get", func(c *Cache[string]) { c.Put(c.Ticket(), "a", "A") }, map[string]bool{"a": true}},
		{"ok/invalidate-key", func(c *Cache[string]) {
			c.Put(c.Ticket(), "a", "A")
			c.Put(c.Ticket(), "b", "B")
			_ = bus.Publish(context.Background(), "t", "a")
		}, map[string]bool{"a": false, "b": true}},
		{"ok/invalidate-tag", func(c *Cache[string]) {
			c.Put(c.Ticket(), "a", "A", "req:1", "client:x")
			c.Put(c.Ticket(), "b", "B", "req:2", "client:x")
			c.Put(c.Ticket(), "c", "C", "req:3", "client:y")
			_ = bus.Publish(context.Background(), "t", "client:x")
		}, map[string]bool{"a": false, "b": false, "c": true}},
		{"ok/all-keys", func(c *Cache[string]) {
			c.Put(c.Ticket(), "a", "A")
			_ = bus.Publish(context.Background(), "t", AllKeys)
		}, map[string]bool{"a": false}},
		{"fail/stale-ticket-not-kept", func(c *Cache[string]) {
			tk := c.Ticket()
			_ = bus.Publish(context.Background(), "t", "other")
			c.Put(tk, "a", "A")
		}, map[string]bool{"a": false}},
		{"ok/bounded", func(c *Cache[string]) {
			for _, k := range []string{"a", "b", "c", "d"} {
				c.Put(c.Ticket(), k, k)
			}
		}, nil},
		{"ok/other-topic-ignored", func(c *Cache[string]) {
			c.Put(c.Ticket(), "a", "A")
			_ = bus.Publish(context.Background(), "other", "a")
		}, map[string]bool{"a": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCache[string](NewLocal(), "t", time.Minute, 3)
			bus = c.bus.(*Local)
			tc.do(c)
			for k, kept := range tc.want {
				if _, ok := c.Get(k); ok != kept {
					t.Errorf("Get(%q) found = %v, want %v", k, ok, kept)
				}
			}
			if c.Len() > 3 {
				t.Errorf("Len = %d, more than the bound 3", c.Len())
			}
		})
	}
	t.Run("ok/ttl", func(t *testing.T) {
		c := NewCache[string](NewLocal(), "t", time.Minute, 3)
		now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
		c.now = func() time.Time { return now }
		c.Put(c.Ticket(), "a", "A")
		now = now.Add(time.Minute)
		if _, ok := c.Get("a"); ok {
			t.Fatal("an expired entry was served")
		}
	})
}

// TestBus runs the cross-node contract on PostgreSQL and Redis.
func TestBus(t *testing.T) {
	bs := backends(t)
	if len(bs) == 0 {
		t.Skip("needs " + postgresEnv + " or " + redisEnv)
	}
	for _, be := range bs {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			channel := "bbtest_" + strings.ToLower(ids.Random(8))
			a, b := be.newNode(t, channel), be.newNode(t, channel)
			ca := NewCache[string](a.bus, "tok", time.Minute, 100)
			cb := NewCache[string](b.bus, "tok", time.Minute, 100)
			onB := seen(b.bus, "tok")

			t.Run("ok/publish-reaches-every-node", func(t *testing.T) {
				ca.Put(ca.Ticket(), "k1", "v")
				cb.Put(cb.Ticket(), "k1", "v")
				cb.Put(cb.Ticket(), "k2", "v")
				if err := a.bus.Publish(ctx, "tok", "k1"); err != nil {
					t.Fatal(err)
				}
				// Publish returned: every node subscribed has applied it.
				if _, ok := ca.Get("k1"); ok {
					t.Fatal("node A still serves k1 after its own Publish returned")
				}
				if _, ok := cb.Get("k1"); ok {
					t.Fatal("node B still serves k1 after node A's Publish returned")
				}
				select {
				case k := <-onB:
					if k != "k1" {
						t.Fatalf("node B got %q, want k1", k)
					}
				default:
					t.Fatal("node B's subscriber was not called before node A's Publish returned")
				}
				if _, ok := cb.Get("k2"); !ok {
					t.Fatal("node B dropped k2, which was not invalidated")
				}
			})
			t.Run("fail/subscription-lost-cache-bypassed", func(t *testing.T) {
				cb.Put(cb.Ticket(), "k3", "v")
				tk := cb.Ticket()
				b.cut(t)
				waitFor(func() bool { return !b.bus.Live() })
				if _, ok := cb.Get("k3"); ok {
					t.Fatal("node B served k3 while its subscription was down")
				}
				cb.Put(tk, "k4", "v")
				cb.Put(cb.Ticket(), "k5", "v")
				if cb.Len() != 0 {
					t.Fatalf("node B kept %d entries while down, want 0", cb.Len())
				}
				// Published while B is down (or reconnecting): B must not
				// serve k3 afterwards either. A may not get B's ack (it
				// may count B's dying session): unconfirmed is an answer.
				if err := a.bus.Publish(ctx, "tok", "k3"); err != nil && !errors.Is(err, ErrUnconfirmed) {
					t.Fatal(err)
				}
				waitFor(b.bus.Live)
				if _, ok := cb.Get("k3"); ok {
					t.Fatal("node B serves an entry from before its subscription was lost")
				}
				// The stale ticket from before the loss stays refused.
				cb.Put(tk, "k6", "v")
				if _, ok := cb.Get("k6"); ok {
					t.Fatal("a lookup started before the loss was kept")
				}
				cb.Put(cb.Ticket(), "k7", "v")
				if _, ok := cb.Get("k7"); !ok {
					t.Fatal("node B does not cache again after reconnecting")
				}
			})
			t.Run("fail/newline-refused", func(t *testing.T) {
				if err := a.bus.Publish(ctx, "tok", "a\nb"); err == nil || errors.Is(err, ErrUnconfirmed) {
					t.Fatalf("err = %v, want the newline refusal", err)
				}
			})
		})
	}
}
