package telemetry

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the SQL spans.
const tracerName = "github.com/bankbridge/bankbridge/internal/telemetry"

var (
	tracedMu      sync.Mutex
	tracedDrivers = map[string]string{}
)

// TracingDriver registers (once per base) a database/sql driver that wraps
// the driver registered as base and returns its name. Every statement run
// with a context that carries a recording span (a traced request) becomes a
// client span under it, from that span's own tracer provider: the query
// text (placeholders, never the arguments) and the engine as attributes.
// Statements outside a traced request (background workers, migrations)
// make no span, so tracing them costs a context lookup.
func TracingDriver(base, system string) (string, error) {
	tracedMu.Lock()
	defer tracedMu.Unlock()
	if name, ok := tracedDrivers[base]; ok {
		return name, nil
	}
	db, err := sql.Open(base, "")
	if err != nil {
		return "", fmt.Errorf("telemetry: no database/sql driver %q: %w", base, err)
	}
	d := db.Driver()
	_ = db.Close()
	name := "bankbridge-traced-" + base
	sql.Register(name, tracingDriver{d: d, system: system})
	tracedDrivers[base] = name
	return name, nil
}

type tracingDriver struct {
	d      driver.Driver
	system string
}

func (d tracingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.d.Open(name)
	if err != nil {
		return nil, err
	}
	return &tracingConn{c: c, system: d.system}, nil
}

// startSQL starts a client span for q when ctx is in a recording span.
func startSQL(ctx context.Context, system, q string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, nil
	}
	op, text := operation(q), q
	if len(text) > 2000 {
		text = text[:2000]
	}
	return parent.TracerProvider().Tracer(tracerName).Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", system), attribute.String("db.operation.name", op),
			attribute.String("db.query.text", text)))
}

// endSQL ends span (nil: none), recording err unless it is driver.ErrSkip.
func endSQL(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil && !errors.Is(err, driver.ErrSkip) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// operation is the statement's first keyword (SELECT, INSERT, WITH, …).
func operation(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.IndexAny(q, " \t\n("); i > 0 {
		q = q[:i]
	}
	if q == "" || len(q) > 16 {
		return "SQL"
	}
	return strings.ToUpper(q)
}

type tracingConn struct {
	c      driver.Conn
	system string
}

func (c *tracingConn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}

func (c *tracingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	var (
		st  driver.Stmt
		err error
	)
	if pc, ok := c.c.(driver.ConnPrepareContext); ok {
		st, err = pc.PrepareContext(ctx, q)
	} else {
		st, err = c.c.Prepare(q)
	}
	if err != nil {
		return nil, err
	}
	return &tracingStmt{s: st, conn: c, q: q}, nil
}

func (c *tracingConn) Close() error { return c.c.Close() }

func (c *tracingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *tracingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if bc, ok := c.c.(driver.ConnBeginTx); ok {
		return bc.BeginTx(ctx, opts)
	}
	//lint:ignore SA1019 the driver has no BeginTx
	return c.c.Begin()
}

func (c *tracingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	ec, ok := c.c.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	ctx, span := startSQL(ctx, c.system, q)
	r, err := ec.ExecContext(ctx, q, args)
	endSQL(span, err)
	return r, err
}

func (c *tracingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := c.c.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	ctx, span := startSQL(ctx, c.system, q)
	r, err := qc.QueryContext(ctx, q, args)
	endSQL(span, err)
	return r, err
}

func (c *tracingConn) Ping(ctx context.Context) error {
	if p, ok := c.c.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *tracingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.c.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *tracingConn) IsValid() bool {
	if v, ok := c.c.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *tracingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if v, ok := c.c.(driver.NamedValueChecker); ok {
		return v.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type tracingStmt struct {
	s    driver.Stmt
	conn *tracingConn
	q    string
}

func (s *tracingStmt) Close() error  { return s.s.Close() }
func (s *tracingStmt) NumInput() int { return s.s.NumInput() }

func (s *tracingStmt) Exec(args []driver.Value) (driver.Result, error) {
	//lint:ignore SA1019 the wrapped driver's own fallback
	return s.s.Exec(args)
}

func (s *tracingStmt) Query(args []driver.Value) (driver.Rows, error) {
	//lint:ignore SA1019 the wrapped driver's own fallback
	return s.s.Query(args)
}

func (s *tracingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	ctx, span := startSQL(ctx, s.conn.system, s.q)
	var (
		r   driver.Result
		err error
	)
	if ec, ok := s.s.(driver.StmtExecContext); ok {
		r, err = ec.ExecContext(ctx, args)
	} else {
		var vals []driver.Value
		if vals, err = plainValues(args); err == nil {
			//lint:ignore SA1019 the driver has no ExecContext
			r, err = s.s.Exec(vals)
		}
	}
	endSQL(span, err)
	return r, err
}

func (s *tracingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	ctx, span := startSQL(ctx, s.conn.system, s.q)
	var (
		r   driver.Rows
		err error
	)
	if qc, ok := s.s.(driver.StmtQueryContext); ok {
		r, err = qc.QueryContext(ctx, args)
	} else {
		var vals []driver.Value
		if vals, err = plainValues(args); err == nil {
			//lint:ignore SA1019 the driver has no QueryContext
			r, err = s.s.Query(vals)
		}
	}
	endSQL(span, err)
	return r, err
}

func (s *tracingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if v, ok := s.s.(driver.NamedValueChecker); ok {
		return v.CheckNamedValue(nv)
	}
	return s.conn.CheckNamedValue(nv)
}

func plainValues(args []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, fmt.Errorf("telemetry: named argument %q unsupported", a.Name)
		}
		out[i] = a.Value
	}
	return out, nil
}
