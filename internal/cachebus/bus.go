// Package cachebus carries cache invalidations between the nodes that share
// one database, so a per-node cache of rows that can be revoked (access
// tokens, consents, customers) never serves a row another node changed.
//
// A Bus has one subscription per node. Publish(topic, key) reaches every
// node's subscribers of topic, this node's included, and returns once every
// node subscribed has applied it (each node acks what it receives). While a node's subscription is down (Live false) its caches must not
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
	// node's included, and returns once every node subscribed when it was
	// sent has applied it (each confirms). Errors: ErrUnconfirmed when it
	// was sent but not every confirmation came before ctx ended,
	// ConfirmTimeout passed or this node's subscription was lost; otherwise
	// the transport's error (not sent).
	Publish(ctx context.Context, topic, key string) error
	// Subscribe calls fn with every key published under topic, and with
	// AllKeys whenever the subscription is re-established. fn must not
	// block nor publish.
	Subscribe(topic string, fn func(key string))
	// Live reports whether this node's subscription is up: caches serve
	// only while it is.
	Live() bool
}

// ErrUnconfirmed is returned by Publish when the message was sent but not
// every node confirmed it in time.
var ErrUnconfirmed = errors.New("cachebus: invalidation sent but not confirmed")

// ConfirmTimeout bounds how long Publish waits for its message to come back.
const ConfirmTimeout = 5 * time.Second

// hub is what every implementation shares: subscribers, liveness and the
// publishers waiting for their messages to be confirmed.
//
// Confirmation: every node that receives another node's invalidation
// applies it, then answers with an ack on the same channel; the publisher
// learns from the server how many subscriptions the message reached
// (Redis: PUBLISH's answer; PostgreSQL: the listening sessions, counted by
// application name in the NOTIFY statement) and waits for its own echo and
// an ack from each of the others. So when Publish returns, every node
// subscribed at that moment has dropped the key.
type hub struct {
	origin string
	seq    atomic.Uint64
	live   atomic.Bool
	// sendAck publishes an ack payload (nil: none are sent, as on Local).
	sendAck func(payload string)

	mu      sync.RWMutex
	subs    map[string][]func(string)
	waiting map[string]*waiter
}

// waiter is a Publish waiting for confirmations: need is the number of
// subscriptions the message reached (-1 until the server said), got the
// confirmations so far (its own echo and the others' acks).
type waiter struct {
	need, got int
	ok        bool
	done      chan struct{}
	closed    bool
}

func (w *waiter) check() {
	if !w.closed && w.need >= 0 && w.got >= w.need {
		w.ok, w.closed = true, true
		close(w.done)
	}
}

func newHub() *hub {
	return &hub{origin: ids.New("node"), subs: map[string][]func(string){}, waiting: map[string]*waiter{}}
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
// publishers waiting for confirmations stop waiting (unconfirmed).
func (h *hub) down() {
	if !h.live.Swap(false) {
		return
	}
	h.flushAll()
	h.mu.Lock()
	for id, w := range h.waiting {
		if !w.closed {
			w.closed = true
			close(w.done)
		}
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

// ackPrefix starts an ack payload: "ack\n" + message id + "\n" + acker.
const ackPrefix = "ack\n"

// encode spells an invalidation for the wire: id, topic, key (ids, topics
// and keys hold no newline).
func (h *hub) encode(topic, key string) (id, payload string) {
	id = h.origin + "." + strconv.FormatUint(h.seq.Add(1), 10)
	return id, id + "\n" + topic + "\n" + key
}

// mine reports whether message id was published by this node.
func (h *hub) mine(id string) bool { return strings.HasPrefix(id, h.origin+".") }

// confirm counts one confirmation of this node's message id.
func (h *hub) confirm(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w, ok := h.waiting[id]; ok {
		w.got++
		w.check()
	}
}

// received handles one payload from the subscription.
func (h *hub) received(payload string) {
	if rest, ok := strings.CutPrefix(payload, ackPrefix); ok {
		id, _, _ := strings.Cut(rest, "\n")
		if h.mine(id) {
			h.confirm(id)
		}
		return
	}
	id, rest, ok1 := strings.Cut(payload, "\n")
	topic, key, ok2 := strings.Cut(rest, "\n")
	if !ok1 || !ok2 {
		return
	}
	h.deliver(topic, key)
	switch {
	case h.mine(id):
		h.confirm(id)
	case h.sendAck != nil:
		go h.sendAck(ackPrefix + id + "\n" + h.origin)
	}
}

// publish sends (topic, key) with send, which returns how many
// subscriptions the message reached, and waits for as many confirmations
// (see Bus.Publish and the hub's comment).
func (h *hub) publish(ctx context.Context, topic, key string, send func(ctx context.Context, payload string) (int, error)) error {
	if strings.ContainsRune(topic, '\n') || strings.ContainsRune(key, '\n') {
		return errors.New("cachebus: topic and key must not hold a newline")
	}
	id, payload := h.encode(topic, key)
	w := &waiter{need: -1, done: make(chan struct{})}
	h.mu.Lock()
	h.waiting[id] = w
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.waiting, id)
		h.mu.Unlock()
	}()
	n, err := send(ctx, payload)
	if err != nil {
		return err
	}
	if n < 1 && h.Live() {
		n = 1 // at least this node's own subscription (the count may not see it)
	}
	h.mu.Lock()
	if !w.closed {
		w.need = n
		w.check()
	}
	h.mu.Unlock()
	t := time.NewTimer(ConfirmTimeout)
	defer t.Stop()
	select {
	case <-w.done:
		h.mu.Lock()
		ok := w.ok
		h.mu.Unlock()
		if ok {
			return nil
		}
	case <-ctx.Done():
	case <-t.C:
	}
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
