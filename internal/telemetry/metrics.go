// Package telemetry is the platform's operational instrumentation: the
// Prometheus registry and its metrics, the per-request middleware (latency
// histogram, access log line, server span name) and the OpenTelemetry
// tracer set-up (OTLP exporter from the standard OTEL_* environment, SQL
// spans from a database/sql driver wrapper).
//
// It imports nothing of the domain packages: what only they know (the
// calling partner and app, the token endpoint's outcome, quota refusals)
// reaches it through the small hooks of Options, which the composition root
// fills.
package telemetry

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names (Prometheus and OpenTelemetry conventions: base units,
// _total counters).
const (
	MetricHTTPDuration         = "http_server_request_duration_seconds"
	MetricTokenRequests        = "bankbridge_oauth_token_requests_total"
	MetricConsentOutcomes      = "bankbridge_consent_outcomes_total"
	MetricPaymentOutcomes      = "bankbridge_payment_outcomes_total"
	MetricQuotaRefusals        = "bankbridge_quota_refusals_total"
	MetricWebhookQueueDepth    = "bankbridge_webhook_queue_depth"
	MetricWebhookOldestPending = "bankbridge_webhook_oldest_pending_age_seconds"
	MetricWebhookDuration      = "bankbridge_webhook_delivery_duration_seconds"
	MetricWebhookFailures      = "bankbridge_webhook_delivery_failures_total"
)

// RouteUnmatched is the route label of a request no route matched (404,
// 405): never the raw path, which would make the label set unbounded.
const RouteUnmatched = "unmatched"

// Token endpoint outcomes (the outcome label of MetricTokenRequests).
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused"
)

// WebhookQueue is what the webhook gauges read at scrape time: one cheap
// query each.
type WebhookQueue interface {
	// PendingDeliveries is the number of deliveries waiting to be made.
	PendingDeliveries(ctx context.Context) (int64, error)
	// OldestPending is when the oldest waiting delivery was queued; ok is
	// false when none waits.
	OldestPending(ctx context.Context) (at time.Time, ok bool, err error)
}

// Metrics is the platform's registry (its own, not the global default) and
// the metrics the platform records. A nil *Metrics records nothing, so
// callers need not check whether metrics are on.
type Metrics struct {
	// Registry holds every metric below plus the Go runtime and process
	// collectors.
	Registry *prometheus.Registry

	http     *prometheus.HistogramVec
	tokens   *prometheus.CounterVec
	consents *prometheus.CounterVec
	payments *prometheus.CounterVec
	quota    *prometheus.CounterVec
	whDur    *prometheus.HistogramVec
	whFail   *prometheus.CounterVec

	mu       sync.RWMutex
	children map[httpKey]prometheus.Observer
}

type httpKey struct {
	route, method string
	code          int
}

// NewMetrics builds the registry with the Go runtime and process collectors
// and the platform's metrics.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), children: map[httpKey]prometheus.Observer{}}
	m.http = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricHTTPDuration,
		Help:    "Duration of HTTP requests served, by route template, method and status code.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}},
		[]string{"route", "method", "code"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricTokenRequests,
		Help: "Token endpoint requests by grant type and outcome (ok, or refused with the OAuth error code)."},
		[]string{"grant_type", "outcome", "error"})
	m.consents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricConsentOutcomes,
		Help: "Consents that reached an outcome: authorised, rejected, revoked or expired."}, []string{"outcome"})
	m.payments = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricPaymentOutcomes,
		Help: "Payments created or moved to a status, by that status."}, []string{"status"})
	m.quota = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricQuotaRefusals,
		Help: "Partner API calls refused for quota (rate limit or monthly volume), by product."}, []string{"product", "reason"})
	m.whDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricWebhookDuration,
		Help:    "Duration of webhook delivery attempts, by outcome (ok or failed).",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20}}, []string{"outcome"})
	m.whFail = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricWebhookFailures,
		Help: "Failed webhook delivery attempts by reason."}, []string{"reason"})
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.http, m.tokens, m.consents, m.payments, m.quota, m.whDur, m.whFail)
	for _, o := range []string{"authorised", "rejected", "revoked", "expired"} {
		m.consents.WithLabelValues(o) // present at 0 from the start
	}
	return m
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{ErrorLog: slogPrinter{log}, Registry: m.Registry})
}

type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	if p.log != nil {
		p.log.Warn("metrics: scrape error", "err", v)
	}
}

