package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/monitoring"
)

// TestE2EMonitoring: a partner app makes real API calls (the independent
// client), then a partner manager opens Monitoring in chromium, picks the
// partner and its app, and the charts show exactly that traffic: the
// traffic chart's points add up to the calls made (all in the current
// hour's buckets), the 4xx bar is the one refused call, the table fallback
// and the consent counts agree; the statistics CSV downloads and a standard
// CSV reader parses it to the sandbox's accounts row. e2e/monitoring.mjs.
func TestE2EMonitoring(t *testing.T) {
	requireE2E(t, true)
	for name, url := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, url(t))
			cid, key := sandboxApp(t, s, "https://wallet.example/callback", "accounts")
			pm := runCLI(t, s, "staff", "create", "--email", "pat.pm@bank.example", "--role", "partner_manager", "--json")
			const calls = 4
			start := time.Now().UTC()
			res := runNode(t, "monitoring.mjs", map[string]string{"ISSUER": s.URL, "CLIENT_ID": cid, "CLIENT_JWK": key.PrivateJSON(t),
				"CALLS": fmt.Sprint(calls), "PARTNER_NAME": "E2E Wallet Ltd", "APP_NAME": "E2E wallet",
				"STAFF_EMAIL": pm["email"].(string), "STAFF_PASSWORD": pm["one_time_password"].(string), "STAFF_TOTP": pm["totp_secret"].(string),
				"CHROMIUM": chromiumPath(), "ARTIFACTS": artifactsDir(t)})
			end := time.Now().UTC()
			if res.Error != nil {
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Fatalf("flow failed:\n%s", b)
			}
			if st := fmt.Sprint(res.Step("traffic")["statuses"]); st != "[201 201 201 201 404]" {
				t.Fatalf("traffic statuses %s", st)
			}
			// The hours the traffic may fall in (the run may straddle an hour).
			hours := map[string]bool{}
			for h := start.Truncate(time.Hour); !h.After(end); h = h.Add(time.Hour) {
				hours[h.Format("15:04")] = true
			}
			tc := res.Step("traffic_chart")
			if tc["scope"] != "E2E Wallet Ltd — E2E wallet (sandbox)" || tc["role"] != "img" || tc["ariaLabel"] != "Requests per hour" ||
				tc["title"] != "Requests per hour" || tc["visible"] != true || tc["buckets"] != 24.0 {
				t.Fatalf("traffic chart: %v", tc)
			}
			if tc["sum"] != float64(calls+1) || tc["kpi"] != fmt.Sprint(calls+1) {
				t.Fatalf("traffic chart counts %v requests (KPI %v), want %d: %v", tc["sum"], tc["kpi"], calls+1, tc["busy"])
			}
			for _, p := range tc["busy"].([]any) {
				if l := p.(map[string]any)["label"].(string); !hours[l] {
					t.Errorf("busy bucket %q is not an hour of the run %v", l, hours)
				}
			}
			if pt := tc["pointTitle"].(string); !regexp.MustCompile(`^\d\d:00, Requests: [1-5]$`).MatchString(pt) {
				t.Errorf("point title %q", pt)
			}
			oc := res.Step("other_charts")
			if fmt.Sprint(oc["latencySeries"]) != "[p50 p95 p99]" || oc["latencyPoints"].(float64) < 3 {
				t.Errorf("latency chart: %v", oc)
			}
			bars := oc["errorBars"].([]any)
			if len(bars) != 1 || !hours[bars[0].(map[string]any)["label"].(string)] {
				t.Errorf("4xx bars: %v", bars)
			}
			tb := res.Step("table")
			busy := tb["busyRows"].([]any)
			total := busy[len(busy)-1].([]any)
			if tb["open"] != true || total[0] != "Whole window" || total[1] != fmt.Sprint(calls+1) || total[3] != "20.0 %" {
				t.Errorf("table: %v", tb)
			}
			if got := fmt.Sprint(res.Step("consents")["rows"]); got != fmt.Sprintf("[[AwaitingAuthorisation %d]]", calls) {
				t.Errorf("consents: %s", got)
			}
			if v := res.Step("csp")["violations"].([]any); len(v) != 0 {
				t.Errorf("CSP violations: %v", v)
			}
			dl := res.Step("csv")
			month := start.Format("2006-01")
			if dl["filename"] != "api-availability-"+month+"-sandbox.csv" {
				t.Errorf("csv filename %v", dl["filename"])
			}
			rows, err := csv.NewReader(strings.NewReader(dl["body"].(string))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 7 || !reflect.DeepEqual(rows[0], monitoring.CSVHeader) {
				t.Fatalf("csv rows: %q", rows)
			}
			if acc := rows[1]; !reflect.DeepEqual(acc[:8], []string{month, "sandbox", "accounts", monitoring.APIBasePath + "/aisp/…",
				fmt.Sprint(calls + 1), "0", "0", "100.000"}) || acc[8] == "" || acc[9] == "" {
				t.Errorf("csv accounts row: %q", acc)
			}
		})
	}
}
