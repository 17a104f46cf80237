package monitoring_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/monitoring"
)

// now is the clock of every test: 4 December 2026, 19:30 UTC. The 24 h
// window is [3 Dec 20:00, 4 Dec 20:00) in hourly buckets.
var now = time.Date(2026, 12, 4, 19, 30, 0, 0, time.UTC)

func at(day, hour, minute int) time.Time {
	return time.Date(2026, 12, day, hour, minute, 0, 0, time.UTC)
}

const base = monitoring.APIBasePath

// logRow is one request_log row of the fixture.
type logRow struct {
	partner, client string
	env             environment.Environment
	at              time.Time
	path            string
	status          int
	latency         int64
	problem         string
}

var fixture = []logRow{
	{"ptn_a", "app_a1", environment.Production, at(4, 19, 5), base + "/aisp/accounts", 200, 100, ""},                                                 // 1
	{"ptn_a", "app_a1", environment.Production, at(4, 19, 6), base + "/aisp/accounts", 200, 200, ""},                                                 // 2
	{"ptn_a", "app_a1", environment.Production, at(4, 19, 7), base + "/aisp/accounts/acc_1/transactions", 200, 300, ""},                              // 3
	{"ptn_a", "app_a1", environment.Production, at(4, 19, 8), base + "/pisp/domestic-payments", 201, 400, ""},                                        // 4
	{"ptn_a", "app_a1", environment.Production, at(4, 19, 9), base + "/pisp/domestic-payments", 503, 500, "server_busy"},                             // 5
	{"ptn_a", "app_a1", environment.Production, at(4, 19, 10), base + "/pisp/domestic-payment-consents/cns_1/funds-confirmation", 200, 600, ""},      // 6
	{"ptn_a", "app_a1", environment.Production, at(4, 19, 11), base + "/pisp/domestic-payment-consents/cns_1/funds-confirmation", 0, 700, ""},        // 7: unanswered
	{"ptn_a", "app_a1", environment.Production, at(4, 19, 12), base + "/aisp/accounts", 404, 800, "not_found"},                                       // 8
	{"ptn_a", "app_a1", environment.Production, at(4, 19, 13), base + "/aisp/accounts", 429, 900, "rate_limited"},                                    // 9
	{"ptn_a", "app_a1", environment.Production, at(4, 19, 14), base + "/data/datasets/spending", 200, 1000, ""},                                      // 10
	{"ptn_a", "app_a2", environment.Sandbox, at(4, 18, 1), base + "/aisp/accounts", 200, 30, ""},                                                     // 11
	{"ptn_a", "app_a2", environment.Sandbox, at(4, 18, 2), base + "/aisp/accounts", 429, 10, "quota_exhausted"},                                      // 12
	{"ptn_a", "app_a2", environment.Sandbox, at(4, 18, 3), base + "/aisp/accounts", 500, 20, "internal_error"},                                       // 13
	{"ptn_a", "app_a1", environment.Production, at(3, 20, 0), base + "/aisp/accounts", 200, 5000, ""},                                                // 14: the window's first instant
	{"ptn_a", "app_a1", environment.Production, at(3, 19, 59), base + "/aisp/accounts", 200, 7000, ""},                                               // 15: before the window
	{"ptn_a", "app_a1", environment.Production, at(4, 20, 0), base + "/aisp/accounts", 200, 9000, ""},                                                // 16: the window's end (excluded)
	{"ptn_b", "app_b1", environment.Production, at(4, 19, 20), base + "/aisp/accounts", 502, 50000, "internal_error"},                                // 17: another partner
	{"ptn_a", "app_a1", environment.Production, time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC), base + "/aisp/accounts", 500, 1, "internal_error"}, // 18: November
}

