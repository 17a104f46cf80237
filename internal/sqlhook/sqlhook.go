// Package sqlhook wraps a database/sql driver so that a Hook sees every call
// that reaches the database: prepares, BEGINs, COMMITs and ROLLBACKs, and
// statements run directly or through a prepared statement. It is the one
// driver wrapper of the code base: the SQL spans of internal/telemetry and
// the round-trip counts of cmd/bankbridge's tests are hooks.
package sqlhook

import (
	"context"
	"database/sql/driver"
	"fmt"
)

// Op is the kind of call a Hook sees.
type Op string

// The calls a Hook sees.
const (
	OpPrepare  Op = "prepare"
	OpBegin    Op = "begin"
	OpCommit   Op = "commit"
	OpRollback Op = "rollback"
	OpExec     Op = "exec"
	OpQuery    Op = "query"
)

// Hook is told of a call before it is made, with the call's context (for
// OpCommit and OpRollback: the context the transaction began with) and its
// statement (empty for OpBegin, OpCommit, OpRollback); it returns the
// context to make the call with and a function (nil: none) called after it
// with its error. A statement the driver declines to run directly comes
// back with driver.ErrSkip (database/sql then prepares and runs it, which
// the hook sees too).
type Hook func(ctx context.Context, op Op, query string) (context.Context, func(err error))

// Wrap returns base with hook called around every call.
func Wrap(base driver.Driver, hook Hook) driver.Driver { return wrapped{d: base, hook: hook} }

type wrapped struct {
	d    driver.Driver
	hook Hook
}

func (d wrapped) Open(name string) (driver.Conn, error) {
	c, err := d.d.Open(name)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, hook: d.hook}, nil
}

// around runs call between the hook's before and after.
func around[T any](ctx context.Context, h Hook, op Op, q string, call func(ctx context.Context) (T, error)) (T, error) {
	ctx, after := h(ctx, op, q)
	v, err := call(ctx)
	if after != nil {
		after(err)
	}
	return v, err
}

type conn struct {
	c    driver.Conn
	hook Hook
}

func (c *conn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}

func (c *conn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := around(ctx, c.hook, OpPrepare, q, func(ctx context.Context) (driver.Stmt, error) {
		if pc, ok := c.c.(driver.ConnPrepareContext); ok {
			return pc.PrepareContext(ctx, q)
		}
		return c.c.Prepare(q)
	})
	if err != nil {
		return nil, err
	}
	return &stmt{s: st, conn: c, q: q}, nil
}

func (c *conn) Close() error { return c.c.Close() }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	t, err := around(ctx, c.hook, OpBegin, "", func(ctx context.Context) (driver.Tx, error) {
		if bc, ok := c.c.(driver.ConnBeginTx); ok {
			return bc.BeginTx(ctx, opts)
		}
		//lint:ignore SA1019 the driver has no BeginTx
		return c.c.Begin()
	})
	if err != nil {
		return nil, err
	}
	return &tx{t: t, ctx: ctx, hook: c.hook}, nil
}

func (c *conn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	ec, ok := c.c.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	return around(ctx, c.hook, OpExec, q, func(ctx context.Context) (driver.Result, error) { return ec.ExecContext(ctx, q, args) })
}

func (c *conn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := c.c.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	return around(ctx, c.hook, OpQuery, q, func(ctx context.Context) (driver.Rows, error) { return qc.QueryContext(ctx, q, args) })
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.c.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.c.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.c.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if v, ok := c.c.(driver.NamedValueChecker); ok {
		return v.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type tx struct {
	t    driver.Tx
	ctx  context.Context
	hook Hook
}

func (t *tx) Commit() error {
	_, err := around(t.ctx, t.hook, OpCommit, "", func(context.Context) (struct{}, error) { return struct{}{}, t.t.Commit() })
	return err
}

func (t *tx) Rollback() error {
	_, err := around(t.ctx, t.hook, OpRollback, "", func(context.Context) (struct{}, error) { return struct{}{}, t.t.Rollback() })
	return err
}

type stmt struct {
	s    driver.Stmt
	conn *conn
	q    string
}

func (s *stmt) Close() error  { return s.s.Close() }
func (s *stmt) NumInput() int { return s.s.NumInput() }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return around(context.Background(), s.conn.hook, OpExec, s.q, func(context.Context) (driver.Result, error) {
		//lint:ignore SA1019 the wrapped driver's own fallback
		return s.s.Exec(args)
	})
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return around(context.Background(), s.conn.hook, OpQuery, s.q, func(context.Context) (driver.Rows, error) {
		//lint:ignore SA1019 the wrapped driver's own fallback
		return s.s.Query(args)
	})
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return around(ctx, s.conn.hook, OpExec, s.q, func(ctx context.Context) (driver.Result, error) {
		if ec, ok := s.s.(driver.StmtExecContext); ok {
			return ec.ExecContext(ctx, args)
		}
		vals, err := plainValues(args)
		if err != nil {
			return nil, err
		}
		//lint:ignore SA1019 the driver has no ExecContext
		return s.s.Exec(vals)
	})
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return around(ctx, s.conn.hook, OpQuery, s.q, func(ctx context.Context) (driver.Rows, error) {
		if qc, ok := s.s.(driver.StmtQueryContext); ok {
			return qc.QueryContext(ctx, args)
		}
		vals, err := plainValues(args)
		if err != nil {
			return nil, err
		}
		//lint:ignore SA1019 the driver has no QueryContext
		return s.s.Query(vals)
	})
}

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if v, ok := s.s.(driver.NamedValueChecker); ok {
		return v.CheckNamedValue(nv)
	}
	return s.conn.CheckNamedValue(nv)
}

func plainValues(args []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, fmt.Errorf("sqlhook: named argument %q unsupported", a.Name)
		}
		out[i] = a.Value
	}
	return out, nil
}
