package cachebus

import (
	"sync"
	"time"
)

// Cache is a bounded per-node cache of values by key, invalidated through a
// Bus topic: a published key drops the entry under that key and every entry
// tagged with it; AllKeys drops everything. Entries also expire after the
// TTL (a safety net). It serves nothing while the bus is down.
//
// A lookup that missed takes a Ticket before reading the database and puts
// its answer with it: the answer is kept only if no invalidation, flush or
// loss of the subscription happened in between (it may be stale otherwise).
type Cache[V any] struct {
	bus Bus
	ttl time.Duration
	max int
	now func() time.Time

	mu   sync.Mutex
	gen  uint64
	m    map[string]*entry[V]
	tags map[string]map[string]struct{}
}

type entry[V any] struct {
	v       V
	expires time.Time
	tags    []string
}

// Ticket is a Cache's state when a lookup started (see Cache.Put).
type Ticket uint64

// NewCache returns a cache of at most max entries living at most ttl,
// invalidated by topic on bus. A nil bus, ttl ≤ 0 or max ≤ 0 makes a cache
// that never keeps anything.
func NewCache[V any](bus Bus, topic string, ttl time.Duration, max int) *Cache[V] {
	c := &Cache[V]{bus: bus, ttl: ttl, max: max, now: time.Now, m: map[string]*entry[V]{}, tags: map[string]map[string]struct{}{}}
	if bus != nil {
		bus.Subscribe(topic, c.Invalidate)
	}
	return c
}

func (c *Cache[V]) enabled() bool { return c != nil && c.bus != nil && c.ttl > 0 && c.max > 0 }

// Get returns the live entry under key, if the bus is live.
func (c *Cache[V]) Get(key string) (V, bool) {
	var zero V
	if !c.enabled() || !c.bus.Live() {
		return zero, false
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return zero, false
	}
	if !now.Before(e.expires) {
		c.removeLocked(key, e)
		return zero, false
	}
	return e.v, true
}

// Ticket is taken before a lookup whose answer will be Put.
func (c *Cache[V]) Ticket() Ticket {
	if !c.enabled() {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return Ticket(c.gen)
}

// Put keeps v under key (and tags) unless an invalidation or a loss of the
// subscription came since t was taken, or the bus is down. A full cache
// drops an arbitrary entry first.
func (c *Cache[V]) Put(t Ticket, key string, v V, tags ...string) {
	if !c.enabled() || !c.bus.Live() {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if uint64(t) != c.gen || !c.bus.Live() {
		return
	}
	if old, ok := c.m[key]; ok {
		c.removeLocked(key, old)
	}
	for len(c.m) >= c.max {
		for k, e := range c.m {
			c.removeLocked(k, e)
			break
		}
	}
	c.m[key] = &entry[V]{v: v, expires: now.Add(c.ttl), tags: tags}
	for _, tag := range tags {
		s := c.tags[tag]
		if s == nil {
			s = map[string]struct{}{}
			c.tags[tag] = s
		}
		s[key] = struct{}{}
	}
}

// Invalidate drops the entry under key and every entry tagged key (all of
// them for AllKeys). It is the cache's bus subscription; call it directly
// only for this node's own changes that need no publishing.
func (c *Cache[V]) Invalidate(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if key == AllKeys {
		clear(c.m)
		clear(c.tags)
		return
	}
	if e, ok := c.m[key]; ok {
		c.removeLocked(key, e)
	}
	for k := range c.tags[key] {
		if e, ok := c.m[k]; ok {
			c.removeLocked(k, e)
		}
	}
	delete(c.tags, key)
}

// Len is the number of entries kept (expired ones included until dropped).
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *Cache[V]) removeLocked(key string, e *entry[V]) {
	delete(c.m, key)
	for _, tag := range e.tags {
		if s := c.tags[tag]; s != nil {
			delete(s, key)
			if len(s) == 0 {
				delete(c.tags, tag)
			}
		}
	}
}
