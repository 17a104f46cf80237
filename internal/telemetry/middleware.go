package telemetry

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/bankbridge/bankbridge/internal/httpx"
)

// Options configures Middleware.
type Options struct {
	// Metrics records the request histogram (nil: metrics off).
	Metrics *Metrics
	// Log receives the access log line (nil: none).
	Log *slog.Logger
	// Caller returns the partner and app a request was made for, when the
	// route knows them (empty strings otherwise); nil: never known.
	Caller func(c *gin.Context) (partnerID, appID string)
	// Observe, when set, is called after each request with its context,
	// Metrics (which may be nil) and latency: the composition root counts
	// there what the domains left in the gin context (token outcomes, quota
	// refusals, the authorization server's requests).
	Observe func(c *gin.Context, m *Metrics, latency time.Duration)
}

// Middleware measures, logs and names each request once, after the chain
// below it has answered:
//
//   - the http_server_request_duration_seconds histogram by route template
//     (RouteUnmatched for a request no route matched), method and status;
//   - one access log line at info ("request"; "request failed" at error,
//     with the errors attached to the context): method, route, status,
//     latency_ms, interaction_id, partner_id and app_id when known, trace_id
//     when the request is traced;
//   - the server span (started by the HTTP server's otelhttp handler) is
//     renamed "METHOD route" and given its http.route attribute.
//
// It replaces gin's logger: there is no other access log.
func Middleware(o Options) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		d := time.Since(start)
		route := c.FullPath()
		matched := route != ""
		if !matched {
			route = RouteUnmatched
		}
		method, status := c.Request.Method, c.Writer.Status()
		o.Metrics.ObserveHTTP(route, method, status, d)
		if o.Observe != nil {
			o.Observe(c, o.Metrics, d)
		}
		ctx := c.Request.Context()
		span := trace.SpanFromContext(ctx)
		if span.IsRecording() {
			if matched {
				span.SetName(method + " " + route)
				span.SetAttributes(attribute.String("http.route", route))
			} else {
				span.SetName(method)
			}
		}
		if o.Log == nil {
			return
		}
		level, msg := slog.LevelInfo, "request"
		if len(c.Errors) > 0 {
			level, msg = slog.LevelError, "request failed"
		}
		if !o.Log.Enabled(ctx, level) {
			return
		}
		attrs := make([]slog.Attr, 0, 10)
		attrs = append(attrs, slog.String("method", method), slog.String("route", route), slog.Int("status", status),
			slog.Float64("latency_ms", float64(d.Microseconds())/1000), slog.String("interaction_id", httpx.InteractionIDOf(c)))
		if o.Caller != nil {
			if partnerID, appID := o.Caller(c); partnerID != "" || appID != "" {
				attrs = append(attrs, slog.String("partner_id", partnerID), slog.String("app_id", appID))
			}
		}
		if sc := span.SpanContext(); sc.HasTraceID() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
		}
		if len(c.Errors) > 0 {
			attrs = append(attrs, slog.String("err", c.Errors.String()))
		}
		o.Log.LogAttrs(ctx, level, msg, attrs...)
	}
}
