package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/bankbridge/bankbridge/internal/telemetry"
)

const consentRoute = "/open-banking/v3.1/aisp/account-access-consents/:ConsentId"

// scrape reads the metrics listener's /metrics and parses it with the
// Prometheus text parser.
func scrape(t *testing.T, s *Server) map[string]*dto.MetricFamily {
	t.Helper()
	u := s.Main.Platform.tel.metricsURL
	if u == "" {
		t.Fatal("no metrics listener")
	}
	resp, err := http.Get(u + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mf
}

// series returns the metric of family name whose labels are exactly want
// (nil when there is none).
func series(mf map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := mf[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return m
		}
	}
	return nil
}

func TestMetricsScrape(t *testing.T) {
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, dbURL(t), "--metrics-addr", "127.0.0.1:0", "--webhook-dispatchers", "0")
			p := newFlowPartner(t, s, s.URL)
			cc := p.clientCredentials(s.URL)
			consentID := p.accountConsent(s.URL)
			if st, _, body := p.call(s.URL, http.MethodGet, "/open-banking/v3.1/aisp/account-access-consents/"+consentID, cc, "", nil); st != http.StatusOK {
				t.Fatalf("get consent: %d %v", st, body)
			}
			p.codeFlow(s.URL, p.accountConsent(s.URL), nil)
			if st, _, body := p.call(s.URL, http.MethodDelete, "/open-banking/v3.1/aisp/account-access-consents/"+consentID, cc, "", nil); st != http.StatusNoContent {
				t.Fatalf("delete consent: %d %v", st, body)
			}
			// A refused token request: no client authentication.
			st, _, refusal := p.post(s.URL, "/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {p.id}}, p.proof(http.MethodPost, "/token", ""))
			refusedWith, _ := refusal["error"].(string)
			if st < 400 || refusedWith == "" {
				t.Fatalf("unauthenticated token request: %d %v", st, refusal)
			}
			// (Small answers, like this problem+json, leave only once the
			// handler chain, and so the metrics middleware, has returned.)
			if resp, err := http.Get(s.URL + "/open-banking/v3.1/nothing/acc_123"); err != nil {
				t.Fatal(err)
			} else {
				resp.Body.Close()
			}

			mf := scrape(t, s)
			hist := func(route, method, code string) uint64 {
				m := series(mf, telemetry.MetricHTTPDuration, map[string]string{"route": route, "method": method, "code": code})
				if m == nil {
					return 0
				}
				return m.GetHistogram().GetSampleCount()
			}
			for _, c := range []struct {
				route, method, code string
				min                 uint64
			}{
				{"/token", "POST", "200", 4}, // 3 client_credentials + 1 code exchange
				{consentRoute, "GET", "200", 1},
				{"/open-banking/v3.1/aisp/account-access-consents", "POST", "201", 2},
				{telemetry.RouteUnmatched, "GET", "404", 1},
			} {
				if n := hist(c.route, c.method, c.code); n < c.min {
					t.Errorf("%s{route=%q,method=%q,code=%q} count %d, want ≥ %d", telemetry.MetricHTTPDuration, c.route, c.method, c.code, n, c.min)
				}
			}
			for _, m := range mf[telemetry.MetricHTTPDuration].GetMetric() {
				for _, l := range m.GetLabel() {
					if strings.Contains(l.GetValue(), consentID) || strings.Contains(l.GetValue(), "acc_123") {
						t.Errorf("raw path in a label: %s=%q", l.GetName(), l.GetValue())
					}
				}
			}
			tokens := func(grant, outcome, code string) float64 {
				m := series(mf, telemetry.MetricTokenRequests, map[string]string{"grant_type": grant, "outcome": outcome, "error": code})
				if m == nil {
					return 0
				}
				return m.GetCounter().GetValue()
			}
			if n := tokens("client_credentials", "ok", ""); n < 3 {
				t.Errorf("token counter client_credentials/ok = %v, want ≥ 3", n)
			}
			if n := tokens("authorization_code", "ok", ""); n != 1 {
				t.Errorf("token counter authorization_code/ok = %v, want 1", n)
			}
			if n := tokens("client_credentials", "refused", refusedWith); n != 1 {
				t.Errorf("token counter client_credentials/refused/%s = %v, want 1", refusedWith, n)
			}
			for outcome, want := range map[string]float64{"authorised": 1, "revoked": 1, "rejected": 0, "expired": 0} {
				if m := series(mf, telemetry.MetricConsentOutcomes, map[string]string{"outcome": outcome}); m.GetCounter().GetValue() != want {
					t.Errorf("consent outcomes %s = %v, want %v", outcome, m.GetCounter().GetValue(), want)
				}
			}
			for _, name := range []string{"go_goroutines", "go_sql_open_connections", "go_sql_in_use_connections", "go_sql_idle_connections",
				"go_sql_wait_count_total", "go_sql_wait_duration_seconds_total", telemetry.MetricWebhookQueueDepth, telemetry.MetricWebhookOldestPending} {
				if mf[name] == nil {
					t.Errorf("no %s in the scrape", name)
				}
			}
			if m := series(mf, "go_sql_open_connections", map[string]string{"db_name": string(s.Main.Platform.DB.Dialect)}); m == nil {
				t.Errorf("go_sql_open_connections has no db_name=%q series", s.Main.Platform.DB.Dialect)
			}
			// The webhook queue gauges read the outbox: the consent.authorised
			// event queued no delivery (the app has no endpoint).
			if m := series(mf, telemetry.MetricWebhookQueueDepth, map[string]string{}); m.GetGauge().GetValue() != 0 {
				t.Errorf("webhook queue depth %v, want 0", m.GetGauge().GetValue())
			}

			// Refusal path: the public listener does not serve /metrics.
			resp, err := http.Get(s.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("public /metrics: %d, want 404", resp.StatusCode)
			}
		})
	}
}