func mustExec(t *testing.T, d *db.DB, sql string, args ...any) {
	t.Helper()
	if err := d.Exec(sql, args...).Error; err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// seed writes the fixture: request log, webhook endpoints, deliveries and
// attempts, consents and payments.
func seed(t *testing.T, d *db.DB) {
	t.Helper()
	for _, r := range fixture {
		mustExec(t, d, `INSERT INTO request_log (at, client_id, partner_id, environment, method, path, status, latency_us, problem_type)
			VALUES (?, ?, ?, ?, 'GET', ?, ?, ?, ?)`, r.at, r.client, r.partner, string(r.env), r.path, r.status, r.latency, r.problem)
	}
	for _, e := range [][4]string{{"whe_1", "ptn_a", "app_a1", "production"}, {"whe_2", "ptn_a", "app_a2", "sandbox"}, {"whe_3", "ptn_b", "app_b1", "production"}} {
		mustExec(t, d, `INSERT INTO webhook_endpoints (id, partner_id, app_id, environment, url, enabled, signing, secret_sealed, created_at, updated_at)
			VALUES (?, ?, ?, ?, 'https://x.example/hook', ?, 'hmac', 'sealed', ?, ?)`, e[0], e[1], e[2], e[3], true, at(1, 0, 0), at(1, 0, 0))
	}
	for _, x := range []struct {
		id, endpoint, partner, status string
		created, updated              time.Time
		delivered                     *time.Time
	}{
		{"dlv_1", "whe_1", "ptn_a", "succeeded", at(4, 9, 59), at(4, 10, 0), ptr(at(4, 10, 0))},
		{"dlv_2", "whe_1", "ptn_a", "succeeded", at(2, 9, 0), at(2, 9, 0), ptr(at(2, 9, 0))}, // before the window
		{"dlv_3", "whe_1", "ptn_a", "dead", at(4, 1, 0), at(4, 11, 0), nil},
		{"dlv_4", "whe_1", "ptn_a", "pending", at(4, 17, 0), at(4, 17, 0), nil},
		{"dlv_5", "whe_2", "ptn_a", "pending", at(4, 15, 30), at(4, 15, 30), nil},
		{"dlv_6", "whe_2", "ptn_a", "cancelled", at(4, 12, 0), at(4, 12, 0), nil},
		{"dlv_7", "whe_3", "ptn_b", "pending", at(1, 0, 0), at(1, 0, 0), nil},
	} {
		mustExec(t, d, `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, partner_id, status, next_attempt_at, created_at, updated_at, delivered_at)
			VALUES (?, 'evt', ?, ?, ?, ?, ?, ?, ?)`, x.id, x.endpoint, x.partner, x.status, x.created, x.created, x.updated, x.delivered)
	}
	for _, a := range []struct {
		endpoint, partner string
		at                time.Time
		code              int
	}{
		{"whe_1", "ptn_a", at(4, 11, 0), 500},
		{"whe_1", "ptn_a", at(4, 10, 0), 200},
		{"whe_2", "ptn_a", at(4, 16, 0), 0},
		{"whe_1", "ptn_a", at(1, 0, 0), 500}, // before the window
		{"whe_3", "ptn_b", at(4, 16, 0), 503},
	} {
		mustExec(t, d, `INSERT INTO webhook_attempts (delivery_id, endpoint_id, event_id, event_type, partner_id, attempt, at, status_code)
			VALUES ('dlv', ?, 'evt', 'payment.updated', ?, 1, ?, ?)`, a.endpoint, a.partner, a.at, a.code)
	}
	for _, c := range []struct {
		id, partner, client, env, status string
		created                          time.Time
	}{
		{"cns_1", "ptn_a", "app_a1", "production", "Authorised", at(4, 10, 0)},
		{"cns_2", "ptn_a", "app_a1", "production", "Authorised", at(4, 11, 0)},
		{"cns_3", "ptn_a", "app_a2", "sandbox", "AwaitingAuthorisation", at(4, 12, 0)},
		{"cns_4", "ptn_a", "app_a1", "production", "Authorised", at(1, 10, 0)}, // before the window
		{"cns_5", "ptn_b", "app_b1", "production", "Rejected", at(4, 10, 0)},
	} {
		mustExec(t, d, `INSERT INTO api_consents (id, type, partner_id, client_id, environment, status, created_at, status_updated_at)
			VALUES (?, 'account_access', ?, ?, ?, ?, ?, ?)`, c.id, c.partner, c.client, c.env, c.status, c.created, c.created)
	}
	for _, p := range []struct{ id, status string }{{"pay_1", "AcceptedSettlementCompleted"}, {"pay_2", "Rejected"}} {
		mustExec(t, d, `INSERT INTO api_payments (id, consent_id, partner_id, client_id, environment, debtor_account_id, amount_minor, currency,
			initiation, status, created_at, status_updated_at) VALUES (?, ?, 'ptn_a', 'app_a1', 'production', 'acc_1', 100, 'GBP', '{}', ?, ?, ?)`,
			p.id, "cns_"+p.id, p.status, at(4, 13, 0), at(4, 13, 0))
	}
}

func ptr(t time.Time) *time.Time { return &t }

// stats is a Stats literal in the fixture's terms.
func stats(requests, ok, c4, c5, unanswered, quota, rate, exhausted, p50, p95, p99 int64) monitoring.Stats {
	return monitoring.Stats{Requests: requests, OK: ok, ClientErrors: c4, ServerErrors: c5, Unanswered: unanswered,
		QuotaRefusals: quota, RateLimited: rate, QuotaExhausted: exhausted, P50: p50, P95: p95, P99: p99}
}

// TestOverview: the same rows give the same exact figures on both engines:
// the bucket of each request, status classes, quota refusals, nearest-rank
// percentiles per bucket and over the window, the webhook health and the
// consents and payments by status, narrowed by partner, app and environment.
func TestOverview(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			d := e.Open(t)
			seed(t, d)
			svc := monitoring.New(monitoring.NewGormStore(d), func() time.Time { return now })
			ctx := context.Background()

			o, err := svc.Overview(ctx, monitoring.Scope{PartnerID: "ptn_a"}, monitoring.Window24h)
			if err != nil {
				t.Fatal(err)
			}
			if len(o.Buckets) != 24 || !o.From.Equal(at(3, 20, 0)) || !o.To.Equal(at(4, 20, 0)) || o.Step != time.Hour {
				t.Fatalf("ok/partner-24h window: %d buckets, %v – %v step %v", len(o.Buckets), o.From, o.To, o.Step)
			}
			wantBuckets := map[int]monitoring.Stats{
				0:  stats(1, 1, 0, 0, 0, 0, 0, 0, 5000, 5000, 5000),
				22: stats(3, 1, 1, 1, 0, 1, 0, 1, 20, 30, 30),
				23: stats(10, 6, 2, 1, 1, 1, 1, 0, 500, 1000, 1000),
			}
			for i, b := range o.Buckets {
				if !b.Start.Equal(at(3, 20, 0).Add(time.Duration(i) * time.Hour)) {
					t.Errorf("ok/partner-24h bucket %d starts %v", i, b.Start)
				}
				if b.Stats != wantBuckets[i] {
					t.Errorf("ok/partner-24h bucket %d (%v): %+v, want %+v", i, b.Start, b.Stats, wantBuckets[i])
				}
			}
			if want := stats(14, 8, 3, 2, 1, 2, 1, 1, 400, 5000, 5000); o.Total != want {
				t.Errorf("ok/partner-24h total: %+v, want %+v", o.Total, want)
			}
			wantHooks := monitoring.WebhookHealth{Delivered: 1, Dead: 1, FailedAttempts: 2, Pending: 2, OldestPending: at(4, 15, 30)}
			if o.Webhooks != wantHooks || o.OldestPendingAge() != 4*time.Hour {
				t.Errorf("ok/partner-24h webhooks: %+v (age %v), want %+v (4h)", o.Webhooks, o.OldestPendingAge(), wantHooks)
			}
			if want := []monitoring.StatusCount{{"Authorised", 2}, {"AwaitingAuthorisation", 1}}; !reflect.DeepEqual(o.Consents, want) {
				t.Errorf("ok/partner-24h consents: %+v, want %+v", o.Consents, want)
			}
			if want := []monitoring.StatusCount{{"AcceptedSettlementCompleted", 1}, {"Rejected", 1}}; !reflect.DeepEqual(o.Payments, want) {
				t.Errorf("ok/partner-24h payments: %+v, want %+v", o.Payments, want)
			}

			for _, tc := range []struct {
				name    string
				scope   monitoring.Scope
				total   monitoring.Stats
				hooks   monitoring.WebhookHealth
				consent []monitoring.StatusCount
			}{
				{"ok/app-a1", monitoring.Scope{PartnerID: "ptn_a", AppID: "app_a1"}, stats(11, 7, 2, 1, 1, 1, 1, 0, 600, 5000, 5000),
					monitoring.WebhookHealth{Delivered: 1, Dead: 1, FailedAttempts: 1, Pending: 1, OldestPending: at(4, 17, 0)},
					[]monitoring.StatusCount{{"Authorised", 2}}},
				{"ok/app-a2-sandbox", monitoring.Scope{PartnerID: "ptn_a", AppID: "app_a2", Environment: environment.Sandbox},
					stats(3, 1, 1, 1, 0, 1, 0, 1, 20, 30, 30),
					monitoring.WebhookHealth{FailedAttempts: 1, Pending: 1, OldestPending: at(4, 15, 30)},
					[]monitoring.StatusCount{{"AwaitingAuthorisation", 1}}},
				{"ok/app-a1-in-sandbox-is-empty", monitoring.Scope{AppID: "app_a1", Environment: environment.Sandbox}, monitoring.Stats{},
					monitoring.WebhookHealth{}, nil},
				{"ok/platform", monitoring.Scope{}, stats(15, 8, 3, 3, 1, 2, 1, 1, 500, 50000, 50000),
					monitoring.WebhookHealth{Delivered: 1, Dead: 1, FailedAttempts: 3, Pending: 3, OldestPending: at(1, 0, 0)},
					[]monitoring.StatusCount{{"Authorised", 2}, {"AwaitingAuthorisation", 1}, {"Rejected", 1}}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					o, err := svc.Overview(ctx, tc.scope, monitoring.Window24h)
					if err != nil {
						t.Fatal(err)
					}
					if o.Total != tc.total {
						t.Errorf("total: %+v, want %+v", o.Total, tc.total)
					}
					if o.Webhooks != tc.hooks {
						t.Errorf("webhooks: %+v, want %+v", o.Webhooks, tc.hooks)
					}
					if !reflect.DeepEqual(o.Consents, tc.consent) {
						t.Errorf("consents: %+v, want %+v", o.Consents, tc.consent)
					}
				})
			}

			t.Run("ok/30d-daily", func(t *testing.T) {
				o, err := svc.Overview(ctx, monitoring.Scope{PartnerID: "ptn_a"}, monitoring.Window30d)
				if err != nil {
					t.Fatal(err)
				}
				if len(o.Buckets) != 30 || !o.From.Equal(time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)) || !o.To.Equal(at(5, 0, 0)) {
					t.Fatalf("window: %d buckets %v – %v", len(o.Buckets), o.From, o.To)
				}
				// 3 Dec: rows 14 and 15; 4 Dec: rows 1–13 and 16; 30 Nov: row 18.
				got := map[string]int64{}
				for _, b := range o.Buckets {
					if b.Requests > 0 {
						got[b.Start.Format("2006-01-02")] = b.Requests
					}
				}
				if want := map[string]int64{"2026-11-30": 1, "2026-12-03": 2, "2026-12-04": 14}; !reflect.DeepEqual(got, want) {
					t.Errorf("requests per day: %v, want %v", got, want)
				}
				if last := o.Buckets[29].Stats; last.P50 != 400 || last.P95 != 9000 || last.P99 != 9000 {
					t.Errorf("4 Dec percentiles: %+v", last)
				}
			})
			t.Run("fail/window", func(t *testing.T) {
				if _, err := svc.Overview(ctx, monitoring.Scope{}, "7d"); !errors.Is(err, monitoring.ErrBadWindow) {
					t.Fatalf("err %v, want ErrBadWindow", err)
				}
			})
			t.Run("fail/environment", func(t *testing.T) {
				if _, err := svc.Overview(ctx, monitoring.Scope{Environment: "staging"}, monitoring.Window24h); !errors.Is(err, monitoring.ErrBadEnvironment) {
					t.Fatalf("err %v, want ErrBadEnvironment", err)
				}
			})
		})
	}
}

