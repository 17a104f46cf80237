package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/telemetry"
	"github.com/bankbridge/bankbridge/monitoring"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/webhooks"
)

// platformTelemetry is the platform's metrics and tracing (issue 15).
type platformTelemetry struct {
	// metrics is nil when --metrics-addr is empty.
	metrics *telemetry.Metrics
	// tp is nil when tracing is off.
	tp trace.TracerProvider
	// metricsURL is the metrics listener's http://host:port once serving.
	metricsURL string
	// auth counts the authorization server's requests for the published
	// statistics (monitoring/authstats.go); always on.
	auth *monitoring.AuthRecorder
}

// openTelemetry sets up metrics (when --metrics-addr is set) and tracing
// (Config.TracerProvider, else the OTEL_* environment) before the store
// opens, and returns the database/sql driver the store must open: with
// tracing, a wrapper of the engine's driver that makes the SQL spans.
func (p *Platform) openTelemetry(ctx context.Context) (driverName string, err error) {
	c := p.Config
	driverName = c.DatabaseDriver
	if c.MetricsAddr != "" {
		p.tel.metrics = telemetry.NewMetrics()
	}
	switch {
	case c.TracerProvider != nil:
		p.tel.tp = c.TracerProvider
	case c.Tracing:
		tp, err := telemetry.NewTracerProvider(ctx)
		if err != nil {
			return "", err
		}
		// Libraries that use the global provider join the same traces.
		otel.SetTracerProvider(tp)
		otel.SetTextMapPropagator(telemetry.Propagator())
		p.tel.tp = tp
		p.closers = append(p.closers, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return tp.Shutdown(ctx)
		})
		p.Log.Info("traces exported over OTLP/HTTP (OTEL_* environment)")
	}
	if p.tel.tp == nil {
		return driverName, nil
	}
	base, system := driverName, "sqlite"
	if strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		system = "postgresql"
		if base == "" {
			base = "pgx"
		}
	} else if base == "" {
		base = "sqlite"
	}
	return telemetry.TracingDriver(base, system)
}

// instrumentStore adds the database pool statistics to the metrics.
func (p *Platform) instrumentStore() error {
	if p.tel.metrics == nil {
		return nil
	}
	sqlDB, err := p.DB.DB.DB()
	if err != nil {
		return err
	}
	p.tel.metrics.AddDatabase(sqlDB, string(p.DB.Dialect))
	return nil
}

// instrumentServices adds the webhook queue gauges once the services exist.
func (p *Platform) instrumentServices() {
	if p.tel.metrics != nil && p.Services.Webhooks != nil {
		p.tel.metrics.AddWebhookQueue(p.Services.Webhooks, time.Now)
	}
}

// webhookObserver is what the dispatchers report delivery attempts to (nil:
// metrics off).
func (p *Platform) webhookObserver() webhooks.DeliveryObserver {
	if p.tel.metrics == nil {
		return nil
	}
	return p.tel.metrics
}

// apiOutcomes is what apis reports committed consent and payment outcomes
// to (nil: metrics off).
func (p *Platform) apiOutcomes() apis.Outcomes {
	if p.tel.metrics == nil {
		return nil
	}
	return p.tel.metrics
}

// requestTelemetry is the router's per-request middleware: histogram,
// access log line, span name (see telemetry.Middleware).
func (p *Platform) requestTelemetry() gin.HandlerFunc {
	auth := p.authRecorder()
	return telemetry.Middleware(telemetry.Options{Metrics: p.tel.metrics, Log: p.Log, Caller: requestCaller,
		Observe: func(c *gin.Context, m *telemetry.Metrics, d time.Duration) {
			observeRequest(c, m)
			observeAuthRequest(c, auth, d)
		}})
}

// authRecorder makes the recorder of the authorization server's requests
// and runs its flushes (every AuthStatsFlushInterval, and once at a
// graceful stop) in the background.
func (p *Platform) authRecorder() *monitoring.AuthRecorder {
	if p.tel.auth == nil {
		p.tel.auth = monitoring.NewAuthRecorder(monitoring.NewGormStore(p.DB), p.Log)
		p.bg = append(p.bg, func(ctx context.Context) { p.tel.auth.Run(ctx, monitoring.AuthStatsFlushInterval) })
	}
	return p.tel.auth
}

// authEndpoints are the authorization server's routes counted in the
// published statistics' token_auth family.
var authEndpoints = map[string]string{
	"/par":       monitoring.AuthEndpointPAR,
	"/authorize": monitoring.AuthEndpointAuthorize,
	"/token":     monitoring.AuthEndpointToken,
}

// observeAuthRequest counts a request to the authorization server, in the
// environment of the client it named (oauth.RequestClientOf).
func observeAuthRequest(c *gin.Context, r *monitoring.AuthRecorder, d time.Duration) {
	endpoint, ok := authEndpoints[c.FullPath()]
	if !ok {
		return
	}
	q := monitoring.AuthRequest{At: time.Now(), Endpoint: endpoint, Status: c.Writer.Status(), Latency: d}
	if cl := oauth.RequestClientOf(c); cl != nil {
		q.Environment, q.PartnerID, q.ClientID = cl.Environment, cl.PartnerID, cl.ID
	}
	r.Observe(q)
}

// requestCaller is the partner and app a request was made by: the token
// endpoint's authenticated client, or the partner API call's token.
func requestCaller(c *gin.Context) (partnerID, appID string) {
	if o := oauth.TokenOutcomeOf(c); o != nil {
		return o.PartnerID, o.ClientID
	}
	partnerID, appID, _, _ = apis.CallOf(c)
	return partnerID, appID
}

// observeRequest counts what the token endpoint and the partner APIs left
// in the request's context: the token outcome, a quota refusal.
func observeRequest(c *gin.Context, m *telemetry.Metrics) {
	if m == nil {
		return
	}
	if o := oauth.TokenOutcomeOf(c); o != nil {
		m.TokenRequest(c.Request.PostForm.Get("grant_type"), o.Error)
		return
	}
	_, _, product, code := apis.CallOf(c)
	if code == string(problem.CodeRateLimited) || code == string(problem.CodeQuotaExhausted) {
		m.QuotaRefusal(product, code)
	}
}

// traced wraps h in the server span instrumentation when tracing is on.
func (p *Platform) traced(h http.Handler) http.Handler {
	if p.tel.tp == nil {
		return h
	}
	return telemetry.TraceHandler(h, p.tel.tp)
}

// serveMetrics serves /metrics on addr, a listener of its own (the public
// one never serves it), and returns the function that stops it.
func (p *Platform) serveMetrics(addr string, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on --metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", p.tel.metrics.Handler(log))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	p.tel.metricsURL = "http://" + ln.Addr().String()
	log.Info("metrics listening", "addr", ln.Addr().String(), "path", "/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
