package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bankbridge/bankbridge/internal/httpx"
)

func gather(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

// counts maps each series of family name (labels joined) to its count or value.
func counts(mf map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mf[name].GetMetric() {
		switch {
		case m.Histogram != nil:
			out[labels(m)] = float64(m.GetHistogram().GetSampleCount())
		case m.Counter != nil:
			out[labels(m)] = m.GetCounter().GetValue()
		case m.Gauge != nil:
			out[labels(m)] = m.GetGauge().GetValue()
		}
	}
	return out
}

func TestMiddleware(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	var logs bytes.Buffer
	m := NewMetrics()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(httpx.InteractionID(), Middleware(Options{Metrics: m, Log: slog.New(slog.NewJSONHandler(&logs, nil)),
		Caller: func(c *gin.Context) (string, string) { return c.GetString("partner"), c.GetString("app") }}))
	r.GET("/things/:ID", func(c *gin.Context) {
		c.Set("partner", "ptn_1")
		c.Set("app", "app_1")
		c.Status(http.StatusNoContent)
	})
	r.POST("/fail", func(c *gin.Context) {
		c.Error(errors.New("disk on fire"))
		c.Status(http.StatusInternalServerError)
	})
	h := TraceHandler(r, tp)

	cases := []struct {
		name, method, path string
		want               map[string]any
	}{
		{"ok/matched-route-with-caller", http.MethodGet, "/things/thg_123",
			map[string]any{"level": "INFO", "msg": "request", "method": "GET", "route": "/things/:ID", "status": 204,
				"partner_id": "ptn_1", "app_id": "app_1"}},
		{"ok/unmatched", http.MethodGet, "/nowhere/thg_9",
			map[string]any{"level": "INFO", "msg": "request", "method": "GET", "route": RouteUnmatched, "status": 404}},
		{"ok/other-method", "BREW", "/things/thg_1",
			map[string]any{"level": "INFO", "msg": "request", "method": "BREW", "route": RouteUnmatched, "status": 405}},
		{"fail/handler-error", http.MethodPost, "/fail",
			map[string]any{"level": "ERROR", "msg": "request failed", "method": "POST", "route": "/fail", "status": 500,
				"err": "Error #01: disk on fire\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			exp.Reset()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil || strings.Count(logs.String(), "\n") != 1 {
				t.Fatalf("want one JSON line, got %q (%v)", logs.String(), err)
			}
			if l, ok := line["latency_ms"].(float64); !ok || l < 0 {
				t.Fatalf("latency_ms %v", line["latency_ms"])
			}
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			want := map[string]any{"interaction_id": rec.Header().Get(httpx.InteractionHeader),
				"trace_id": spans[0].SpanContext.TraceID().String()}
			for k, v := range tc.want {
				want[k] = v
			}
			delete(line, "time")
			delete(line, "latency_ms")
			if fmt.Sprint(line) != fmt.Sprint(want) {
				t.Fatalf("access log line\n got %v\nwant %v", line, want)
			}
			wantSpan := tc.method + " " + tc.want["route"].(string)
			if tc.want["route"] == RouteUnmatched {
				wantSpan = tc.method
			}
			if spans[0].Name != wantSpan {
				t.Fatalf("span name %q, want %q", spans[0].Name, wantSpan)
			}
		})
	}
	got := counts(gather(t, m), MetricHTTPDuration)
	want := map[string]float64{"code=204,method=GET,route=/things/:ID": 1, "code=404,method=GET,route=unmatched": 1,
		"code=405,method=_OTHER,route=unmatched": 1, "code=500,method=POST,route=/fail": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("histogram series\n got %v\nwant %v", got, want)
	}
}

func TestMiddlewareWithoutTracingOrMetrics(t *testing.T) {
	var logs bytes.Buffer
	r := gin.New()
	r.Use(Middleware(Options{Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))}))
	r.GET("/x", func(c *gin.Context) { c.Status(http.StatusOK) })
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	if logs.Len() != 0 {
		t.Fatalf("access line logged above its level: %s", logs.String())
	}
	logs.Reset()
	r2 := gin.New()
	r2.Use(Middleware(Options{Log: slog.New(slog.NewJSONHandler(&logs, nil))}))
	r2.GET("/x", func(c *gin.Context) { c.Status(http.StatusOK) })
	r2.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	if strings.Contains(logs.String(), "trace_id") || strings.Contains(logs.String(), "partner_id") || !strings.Contains(logs.String(), `"route":"/x"`) {
		t.Fatalf("untraced line: %s", logs.String())
	}
}