// TestStatistics: the month's availability and response times per endpoint
// family (production only, every partner, November's row left out), and
// the CSV a standard reader parses to exactly these rows.
func TestStatistics(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			d := e.Open(t)
			seed(t, d)
			store := monitoring.NewGormStore(d)
			svc := monitoring.New(store, func() time.Time { return now })
			ctx := context.Background()
			if err := store.AddAuthStats(ctx, authFixture()); err != nil {
				t.Fatal(err)
			}
			st, err := svc.Statistics(ctx, "", environment.Production)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			w := csv.NewWriter(&buf)
			if err := w.WriteAll(st.CSVRows()); err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			want := [][]string{
				{"month", "environment", "family", "endpoints", "requests", "server_errors", "unanswered", "availability_percent", "avg_response_ms", "p95_response_ms"},
				// rows 1, 2, 3, 8, 9, 14, 15, 16, 17: one 502; mean 73300/9 µs.
				{"2026-12", "production", "accounts", base + "/aisp/…", "9", "1", "0", "88.888", "8.144", "50.000"},
				{"2026-12", "production", "payments", base + "/pisp/… except funds confirmation", "2", "1", "0", "50.000", "0.450", "0.500"},
				{"2026-12", "production", "funds_confirmation", base + "/pisp/domestic-payment-consents/{ConsentId}/funds-confirmation", "2", "0", "1", "50.000", "0.650", "0.700"},
				{"2026-12", "production", "data_sharing", base + "/data/…", "1", "0", "0", "100.000", "1.000", "1.000"},
				// The production row and the unattributed one: 5 requests, 2
				// 5xx, latencies 3 ≤ 1 ms, 1 ≤ 3 ms, 1 ≤ 0.5 ms summing 5300 µs.
				{"2026-12", "production", "token_auth", "/token, /par, /authorize (the authorization server)", "5", "2", "0", "60.000", "1.060", "3.000"},
				{"2026-12", "production", "all", "", "19", "4", "1", "73.684", "4.305", "50.000"},
			}
			if !reflect.DeepEqual(rows, want) {
				t.Errorf("ok/csv:\n got %q\nwant %q", rows, want)
			}
			t.Run("ok/sandbox", func(t *testing.T) {
				st, err := svc.Statistics(ctx, "2026-12", environment.Sandbox)
				if err != nil {
					t.Fatal(err)
				}
				if a := st.Families[0]; a.Requests != 3 || a.ServerErrors != 1 || a.AvailabilityText() != "66.666" || a.AvgLatencyUS != 20 || a.P95LatencyUS != 30 {
					t.Errorf("sandbox accounts: %+v %s", a, a.AvailabilityText())
				}
				// The sandbox row and the unattributed one.
				if a := st.Families[4]; a.Key != "token_auth" || a.Requests != 3 || a.ServerErrors != 1 || a.AvgLatencyUS != 7000 || a.P95LatencyUS != 10_000 {
					t.Errorf("sandbox token_auth: %+v", a)
				}
			})
			t.Run("ok/november", func(t *testing.T) {
				st, err := svc.Statistics(ctx, "2026-11", environment.Production)
				if err != nil {
					t.Fatal(err)
				}
				if a := st.Families[0]; a.Requests != 1 || a.AvailabilityText() != "0.000" || a.AvgLatencyUS != 1 {
					t.Errorf("november accounts: %+v", a)
				}
				if p := st.Families[1]; p.Requests != 0 || p.AvailabilityText() != "" {
					t.Errorf("november payments (none): %+v", p)
				}
			})
			for _, tc := range []struct {
				name, month string
				env         environment.Environment
				want        error
			}{
				{"fail/month", "2026-13", environment.Production, monitoring.ErrBadMonth},
				{"fail/month-format", "12/2026", environment.Production, monitoring.ErrBadMonth},
				{"fail/environment", "2026-12", "", monitoring.ErrBadEnvironment},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if _, err := svc.Statistics(ctx, tc.month, tc.env); !errors.Is(err, tc.want) {
						t.Fatalf("err %v, want %v", err, tc.want)
					}
				})
			}
		})
	}
}