// AddDatabase adds the database pool's statistics (database/sql DBStats:
// open, in use, idle, wait count and duration, closed connections) as the
// go_sql_* metrics with db_name set to name.
func (m *Metrics) AddDatabase(db *sql.DB, name string) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// AddWebhookQueue adds the webhook queue gauges, read through q at scrape
// time (bounded to 2 s each).
func (m *Metrics) AddWebhookQueue(q WebhookQueue, now func() time.Time) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(&queueCollector{q: q, now: now,
		depth:  prometheus.NewDesc(MetricWebhookQueueDepth, "Webhook deliveries waiting to be made.", nil, nil),
		oldest: prometheus.NewDesc(MetricWebhookOldestPending, "Age of the oldest waiting webhook delivery (0 when none waits).", nil, nil)})
}

// ObserveHTTP records one served request. route is the matched route
// template (RouteUnmatched when none); method is bounded to the standard
// methods ("_OTHER" for any other, as OpenTelemetry does).
func (m *Metrics) ObserveHTTP(route, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	k := httpKey{route, boundMethod(method), code}
	m.mu.RLock()
	o := m.children[k]
	m.mu.RUnlock()
	if o == nil {
		o = m.http.WithLabelValues(k.route, k.method, strconv.Itoa(code))
		m.mu.Lock()
		m.children[k] = o
		m.mu.Unlock()
	}
	o.Observe(d.Seconds())
}

func boundMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return m
	}
	return "_OTHER"
}

// tokenErrors are the error codes the token endpoint answers (RFC 6749
// §5.2, RFC 9449 §7, RFC 8707): any other is counted as "other", so the
// label set stays bounded whatever a handler writes.
var tokenErrors = map[string]bool{"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true, "invalid_dpop_proof": true,
	"use_dpop_nonce": true, "server_error": true, "temporarily_unavailable": true, "access_denied": true,
	"invalid_target": true, "invalid_authorization_details": true, "request_unauthorized": true}

// tokenGrants are the grant types counted by name; any other is "other".
var tokenGrants = map[string]bool{"authorization_code": true, "client_credentials": true, "refresh_token": true}

// TokenRequest counts one token endpoint request: errorCode empty for a
// token issued (outcome ok), else the OAuth error code it was refused with.
func (m *Metrics) TokenRequest(grantType, errorCode string) {
	if m == nil {
		return
	}
	if !tokenGrants[grantType] {
		grantType = "other"
	}
	outcome := OutcomeOK
	if errorCode != "" {
		outcome = OutcomeRefused
		if !tokenErrors[errorCode] {
			errorCode = "other"
		}
	}
	m.tokens.WithLabelValues(grantType, outcome, errorCode).Inc()
}

// ConsentOutcome counts a consent that was authorised, rejected, revoked or
// expired (any other outcome is ignored).
func (m *Metrics) ConsentOutcome(outcome string) {
	if m == nil {
		return
	}
	switch outcome {
	case "authorised", "rejected", "revoked", "expired":
		m.consents.WithLabelValues(outcome).Inc()
	}
}

// PaymentOutcome counts a payment created in, or moved to, status (one of
// the payment statuses, a bounded set the caller guarantees). Metrics
// implements apis.Outcomes with ConsentOutcome.
func (m *Metrics) PaymentOutcome(status string) {
	if m == nil || status == "" {
		return
	}
	m.payments.WithLabelValues(status).Inc()
}

// QuotaRefusal counts a call refused for quota: reason is the problem code
// (rate_limited, quota_exhausted), product the metered product.
func (m *Metrics) QuotaRefusal(product, reason string) {
	if m == nil {
		return
	}
	m.quota.WithLabelValues(product, reason).Inc()
}

// WebhookDelivery records one delivery attempt: failure is empty when it
// succeeded, else a bounded reason (timeout, connection, http_4xx, …).
func (m *Metrics) WebhookDelivery(d time.Duration, failure string) {
	if m == nil {
		return
	}
	if failure == "" {
		m.whDur.WithLabelValues(OutcomeOK).Observe(d.Seconds())
		return
	}
	m.whDur.WithLabelValues("failed").Observe(d.Seconds())
	m.whFail.WithLabelValues(failure).Inc()
}

// queueCollector reads the webhook queue at scrape time.
type queueCollector struct {
	q             WebhookQueue
	now           func() time.Time
	depth, oldest *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.oldest }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if n, err := c.q.PendingDeliveries(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(c.depth, err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n))
	}
	at, ok, err := c.q.OldestPending(ctx)
	switch {
	case err != nil:
		ch <- prometheus.NewInvalidMetric(c.oldest, err)
	case !ok:
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, 0)
	default:
		age := c.now().Sub(at).Seconds()
		if age < 0 {
			age = 0
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
	}
}
