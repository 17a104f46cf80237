package cachebus

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisChannel is the default pub/sub channel of NewRedis.
const RedisChannel = "bankbridge:cache"

// redisPing is how long the subscription may stay silent before it is
// pinged (a dead connection is noticed within about twice that).
const redisPing = 10 * time.Second

// Redis is the Bus of nodes sharing a Redis server (when --redis-url is
// configured): PUBLISH and SUBSCRIBE on one channel. Redis sends a message
// to every subscriber when it is published, so once a node's own
// subscription has it back every other node's subscription was sent it. A
// lost subscription marks the bus down (caches bypass); go-redis
// re-subscribes, and once Redis confirms every cache is flushed.
type Redis struct {
	h       *hub
	c       redis.UniversalClient
	channel string
	log     *slog.Logger
	ps      *redis.PubSub
	stop    context.CancelFunc
	done    chan struct{}
}

var _ Bus = (*Redis)(nil)

// NewRedis subscribes to channel ("" is RedisChannel) on c until Close. The
// bus is not live until Redis confirms the subscription (WaitLive).
func NewRedis(c redis.UniversalClient, channel string, log *slog.Logger) *Redis {
	if channel == "" {
		channel = RedisChannel
	}
	if log == nil {
		log = slog.Default()
	}
	ctx, stop := context.WithCancel(context.Background())
	r := &Redis{h: newHub(), c: c, channel: channel, log: log, stop: stop, done: make(chan struct{})}
	r.h.sendAck = r.ack
	r.ps = c.Subscribe(ctx, channel)
	go r.listen(ctx)
	return r
}

// Publish implements Bus.
func (r *Redis) Publish(ctx context.Context, topic, key string) error {
	return r.h.publish(ctx, topic, key, r.send)
}

// send publishes payload and returns how many subscriptions received it
// (PUBLISH's answer: the nodes that will confirm it).
func (r *Redis) send(ctx context.Context, payload string) (int, error) {
	n, err := r.c.Publish(ctx, r.channel, payload).Result()
	return int(n), err
}

// ack sends an ack (best effort: the publisher times out without it).
func (r *Redis) ack(payload string) {
	ctx, cancel := context.WithTimeout(context.Background(), ConfirmTimeout)
	defer cancel()
	if _, err := r.send(ctx, payload); err != nil {
		r.log.Warn("cachebus: ack not sent", "err", err)
	}
}

// Subscribe implements Bus.
func (r *Redis) Subscribe(topic string, fn func(key string)) { r.h.Subscribe(topic, fn) }

// Live implements Bus.
func (r *Redis) Live() bool { return r.h.Live() }

// WaitLive waits until the subscription is up or ctx ends; it reports
// whether it is up.
func (r *Redis) WaitLive(ctx context.Context) bool { return waitLive(ctx, r.h) }

// Close unsubscribes; the bus is then down for good.
func (r *Redis) Close() error {
	r.stop()
	err := r.ps.Close() // unblocks a pending receive
	<-r.done
	return err
}

func (r *Redis) listen(ctx context.Context) {
	defer close(r.done)
	defer r.h.down()
	ps := r.ps
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, redisPing)
		var ne net.Error
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return
		case errors.As(err, &ne) && ne.Timeout():
			// Silent for a while: ask. A dead connection fails the ping
			// or the next receive.
			if err := ps.Ping(ctx); err != nil {
				r.lost(ctx, err)
			}
			continue
		default:
			r.lost(ctx, err)
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == r.channel {
				r.h.up()
			}
		case *redis.Message:
			r.h.received(m.Payload)
		}
	}
}

// lost marks the bus down and waits a little before the next receive
// (which makes go-redis reconnect and re-subscribe).
func (r *Redis) lost(ctx context.Context, err error) {
	if r.h.Live() {
		r.log.Warn("cachebus: Redis subscription lost; caches bypassed until it is back", "err", err)
	}
	r.h.down()
	select {
	case <-ctx.Done():
	case <-time.After(RetryEvery):
	}
}