// authFixture is the authorization server's counts of the statistics
// tests: production, sandbox, unattributed (counted in both), November.
func authFixture() []monitoring.AuthStat {
	buckets := func(counts map[int]int64) []int64 {
		b := make([]int64, len(monitoring.AuthLatencyBoundsUS)+1)
		for i, c := range counts {
			b[i] = c
		}
		return b
	}
	return []monitoring.AuthStat{
		{Minute: at(4, 10, 0), Environment: environment.Production, PartnerID: "ptn_a", ClientID: "app_a1", Endpoint: monitoring.AuthEndpointToken,
			Requests: 4, ServerErrors: 1, LatencySumUS: 4900, Buckets: buckets(map[int]int64{1: 3, 3: 1})},
		{Minute: at(4, 10, 1), Environment: "", Endpoint: monitoring.AuthEndpointToken,
			Requests: 1, ServerErrors: 1, LatencySumUS: 400, Buckets: buckets(map[int]int64{0: 1})},
		{Minute: at(4, 11, 0), Environment: environment.Sandbox, PartnerID: "ptn_a", ClientID: "app_a2", Endpoint: monitoring.AuthEndpointPAR,
			Requests: 2, LatencySumUS: 20600, Buckets: buckets(map[int]int64{6: 2})},
		{Minute: time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC), Environment: environment.Production, Endpoint: monitoring.AuthEndpointAuthorize,
			Requests: 7, ServerErrors: 7, LatencySumUS: 7, Buckets: buckets(map[int]int64{0: 7})},
	}
}

