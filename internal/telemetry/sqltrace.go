package telemetry

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/bankbridge/bankbridge/internal/sqlhook"
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
	sql.Register(name, sqlhook.Wrap(d, traceHook(system)))
	tracedDrivers[base] = name
	return name, nil
}

// traceHook makes a client span of every statement run (directly or
// prepared) in a traced request.
func traceHook(system string) sqlhook.Hook {
	return func(ctx context.Context, op sqlhook.Op, q string) (context.Context, func(error)) {
		if op != sqlhook.OpExec && op != sqlhook.OpQuery {
			return ctx, nil
		}
		ctx, span := startSQL(ctx, system, q)
		if span == nil {
			return ctx, nil
		}
		return ctx, func(err error) { endSQL(span, err) }
	}
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
