package db

import (
	"context"
	"fmt"
	"time"
)

// SQLite has one writer at a time. Left to SQLite, a writer that finds the
// database locked sleeps and tries again (busy_timeout), 1 to 100 ms a try,
// so under contention whoever tries at the right moment wins and the others
// wait long and unfairly: with 8 publishers committing, the webhook
// dispatcher's claims starved and deliveries fell 4–7 s behind (issue 14).
// So a process's SQLite writes queue in Go instead, first come first served
// (a channel's waiting senders are served in order), and reach SQLite when
// the write lock is free. PostgreSQL has row locks and needs none of it.

// writeGateTimeout is how long a write waits for its turn: SQLite's busy
// timeout (the DSN's busy_timeout), after which it fails as SQLite would.
const writeGateTimeout = 10 * time.Second

// writeGateKey marks a context whose write holds d's gate.
type writeGateKey struct{ d *DB }

// Exclusive runs fn as this process's only SQLite writer (on PostgreSQL it
// just runs fn): for a write that is no transaction of Tx's (a single
// UPDATE … RETURNING, say), which would otherwise wait for the write lock in
// SQLite's sleeps. Called with a ctx that holds the turn, it runs fn at
// once. It fails when the turn does not come within SQLite's busy timeout or
// ctx ends first.
func (d *DB) Exclusive(ctx context.Context, fn func(ctx context.Context) error) error {
	if d.gate == nil || ctx.Value(writeGateKey{d}) != nil {
		return fn(ctx)
	}
	t := time.NewTimer(d.gateTimeout)
	defer t.Stop()
	select {
	case d.gate <- struct{}{}:
	case <-t.C:
		return fmt.Errorf("db: database is locked: no turn to write within %s", d.gateTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-d.gate }()
	return fn(context.WithValue(ctx, writeGateKey{d}, true))
}