// TestPurgeAuthStats: rows of minutes before the cutoff go, the rest stay.
func TestPurgeAuthStats(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			store := monitoring.NewGormStore(e.Open(t))
			ctx := context.Background()
			if err := store.AddAuthStats(ctx, authFixture()); err != nil {
				t.Fatal(err)
			}
			n, err := store.PurgeAuthStats(ctx, at(1, 0, 0))
			if err != nil || n != 1 {
				t.Fatalf("purged %d, %v; want the November row", n, err)
			}
			var left int
			if err := store.EachAuthStat(ctx, "", at(1, 0, 0).AddDate(-1, 0, 0), at(31, 0, 0), func(monitoring.AuthStat) error { left++; return nil }); err != nil || left != 3 {
				t.Fatalf("%d rows left, %v; want 3", left, err)
			}
		})
	}
}

// TestAuthRecorder: counting, flushing, and a failed flush kept for the
// next one.
func TestAuthRecorder(t *testing.T) {
	ctx := context.Background()
	w := &memoryAuthWriter{}
	r := monitoring.NewAuthRecorder(w, nil)
	q := func(minute, status int, latency time.Duration, env environment.Environment, endpoint string) monitoring.AuthRequest {
		return monitoring.AuthRequest{At: at(4, 10, minute).Add(17 * time.Second), Environment: env, PartnerID: "ptn_a", ClientID: "app_a1",
			Endpoint: endpoint, Status: status, Latency: latency}
	}
	r.Observe(q(0, 200, 800*time.Microsecond, environment.Production, monitoring.AuthEndpointToken))
	r.Observe(q(0, 500, 2500*time.Microsecond, environment.Production, monitoring.AuthEndpointToken))
	r.Observe(q(0, 200, 20*time.Second, environment.Production, monitoring.AuthEndpointToken)) // past the last bound
	r.Observe(q(1, 400, 100*time.Microsecond, environment.Production, monitoring.AuthEndpointToken))
	r.Observe(q(1, 201, 100*time.Microsecond, environment.Sandbox, monitoring.AuthEndpointPAR))
	w.fail = errBoom
	if err := r.Flush(ctx); !errors.Is(err, errBoom) {
		t.Fatalf("fail/flush: %v, want errBoom", err)
	}
	r.Observe(q(0, 200, 900*time.Microsecond, environment.Production, monitoring.AuthEndpointToken))
	w.fail = nil
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil || len(w.batches) != 1 {
		t.Fatalf("an empty flush wrote: %v, %d batches", err, len(w.batches))
	}
	got := map[string]monitoring.AuthStat{}
	for _, st := range w.batches[0] {
		got[st.Minute.Format("15:04")+" "+string(st.Environment)+" "+st.Endpoint] = st
	}
	if len(got) != 3 {
		t.Fatalf("%d stats, want 3: %+v", len(got), got)
	}
	nb := len(monitoring.AuthLatencyBoundsUS)
	first := got["10:00 production token"]
	if first.Requests != 4 || first.ServerErrors != 1 || first.LatencySumUS != 800+2500+20_000_000+900 ||
		first.Buckets[1] != 2 || first.Buckets[3] != 1 || first.Buckets[nb] != 1 || first.ClientID != "app_a1" || first.PartnerID != "ptn_a" {
		t.Errorf("10:00 production token: %+v", first)
	}
	if s := got["10:01 production token"]; s.Requests != 1 || s.ServerErrors != 0 || s.Buckets[0] != 1 {
		t.Errorf("10:01 production token: %+v", s)
	}
	if s := got["10:01 sandbox par"]; s.Requests != 1 || s.LatencySumUS != 100 {
		t.Errorf("10:01 sandbox par: %+v", s)
	}
}

