package plans

import (
	"github.com/bankbridge/bankbridge/internal/events"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

func mustPlans(t *testing.T, d *db.DB, pub events.Publisher) *Service {
	t.Helper()
	return New(Config{DB: d, Events: pub, Now: func() time.Time { return time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC) }})
}

var finance = &staff.Member{ID: "stf_fin", Role: staff.RoleFinance}

func uniform(rate, burst int) map[string]RateLimit {
	m := map[string]RateLimit{}
	for _, g := range APIGroups {
		m[g] = RateLimit{Rate: rate, Burst: burst}
	}
	return m
}

func TestPlanResolution(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustPlans(t, d, nil)
		gold, err := s.SavePlan(ctx, finance, Plan{Name: "Gold", Limits: uniform(100, 200), Volumes: map[string]int64{GroupAccounts: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		silver, err := s.SavePlan(ctx, finance, Plan{Name: "Silver", Limits: uniform(50, 60)})
		if err != nil {
			t.Fatal(err)
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		// ptn_p: partner plan Gold + partner override of payments;
		// app_o: app override of accounts on top; app_s: app plan Silver.
		must(s.Assign(ctx, finance, "ptn_p", PlanAssignment{Scope: ScopePartner, SubjectID: "ptn_p", PlanID: gold.ID,
			LimitOverrides: map[string]RateLimit{GroupPayments: {Rate: 5, Burst: 5}}}))
		must(s.Assign(ctx, finance, "ptn_p", PlanAssignment{Scope: ScopeApp, SubjectID: "app_o",
			LimitOverrides: map[string]RateLimit{GroupAccounts: {Rate: 1, Burst: 2}}, VolumeOverrides: map[string]int64{GroupAccounts: 10}}))
		must(s.Assign(ctx, finance, "ptn_p", PlanAssignment{Scope: ScopeApp, SubjectID: "app_s", PlanID: silver.ID}))
		sb := DefaultSandboxPlan()
		for _, tc := range []struct {
			name               string
			partner, app       string
			env                environment.Environment
			planID             string
			accounts, payments RateLimit
			accountsVolume     int64
		}{
			{"ok/default-sandbox", "ptn_x", "app_x", "sandbox", sb.ID, RateLimit{10, 20}, RateLimit{10, 20}, 0},
			{"ok/default-production", "ptn_x", "app_x", "production", PlanProductionDefault, RateLimit{50, 100}, RateLimit{50, 100}, 0},
			{"ok/partner-plan-and-override", "ptn_p", "app_other", "sandbox", gold.ID, RateLimit{100, 200}, RateLimit{5, 5}, 1000},
			{"ok/app-override", "ptn_p", "app_o", "production", gold.ID, RateLimit{1, 2}, RateLimit{5, 5}, 10},
			{"ok/app-plan-keeps-partner-override", "ptn_p", "app_s", "sandbox", silver.ID, RateLimit{50, 60}, RateLimit{5, 5}, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e, err := s.Resolve(ctx, tc.partner, tc.app, tc.env)
				if err != nil {
					t.Fatal(err)
				}
				if e.PlanID != tc.planID || e.Limits[GroupAccounts] != tc.accounts || e.Limits[GroupPayments] != tc.payments ||
					e.Volumes[GroupAccounts] != tc.accountsVolume || e.Limits[GroupConsents].Rate == 0 {
					t.Fatalf("effective %+v", e)
				}
			})
		}
		for _, tc := range []struct {
			name   string
			st     *staff.Member
			a      PlanAssignment
			code   problem.Code
			detail string
		}{
			{"fail/role", &staff.Member{ID: "stf_r", Role: staff.RoleRiskOfficer}, PlanAssignment{Scope: ScopeApp, SubjectID: "app_x"},
				problem.CodeForbidden, "only finance and admin staff may change plans"},
			{"fail/scope", finance, PlanAssignment{Scope: "org", SubjectID: "x"}, problem.CodeValidation, `scope must be "partner" or "app"`},
			{"fail/unknown-group", finance, PlanAssignment{Scope: ScopeApp, SubjectID: "app_x", LimitOverrides: map[string]RateLimit{"cards": {1, 1}}},
				problem.CodeValidation, `limit_overrides: unknown API group "cards" (want one of accounts, payments, data_sharing, consents)`},
			{"fail/zero-rate", finance, PlanAssignment{Scope: ScopeApp, SubjectID: "app_x", LimitOverrides: map[string]RateLimit{GroupAccounts: {0, 1}}},
				problem.CodeValidation, "limit_overrides.accounts: rate must be between 1 and 100000 requests per second"},
			{"fail/unknown-plan", finance, PlanAssignment{Scope: ScopeApp, SubjectID: "app_x", PlanID: "pln_nope"}, problem.CodeNotFound, "plan pln_nope not found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := s.Assign(ctx, tc.st, "ptn_x", tc.a)
				pe, ok := err.(*problem.Error)
				if !ok || pe.Code != tc.code || pe.Detail != tc.detail {
					t.Fatalf("err %v, want %s %q", err, tc.code, tc.detail)
				}
			})
		}
		t.Run("fail/plan-name-taken", func(t *testing.T) {
			_, err := s.SavePlan(ctx, finance, Plan{Name: "Gold", Limits: uniform(1, 1)})
			pe, ok := err.(*problem.Error)
			if !ok || pe.Code != problem.CodeConflict || pe.Detail != `a plan named "Gold" already exists` {
				t.Fatalf("err %v", err)
			}
		})
		t.Run("fail/plan-missing-group", func(t *testing.T) {
			_, err := s.SavePlan(ctx, finance, Plan{Name: "Thin", Limits: map[string]RateLimit{GroupAccounts: {1, 1}}})
			pe, ok := err.(*problem.Error)
			if !ok || pe.Code != problem.CodeValidation || pe.Detail != "limits.payments: a rate limit is required for every API group" {
				t.Fatalf("err %v", err)
			}
		})
	})
}

