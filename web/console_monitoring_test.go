package web

import (
	"encoding/csv"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// monitoringNow is the Monitoring section's clock in the console tests.
var monitoringNow = time.Date(2026, 12, 4, 19, 30, 0, 0, time.UTC)

// TestConsoleMonitoring: on both engines, the roles allowed to see
// Monitoring (admin, partner manager, risk officer) get the navigation
// entry, the charts with the partner's traffic in its hour's bucket and the
// statistics CSV; finance and the auditor get neither the entry nor the
// pages (403); bad input is refused with its message.
func TestConsoleMonitoring(t *testing.T) {
	for _, eng := range dbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e, _ := consoleEnvOn(t, eng.Open(t), nil, nil)
			_, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
			_, pid := e.livePartner("owner@wallet.example", "Wallet Ltd")
			const base = "/open-banking/v3.1"
			for i, r := range []struct {
				minute, status int
				path           string
				latency        int64
			}{
				{5, 200, base + "/aisp/accounts", 1500},
				{6, 200, base + "/aisp/accounts", 2500},
				{7, 503, base + "/pisp/domestic-payments", 4000},
			} {
				if err := e.d.Exec(`INSERT INTO request_log (at, client_id, partner_id, environment, method, path, status, latency_us, problem_type)
					VALUES (?, 'app_1', ?, 'production', 'GET', ?, ?, ?, '')`, time.Date(2026, 12, 4, 19, r.minute, 0, 0, time.UTC), pid, r.path, r.status, r.latency).Error; err != nil {
					t.Fatalf("row %d: %v", i, err)
				}
			}
			page := "/console/monitoring?partner=" + pid
			for _, tc := range []struct {
				name string
				role staff.Role
				ok   bool
			}{
				{"ok/admin", staff.RoleAdmin, true},
				{"ok/partner-manager", staff.RolePartnerManager, true},
				{"ok/risk-officer", staff.RoleRiskOfficer, true},
				{"fail/finance", staff.RoleFinance, false},
				{"fail/auditor", staff.RoleAuditor, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					b, _ := e.staffBrowser(admin.Staff.ID, string(tc.role)+"-"+eng.Name+"@bank.example", tc.role)
					_, partners := b.get("/console/partners")
					shows(t, tc.name+"/nav", partners, `<a href="/console/monitoring">Monitoring</a>`, tc.ok)
					if !tc.ok {
						for _, p := range []string{page, "/console/monitoring/availability", "/console/monitoring/availability.csv?month=2026-12"} {
							status, body := b.get(p)
							want(t, tc.name+" "+p, status, body, http.StatusForbidden, "<h1>Not allowed</h1>",
								"Your role ("+string(tc.role)+") may not see this page.")
						}
						return
					}
					status, body := b.get(page)
					want(t, tc.name+"/page", status, body, http.StatusOK, "<h2 id=\"scope\">Wallet Ltd</h2>",
						`<a href="/console/monitoring" aria-current="page">Monitoring</a>`,
						`<dd id="kpi-requests">3</dd>`,
						`<svg class="chart" id="chart-traffic" role="img"`, `aria-label="Requests per hour"`,
						`<title id="chart-traffic-title">Requests per hour</title>`,
						`data-label="19:00" data-series="Requests" data-value="3"`,
						`data-label="18:00" data-series="Requests" data-value="0"`,
						// p50 of 1.5, 2.5 and 4 ms is 2.5 ms; p95 and p99 4 ms.
						`data-label="19:00" data-series="p50" data-value="2.5 ms"`,
						`data-label="19:00" data-series="p99" data-value="4 ms"`,
						// one 503 of three requests: 33.33 % (basis points rounded down).
						`data-label="19:00" data-series="5xx or unanswered" data-value="33.33 %"`,
						`<details class="data"><summary>The figures as a table</summary>`,
						`<tr><th scope="row">4 Dec 19:00</th><td>3</td><td>66.6 %</td><td>0.0 %</td><td>33.3 %</td><td>0</td><td>2.500</td><td>4.000</td><td>4.000</td></tr>`)
					if strings.Contains(body, " style=") || strings.Contains(body, "<style") || strings.Contains(body, "<script") {
						t.Errorf("%s: inline style or script on the page", tc.name)
					}
					resp, err := b.c.Get(b.base + "/console/monitoring/availability.csv?month=2026-12&env=production")
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
						resp.Header.Get("Content-Disposition") != `attachment; filename="api-availability-2026-12-production.csv"` {
						body, _ := io.ReadAll(resp.Body)
						t.Fatalf("%s/csv: %d %v\n%s", tc.name, resp.StatusCode, resp.Header, body)
					}
					rows, err := csv.NewReader(resp.Body).ReadAll()
					if err != nil {
						t.Fatal(err)
					}
					wantRows := [][]string{
						{"month", "environment", "family", "endpoints", "requests", "server_errors", "unanswered", "availability_percent", "avg_response_ms", "p95_response_ms"},
						{"2026-12", "production", "accounts", base + "/aisp/…", "2", "0", "0", "100.000", "2.000", "2.500"},
						{"2026-12", "production", "payments", base + "/pisp/… except funds confirmation", "1", "1", "0", "0.000", "4.000", "4.000"},
						{"2026-12", "production", "funds_confirmation", base + "/pisp/domestic-payment-consents/{ConsentId}/funds-confirmation", "0", "0", "0", "", "", ""},
						{"2026-12", "production", "data_sharing", base + "/data/…", "0", "0", "0", "", "", ""},
						{"2026-12", "production", "token_auth", "/token, /par, /authorize (the authorization server)", "0", "0", "0", "", "", ""},
						{"2026-12", "production", "all", "", "3", "1", "0", "66.666", "2.667", "4.000"},
					}
					if !reflect.DeepEqual(rows, wantRows) {
						t.Errorf("%s/csv:\n got %q\nwant %q", tc.name, rows, wantRows)
					}
					status, body = b.get("/console/monitoring/availability?month=2026-12")
					want(t, tc.name+"/availability", status, body, http.StatusOK, "<h2 id=\"stats-h\">2026-12 · production</h2>",
						`href="/console/monitoring/availability.csv?month=2026-12&amp;env=production"`, "<dt>Availability</dt>",
						`<td data-label="Availability">66.666 %</td>`)
				})
			}
			b, _ := e.staffBrowser(admin.Staff.ID, "pm-input-"+eng.Name+"@bank.example", staff.RolePartnerManager)
			for _, tc := range []struct {
				name, path string
				status     int
				text       string
			}{
				{"fail/window", "/console/monitoring?window=7d", 400, "The window must be 24 hours or 30 days."},
				{"fail/environment", "/console/monitoring?env=staging", 400, "The environment must be sandbox, production or both."},
				{"fail/unknown-partner", "/console/monitoring?partner=ptn_nope", 404, "No partner ptn_nope."},
				{"fail/app-of-another", "/console/monitoring?partner=" + pid + "&app=app_nope", 404, "No app app_nope of Wallet Ltd."},
				{"fail/app-without-partner", "/console/monitoring?app=app_1", 400, "Choose the app&#39;s partner first."},
				{"fail/month", "/console/monitoring/availability?month=2026-13", 400, "The month must be given as YYYY-MM."},
				{"fail/csv-month", "/console/monitoring/availability.csv?month=december", 400, "The month must be given as YYYY-MM."},
				{"fail/csv-environment", "/console/monitoring/availability.csv?month=2026-12&env=staging", 400, "The environment must be sandbox or production."},
				{"ok/30d", "/console/monitoring?partner=" + pid + "&window=30d", 200, `data-label="4 Dec" data-series="Requests" data-value="3"`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					status, body := b.get(tc.path)
					want(t, tc.name, status, body, tc.status, tc.text)
				})
			}
		})
	}
}