type memoryAuthWriter struct {
	fail    error
	batches [][]monitoring.AuthStat
}

func (m *memoryAuthWriter) AddAuthStats(_ context.Context, stats []monitoring.AuthStat) error {
	if m.fail != nil {
		return m.fail
	}
	m.batches = append(m.batches, stats)
	return nil
}

func TestFamilyOf(t *testing.T) {
	for _, tc := range []struct{ name, path, want string }{
		{"ok/accounts", base + "/aisp/accounts/acc_1/balances", "accounts"},
		{"ok/account-consent", base + "/aisp/account-access-consents", "accounts"},
		{"ok/payment", base + "/pisp/domestic-payments/pay_1", "payments"},
		{"ok/funds", base + "/pisp/domestic-payment-consents/cns_1/funds-confirmation", "funds_confirmation"},
		{"ok/data", base + "/data/data-sharing-consents", "data_sharing"},
		{"fail/other-base", "/open-banking/v3.0/aisp/accounts", ""},
		{"fail/unknown", base + "/cbpii/funds", ""},
	} {
		if got := monitoring.FamilyOf(tc.path); got != tc.want {
			t.Errorf("%s: FamilyOf(%q) = %q, want %q", tc.name, tc.path, got, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	v := []int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}
	for _, tc := range []struct {
		name   string
		sorted []int64
		p      int
		want   int64
	}{
		{"ok/p50-even", v, 50, 50},
		{"ok/p95", v, 95, 100},
		{"ok/p1", v, 1, 10},
		{"ok/single", []int64{7}, 99, 7},
		{"ok/p50-odd", []int64{1, 2, 3}, 50, 2},
		{"ok/empty", nil, 50, 0},
	} {
		if got := monitoring.Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// failingStore fails the call named by fail with errBoom.
type failingStore struct {
	monitoring.Store
	fail string
}

var errBoom = errors.New("boom")

func (f failingStore) EachRequest(ctx context.Context, s monitoring.Scope, from, to time.Time, fn func(monitoring.Request) error) error {
	if f.fail == "requests" {
		return errBoom
	}
	return nil
}

func (f failingStore) Webhooks(ctx context.Context, s monitoring.Scope, from, to time.Time) (monitoring.WebhookHealth, error) {
	if f.fail == "webhooks" {
		return monitoring.WebhookHealth{}, errBoom
	}
	return monitoring.WebhookHealth{}, nil
}

func (f failingStore) Consents(ctx context.Context, s monitoring.Scope, from, to time.Time) ([]monitoring.StatusCount, error) {
	if f.fail == "consents" {
		return nil, errBoom
	}
	return nil, nil
}

func (f failingStore) EachAuthStat(ctx context.Context, env environment.Environment, from, to time.Time, fn func(monitoring.AuthStat) error) error {
	if f.fail == "auth" {
		return errBoom
	}
	return nil
}

func (f failingStore) Payments(ctx context.Context, s monitoring.Scope, from, to time.Time) ([]monitoring.StatusCount, error) {
	if f.fail == "payments" {
		return nil, errBoom
	}
	return nil, nil
}

// TestStoreErrors: a Store error comes back wrapped with what was being
// read, for the overview and the statistics.
func TestStoreErrors(t *testing.T) {
	ctx := context.Background()
	for _, part := range []string{"requests", "webhooks", "consents", "payments"} {
		t.Run("fail/overview-"+part, func(t *testing.T) {
			svc := monitoring.New(failingStore{fail: part}, func() time.Time { return now })
			_, err := svc.Overview(ctx, monitoring.Scope{}, monitoring.Window24h)
			if !errors.Is(err, errBoom) || err.Error() != "monitoring: "+part+": boom" {
				t.Fatalf("err %v", err)
			}
		})
	}
	t.Run("fail/statistics-auth", func(t *testing.T) {
		svc := monitoring.New(failingStore{fail: "auth"}, func() time.Time { return now })
		_, err := svc.Statistics(ctx, "2026-12", environment.Production)
		if !errors.Is(err, errBoom) || err.Error() != "monitoring: authorization server requests: boom" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("fail/statistics-requests", func(t *testing.T) {
		svc := monitoring.New(failingStore{fail: "requests"}, func() time.Time { return now })
		_, err := svc.Statistics(ctx, "2026-12", environment.Production)
		if !errors.Is(err, errBoom) || err.Error() != "monitoring: requests: boom" {
			t.Fatalf("err %v", err)
		}
	})
}

// BenchmarkAuthRecorderObserve is the token path's cost of the token_auth
// statistics: one Observe per request, from every core at once.
func BenchmarkAuthRecorderObserve(b *testing.B) {
	r := monitoring.NewAuthRecorder(&memoryAuthWriter{}, nil)
	q := monitoring.AuthRequest{At: now, Environment: environment.Production, PartnerID: "ptn_a", ClientID: "app_a1",
		Endpoint: monitoring.AuthEndpointToken, Status: 200, Latency: 2 * time.Millisecond}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Observe(q)
		}
	})
}