// TestThresholdReachedOnce: each threshold is recorded and published once per
// app, product, period and percent, however often it is reported.
func TestThresholdReachedOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		pub := &recPublisher{}
		s := mustPlans(t, d, pub)
		for _, tc := range []struct {
			name    string
			product string
			period  string
			percent int
			first   bool
		}{
			{"ok/80-first", GroupAccounts, "2026-11", 80, true},
			{"ok/80-again", GroupAccounts, "2026-11", 80, false},
			{"ok/100-first", GroupAccounts, "2026-11", 100, true},
			{"ok/100-again", GroupAccounts, "2026-11", 100, false},
			{"ok/other-product", GroupPayments, "2026-11", 80, true},
			{"ok/next-month", GroupAccounts, "2026-12", 80, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				first, err := s.ThresholdReached(ctx, "ptn_a", "app_a", tc.product, tc.period, tc.percent, 8, 10)
				if err != nil || first != tc.first {
					t.Fatalf("first %v err %v", first, err)
				}
			})
		}
		ev := pub.list()
		if len(ev) != 4 {
			t.Fatalf("events %v", ev)
		}
		want := `quota.threshold_reached ptn_a app_a {"app_id":"app_a","limit":10,"period":"2026-11","quota":"accounts.monthly_calls","threshold_bp":8000,"used":8}`
		if ev[0] != want {
			t.Fatalf("event %s", ev[0])
		}
		got, err := s.Thresholds(ctx, "app_a", "2026-11")
		if err != nil || !reflect.DeepEqual(got, map[string][]int{GroupAccounts: {80, 100}, GroupPayments: {80}}) {
			t.Fatalf("thresholds %v %v", got, err)
		}
		if !strings.HasPrefix(DefaultSandboxPlan().Description, "Every sandbox app: 10 requests per second, burst 20") {
			t.Fatal("sandbox plan description")
		}
	})
}