func TestMetricsQuotaRefusals(t *testing.T) {
	s := MustStart(t, "", "--metrics-addr", "127.0.0.1:0", "--webhook-dispatchers", "0")
	c := mustSandboxApp(t, s)
	c.mustToken(s.URL, "accounts")
	n, r, body, took := burst(c, []*Server{s}, 40)
	assertRateLimited(t, n, r, body, took)
	m := series(scrape(t, s), telemetry.MetricQuotaRefusals, map[string]string{"product": "consents", "reason": "rate_limited"})
	if got := m.GetCounter().GetValue(); got != float64(40-n) {
		t.Fatalf("quota refusals %v, want %d", got, 40-n)
	}
}

func TestMetricsOffByDefault(t *testing.T) {
	s := MustStart(t, "")
	if s.Main.Platform.tel.metrics != nil || s.Main.Platform.tel.metricsURL != "" {
		t.Fatalf("metrics on without --metrics-addr: %+v", s.Main.Platform.tel)
	}
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("public /metrics: %d, want 404", resp.StatusCode)
	}
}

func TestMetricsAddrFlag(t *testing.T) {
	for _, tc := range []struct {
		name, addr, want string
	}{
		{"fail/no-port", "127.0.0.1", `bankbridge migrate: --metrics-addr must be host:port such as 127.0.0.1:9090 or :9090, got "127.0.0.1"`},
		{"fail/empty-port", "127.0.0.1:", `bankbridge migrate: --metrics-addr must be host:port such as 127.0.0.1:9090 or :9090, got "127.0.0.1:"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			m := NewMain(&out, &out)
			err := m.Run(context.Background(), []string{"migrate", "--data-dir", t.TempDir(), "--metrics-addr", tc.addr})
			m.Close()
			if err != errUsage || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("err %v, output %q; want %q", err, out.String(), tc.want)
			}
		})
	}
	t.Run("fail/unsupported-exporter", func(t *testing.T) {
		t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
		var out syncBuffer
		m := NewMain(&out, &out)
		err := m.Run(context.Background(), []string{"migrate", "--data-dir", t.TempDir()})
		m.Close()
		want := "bankbridge migrate: OTEL_TRACES_EXPORTER=zipkin is not supported; use otlp (OTLP over HTTP) or none"
		if err != errUsage || !strings.Contains(out.String(), want) {
			t.Fatalf("err %v, output %q; want %q", err, out.String(), want)
		}
	})
}

// spanTree indexes finished spans by id.
type spanTree map[trace.SpanID]sdktrace.ReadOnlySpan

func newSpanTree(spans []sdktrace.ReadOnlySpan) spanTree {
	out := spanTree{}
	for _, s := range spans {
		out[s.SpanContext().SpanID()] = s
	}
	return out
}

// server returns the server span named name (the last one).
func (st spanTree) server(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer && s.Name() == name {
			found = s
		}
	}
	if found == nil {
		var names []string
		for _, s := range spans {
			names = append(names, s.Name())
		}
		t.Fatalf("no server span %q among %v", name, names)
	}
	return found
}

// under returns the spans whose ancestors include root.
func (st spanTree) under(root sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range st {
		for p := s.Parent(); p.IsValid(); {
			if p.SpanID() == root.SpanContext().SpanID() {
				out = append(out, s)
				break
			}
			ps, ok := st[p.SpanID()]
			if !ok {
				break
			}
			p = ps.Parent()
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value.String()
		}
	}
	return ""
}

func TestTraceSpans(t *testing.T) {
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			t.Cleanup(func() { tp.Shutdown(context.Background()) })
			logs := &syncBuffer{}
			s := MustStartWith(t, func(m *Main) { m.TracerProvider, m.LogOutput = tp, logs }, dbURL(t),
				"--webhook-dispatchers", "0", "--log-format", "json", "--log-level", "info")
			p := newFlowPartner(t, s, s.URL)
			cc := p.clientCredentials(s.URL)
			st, hdr, body := p.call(s.URL, http.MethodGet, "/open-banking/v3.1/aisp/account-access-consents/cns_unknown", cc, "", nil)
			if st != http.StatusNotFound {
				t.Fatalf("get unknown consent: %d %v", st, body)
			}
			partnerID := partnerOf(t, s, p.id)
			// Graceful shutdown waits for the handlers, so every server span
			// has ended and been exported when Stop returns.
			s.Stop(t)
			spans := exp.GetSpans().Snapshots()
			tree := newSpanTree(spans)

			for _, c := range []struct{ name, route, fosite string }{
				{"POST /token", "/token", "Fosite.NewAccessRequest"},
				{"GET " + consentRoute, consentRoute, ""},
			} {
				srv := tree.server(t, spans, c.name)
				if got := attr(srv, "http.route"); got != c.route {
					t.Errorf("%s: http.route %q, want %q", c.name, got, c.route)
				}
				var sql, fosite int
				for _, ch := range tree.under(srv) {
					if ch.SpanContext().TraceID() != srv.SpanContext().TraceID() {
						t.Errorf("%s: child %s in another trace", c.name, ch.Name())
					}
					if ch.SpanKind() == trace.SpanKindClient && attr(ch, "db.system.name") == map[string]string{"sqlite": "sqlite", "postgres": "postgresql"}[name] {
						sql++
						if attr(ch, "db.query.text") == "" {
							t.Errorf("%s: SQL span %s without db.query.text", c.name, ch.Name())
						}
					}
					if ch.Name() == c.fosite {
						fosite++
					}
				}
				if sql == 0 {
					t.Errorf("%s: no SQL span under the server span", c.name)
				}
				if c.fosite != "" && fosite != 1 {
					t.Errorf("%s: %d %s spans under the server span, want 1", c.name, fosite, c.fosite)
				}
			}

			// The access log: one JSON line per request at info, exact fields.
			srv := tree.server(t, spans, "GET "+consentRoute)
			var line map[string]any
			tokenLines := 0
			sc := bufio.NewScanner(strings.NewReader(logs.String()))
			for sc.Scan() {
				var m map[string]any
				if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "request" && m["route"] == "/token" {
					tokenLines++
					if m["status"] != float64(200) || m["partner_id"] != partnerID || m["app_id"] != p.id || m["trace_id"] == nil {
						t.Errorf("token request's access log line %v: want status 200, partner %s, app %s, a trace id", m, partnerID, p.id)
					}
				}
				if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "request" && m["route"] == consentRoute {
					if line != nil {
						t.Fatalf("two access log lines for one call:\n%v\n%v", line, m)
					}
					line = m
				}
			}
			if line == nil {
				t.Fatalf("no access log line for the call in\n%s", logs)
			}
			if tokenLines != 1 {
				t.Errorf("%d access log lines for the token request, want 1", tokenLines)
			}
			latency, _ := line["latency_ms"].(float64)
			if latency <= 0 {
				t.Errorf("latency_ms %v", line["latency_ms"])
			}
			delete(line, "time")
			delete(line, "latency_ms")
			want := map[string]any{"level": "INFO", "msg": "request", "method": "GET", "route": consentRoute, "status": float64(404),
				"interaction_id": hdr.Get("x-fapi-interaction-id"), "partner_id": partnerID, "app_id": p.id,
				"trace_id": srv.SpanContext().TraceID().String()}
			if fmt.Sprint(line) != fmt.Sprint(want) {
				t.Errorf("access log line\n got %v\nwant %v", line, want)
			}
			if strings.Contains(logs.String(), `"path":`) {
				t.Errorf("the access log shows raw paths:\n%s", logs)
			}
		})
	}
}

// partnerOf is the partner id of app appID.
func partnerOf(t *testing.T, s *Server, appID string) string {
	t.Helper()
	var id string
	if err := s.Main.Platform.DB.DB.Raw("SELECT partner_id FROM apps WHERE id = ?", appID).Scan(&id).Error; err != nil || id == "" {
		t.Fatalf("partner of %s: %q %v", appID, id, err)
	}
	return id
}

// TestTracesExportedOverOTLP: the OTEL_* environment alone turns tracing on;
// spans reach an OTLP/HTTP receiver (here a recording HTTP server), flushed
// at the latest when the server shuts down.
func TestTracesExportedOverOTLP(t *testing.T) {
	var mu sync.Mutex
	var posts []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+r.Header.Get("X-Test"))
		mu.Unlock()
		if len(body) == 0 {
			t.Errorf("empty OTLP export")
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-test=bankbridge")
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	s := MustStart(t, "", "--webhook-dispatchers", "0")
	if s.Main.Platform.tel.tp == nil {
		t.Fatal("tracing off with OTEL_EXPORTER_OTLP_ENDPOINT set")
	}
	resp, err := http.Get(s.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.Stop(t) // shuts the provider down: the batch is flushed
	mu.Lock()
	defer mu.Unlock()
	if len(posts) == 0 || posts[0] != "POST /v1/traces application/x-protobuf bankbridge" {
		t.Fatalf("OTLP posts %q, want POST /v1/traces with the configured header", posts)
	}
}
