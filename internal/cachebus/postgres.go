package cachebus

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresChannel is the default channel of NewPostgres.
const PostgresChannel = "bankbridge_cache"

// Postgres is the Bus of nodes sharing a PostgreSQL database: LISTEN on a
// connection of its own, NOTIFY (pg_notify) on a second one. PostgreSQL sends
// a notification to every session listening when it is sent, so once a
// node's own listener has it back every other node's listener was sent it.
// A lost listener marks the bus down (caches bypass) and is re-established
// every RetryEvery; then every cache is flushed.
type Postgres struct {
	h       *hub
	url     string
	channel string
	log     *slog.Logger
	// pid is the listening session's backend (for tests that cut it).
	pid  atomic.Uint32
	stop context.CancelFunc
	done chan struct{}

	mu     sync.Mutex // guards notify
	notify *pgx.Conn
}

var _ Bus = (*Postgres)(nil)

// RetryEvery is how often a lost subscription is retried.
const RetryEvery = 500 * time.Millisecond

// NewPostgres starts listening on channel ("" is PostgresChannel, a plain
// lower-case identifier) of the database at url (a PostgreSQL URL or DSN)
// until Close. The bus is not live until the first LISTEN succeeds
// (WaitLive waits for it).
func NewPostgres(url, channel string, log *slog.Logger) *Postgres {
	if channel == "" {
		channel = PostgresChannel
	}
	if log == nil {
		log = slog.Default()
	}
	ctx, stop := context.WithCancel(context.Background())
	p := &Postgres{h: newHub(), url: url, channel: channel, log: log, stop: stop, done: make(chan struct{})}
	p.h.sendAck = p.ack
	go p.listen(ctx)
	return p
}

// Publish implements Bus.
func (p *Postgres) Publish(ctx context.Context, topic, key string) error {
	return p.h.publish(ctx, topic, key, p.send)
}

// appName is the application_name of the listening sessions, by which
// send counts them.
func (p *Postgres) appName() string { return "bankbridge-cachebus:" + p.channel }

// Subscribe implements Bus.
func (p *Postgres) Subscribe(topic string, fn func(key string)) { p.h.Subscribe(topic, fn) }

// Live implements Bus.
func (p *Postgres) Live() bool { return p.h.Live() }

// WaitLive waits until the subscription is up or ctx ends; it reports
// whether it is up.
func (p *Postgres) WaitLive(ctx context.Context) bool { return waitLive(ctx, p.h) }

// Close stops listening; the bus is then down for good.
func (p *Postgres) Close() error {
	p.stop()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.notify != nil {
		err := p.notify.Close(context.Background())
		p.notify = nil
		return err
	}
	return nil
}

// send NOTIFYs payload on the publishing connection (opened on first use,
// dropped after an error so the next send reconnects) and returns how many
// sessions listen on the channel (the nodes that will confirm it).
func (p *Postgres) send(ctx context.Context, payload string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.notify == nil || p.notify.IsClosed() {
		c, err := pgx.Connect(ctx, p.url)
		if err != nil {
			return 0, err
		}
		p.notify = c
	}
	var n int
	err := p.notify.QueryRow(ctx, `SELECT n FROM pg_notify($1, $2),
		(SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $3 AND datname = current_database()) AS l`,
		p.channel, payload, p.appName()).Scan(&n)
	if err != nil {
		_ = p.notify.Close(context.Background())
		p.notify = nil
		return 0, err
	}
	return n, nil
}

// ack sends an ack (best effort: the publisher times out without it).
func (p *Postgres) ack(payload string) {
	ctx, cancel := context.WithTimeout(context.Background(), ConfirmTimeout)
	defer cancel()
	if _, err := p.send(ctx, payload); err != nil {
		p.log.Warn("cachebus: ack not sent", "err", err)
	}
}

// listen keeps a LISTEN connection up until ctx ends.
func (p *Postgres) listen(ctx context.Context) {
	defer close(p.done)
	defer p.h.down()
	for ctx.Err() == nil {
		err := p.listenOnce(ctx)
		p.h.down()
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("cachebus: PostgreSQL LISTEN connection lost; caches bypassed until it is back", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(RetryEvery):
		}
	}
}

func (p *Postgres) listenOnce(ctx context.Context) error {
	c, err := pgx.Connect(ctx, p.url)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{p.channel}.Sanitize()); err != nil {
		return err
	}
	// Named only once it listens: publishers count the sessions by name.
	if _, err := c.Exec(ctx, "SELECT set_config('application_name', $1, false)", p.appName()); err != nil {
		return err
	}
	p.pid.Store(c.PgConn().PID())
	p.h.up()
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		p.h.received(n.Payload)
	}
}

// waitLive polls h until it is live or ctx ends.
func waitLive(ctx context.Context, h *hub) bool {
	for !h.Live() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	return true
}
