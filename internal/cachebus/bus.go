// Package cachebus carries cache invalidations between the nodes that share
// one database, so a per-node cache of rows that can be revoked (access
// tokens, consents, customers) never serves a row another node changed.
//
// A Bus has one subscription per node. Publish(topic, key) reaches every
// node's subscribers of topic, this node's included, and returns once this
// node's own subscription has delivered it: on PostgreSQL and Redis the
// message went through the server, which sends it to every listening node at
// once. While a node's subscription is down (Live false) its caches must not
// serve; when it is back every subscriber is told to flush (key AllKeys),
// since invalidations sent meanwhile were missed. Cache implements that
// contract; a cache never outlives a missed invalidation.
//
// Implementations: Local (one process; SQLite, where one node owns the
// database file), Postgres (LISTEN/NOTIFY) and Redis (pub/sub).
package cachebus

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bankbridge/bankbridge/internal/ids"
)

// AllKeys is the key that invalidates every entry of a topic; a subscriber
// also receives it when its node's subscription comes back after a loss.
const AllKeys = "*"

// Bus publishes invalidations to every node and delivers them to this
// node's subscribers.
type Bus interface {
	// Publish sends (topic, key) to every node's subscribers of topic, this
	// node's included, and returns once this node's subscription delivered
	// it (at once when this node's subscription is down: its caches do not
	// serve then, and flush when it is back). Errors: ErrUnconfirmed when
	// the message was sent but did not come back before ctx ended or
	// ConfirmTimeout passed; otherwise the transport's error (not sent).
	Publish(ctx context.Context, topic, key string) error
	// Subscribe calls fn with every key published under topic, and with
	// AllKeys whenever the subscription is re-established. fn must not
	// block nor publish.
	Subscribe(topic string, fn func(key string))
	// Live reports whether this node's subscription is up: caches serve
	// only while it is.
	Live() bool
}

// ErrUnconfirmed is returned by Publish when the message was sent but this
// node did not see it come back in time.
var ErrUnconfirmed = errors.New("cachebus: invalidation sent but not confirmed")

// ConfirmTimeout bounds how long Publish waits for its message to come back.
const ConfirmTimeout = 5 * time.Second

// hub is what every implementation shares: subscribers, liveness and the
// publishers waiting for their messages to come back.
type hub struct {
	origin string
	seq    atomic.Uint64
	live   atomic.Bool

	mu      sync.RWMutex
	subs    map[string][]func(string)
	waiting map[string]chan struct{}
}

func newHub() *hub {
	return &hub{origin: ids.New("node"), subs: map[string][]func(string){}, waiting: map[string]chan struct{}{}}
}

// Subscribe implements Bus.
func (h *hub) Subscribe(topic string, fn func(key string)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[topic] = append(h.subs[topic], fn)
}

// Live implements Bus.
func (h *hub) Live() bool { return h.live.Load() }

// deliver calls topic's subscribers with key.
func (h *hub) deliver(topic, key string) {
	h.mu.RLock()
	fns := h.subs[topic]
	h.mu.RUnlock()
	for _, fn := range fns {
		fn(key)
	}
}

// flushAll tells every subscriber to drop everything.
func (h *hub) flushAll() {
	h.mu.RLock()
	var fns []func(string)
	for _, s := range h.subs {
		fns = append(fns, s...)
	}
	h.mu.RUnlock()
	for _, fn := range fns {
		fn(AllKeys)
	}
}

// down marks the subscription lost: caches stop serving at once, and the
// publishers waiting for their messages stop waiting.
func (h *hub) down() {
	if !h.live.Swap(false) {
		return
	}
	h.flushAll()
	h.mu.Lock()
	for id, ch := range h.waiting {
		close(ch)
		delete(h.waiting, id)
	}
	h.mu.Unlock()
}

// up marks the subscription (re-)established: every cache is flushed first
// (what was published while it was down is lost), then caches serve again.
func (h *hub) up() {
	h.flushAll()
	h.live.Store(true)
}

// message is one invalidation on the wire: origin, id, topic, key.
type message struct{ id, topic, key string }

// encode spells m for the wire (ids, topics and keys hold no newline).
func (h *hub) encode(topic, key string) (id, payload string) {
	id = h.origin + "." + strconv.FormatUint(h.seq.Add(1), 10)
	return id, id + "\n" + topic + "\n" + key
}

// received handles one payload from the subscription.
func (h *hub) received(payload string) {
	id, rest, ok1 := strings.Cut(payload, "\n")
	topic, key, ok2 := strings.Cut(rest, "\n")
	if !ok1 || !ok2 {
		return
	}
	h.deliver(topic, key)
	if strings.HasPrefix(id, h.origin+".") {
		h.mu.Lock()
		if ch, ok := h.waiting[id]; ok {
			close(ch)
			delete(h.waiting, id)
		}
		h.mu.Unlock()
	}
}

// publish sends (topic, key) with send and waits for it to come back (see
// Bus.Publish).
func (h *hub) publish(ctx context.Context, topic, key string, send func(ctx context.Context, payload string) error) error {
	if strings.ContainsRune(topic, '\n') || strings.ContainsRune(key, '\n') {
		return errors.New("cachebus: topic and key must not hold a newline")
	}
	id, payload := h.encode(topic, key)
	ch := make(chan struct{})
	h.mu.Lock()
	h.waiting[id] = ch
	h.mu.Unlock()
	forget := func() {
		h.mu.Lock()
		delete(h.waiting, id)
		h.mu.Unlock()
	}
	if err := send(ctx, payload); err != nil {
		forget()
		return err
	}
	if !h.Live() {
		// Our caches are not serving; they flush when the subscription is
		// back. The other nodes got the message.
		forget()
		return nil
	}
	t := time.NewTimer(ConfirmTimeout)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	case <-t.C:
	}
	forget()
	return ErrUnconfirmed
}

// Local is the Bus of one process: Publish delivers synchronously. It is
// the bus of a SQLite deployment, where one node owns the database file.
type Local struct{ h *hub }

var _ Bus = (*Local)(nil)

// NewLocal returns an in-process Bus, always live.
func NewLocal() *Local {
	h := newHub()
	h.live.Store(true)
	return &Local{h: h}
}

// Publish implements Bus.
func (l *Local) Publish(_ context.Context, topic, key string) error {
	l.h.deliver(topic, key)
	return nil
}

// Subscribe implements Bus.
func (l *Local) Subscribe(topic string, fn func(key string)) { l.h.Subscribe(topic, fn) }

// Live implements Bus.
func (l *Local) Live() bool { return true }