func TestDomainCounters(t *testing.T) {
	m := NewMetrics()
	m.TokenRequest("client_credentials", "")
	m.TokenRequest("client_credentials", "invalid_client")
	m.TokenRequest("password", "unsupported_grant_type")
	m.TokenRequest("", "made_up_code")
	m.ConsentOutcome("authorised")
	m.ConsentOutcome("pondered") // not an outcome: ignored
	m.PaymentOutcome("AcceptedSettlementCompleted")
	m.QuotaRefusal("accounts", "rate_limited")
	m.WebhookDelivery(20*time.Millisecond, "")
	m.WebhookDelivery(time.Second, "timeout")
	var nilMetrics *Metrics // metrics off: every call is a no-op
	nilMetrics.TokenRequest("client_credentials", "")
	nilMetrics.ObserveHTTP("/x", "GET", 200, time.Millisecond)
	nilMetrics.WebhookDelivery(time.Second, "timeout")

	mf := gather(t, m)
	for _, tc := range []struct {
		name string
		want map[string]float64
	}{
		{MetricTokenRequests, map[string]float64{"error=,grant_type=client_credentials,outcome=ok": 1,
			"error=invalid_client,grant_type=client_credentials,outcome=refused": 1,
			"error=unsupported_grant_type,grant_type=other,outcome=refused":      1, "error=other,grant_type=other,outcome=refused": 1}},
		{MetricConsentOutcomes, map[string]float64{"outcome=authorised": 1, "outcome=expired": 0, "outcome=rejected": 0, "outcome=revoked": 0}},
		{MetricPaymentOutcomes, map[string]float64{"status=AcceptedSettlementCompleted": 1}},
		{MetricQuotaRefusals, map[string]float64{"product=accounts,reason=rate_limited": 1}},
		{MetricWebhookDuration, map[string]float64{"outcome=ok": 1, "outcome=failed": 1}},
		{MetricWebhookFailures, map[string]float64{"reason=timeout": 1}},
	} {
		if got := counts(mf, tc.name); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s\n got %v\nwant %v", tc.name, got, tc.want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if mf[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

type fakeQueue struct {
	n      int64
	oldest time.Time
	err    error
}

func (q fakeQueue) PendingDeliveries(context.Context) (int64, error) { return q.n, q.err }
func (q fakeQueue) OldestPending(context.Context) (time.Time, bool, error) {
	return q.oldest, !q.oldest.IsZero(), q.err
}

func TestWebhookQueueGauges(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		q           fakeQueue
		depth, age  float64
		wantFailure bool
	}{
		{"ok/waiting", fakeQueue{n: 3, oldest: now.Add(-90 * time.Second)}, 3, 90, false},
		{"ok/empty", fakeQueue{}, 0, 0, false},
		{"fail/query-error", fakeQueue{err: errors.New("db down")}, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics()
			m.AddWebhookQueue(tc.q, func() time.Time { return now })
			rec := httptest.NewRecorder()
			m.Handler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			if tc.wantFailure {
				if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "db down") {
					t.Fatalf("scrape with a failing queue: %d %s", rec.Code, rec.Body.String())
				}
				return
			}
			p := expfmt.NewTextParser(model.UTF8Validation)
			mf, err := p.TextToMetricFamilies(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			if d, a := mf[MetricWebhookQueueDepth].GetMetric()[0].GetGauge().GetValue(), mf[MetricWebhookOldestPending].GetMetric()[0].GetGauge().GetValue(); d != tc.depth || a != tc.age {
				t.Fatalf("depth %v age %v, want %v %v", d, a, tc.depth, tc.age)
			}
		})
	}
}

func TestTracingFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		on      bool
		wantErr string
	}{
		{"ok/nothing-set", nil, false, ""},
		{"ok/exporter-otlp", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, ""},
		{"ok/endpoint-set", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, ""},
		{"ok/traces-endpoint-set", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true, ""},
		{"ok/exporter-none-wins", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, false, ""},
		{"ok/sdk-disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, ""},
		{"ok/http-protobuf", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, true, ""},
		{"fail/other-exporter", map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"}, false,
			"OTEL_TRACES_EXPORTER=jaeger is not supported; use otlp (OTLP over HTTP) or none"},
		{"fail/grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false,
			"OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported; use http/protobuf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			on, err := TracingFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || on != tc.on {
				t.Fatalf("on %v err %v, want %v", on, err, tc.on)
			}
		})
	}
}

func TestNewTracerProviderFromEnv(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1") // nothing listens: spans are dropped on shutdown
	t.Setenv("OTEL_SERVICE_NAME", "bankbridge-test")
	tp, err := NewTracerProvider(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = tp.Shutdown(ctx) // the export fails (no collector); shutting down must still return
	if err := tp.Shutdown(context.Background()); err != nil && !strings.Contains(err.Error(), "already") {
		t.Fatalf("second shutdown: %v", err)
	}
}

func TestOperation(t *testing.T) {
	for q, want := range map[string]string{"SELECT 1": "SELECT", "  insert into x values (1)": "INSERT",
		"WITH a AS (SELECT 1) SELECT * FROM a": "WITH", "": "SQL", "select(1)": "SELECT"} {
		if got := operation(q); got != want {
			t.Errorf("operation(%q) = %q, want %q", q, got, want)
		}
	}
}
