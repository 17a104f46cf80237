package limits_test

import (
	"context"
	"errors"
	"math"
	"math/big"
	"math/rand"
	"testing"
	"testing/quick"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/risk/limits"
)

// currencies with 0, 2 and 3 decimals, as internal/money's table has them.
var currencies = map[string]int{"JPY": 0, "GBP": 2, "BHD": 3}

func TestCurrencyTable(t *testing.T) {
	for c, want := range currencies {
		if got, ok := money.Exponent(c); !ok || got != want {
			t.Fatalf("fail/exponent: %s has %d (%v), want %d", c, got, ok, want)
		}
	}
}

// Property: a limit shown in major units and entered again is the same
// number of minor units, in every currency; a major amount with more
// decimals than the currency has is refused, never rounded.
func TestMajorUnitsRoundTrip(t *testing.T) {
	for c, exp := range currencies {
		t.Run("ok/"+c, func(t *testing.T) {
			f := func(v uint64) bool {
				minor := int64(v >> 1) // 0 … MaxInt64
				in := limits.ProposalInput{Amount: money.FormatMinor(minor, c)}
				got, _, _, err := limits.ParseBound(in, limits.KindPerDay, c)
				return err == nil && got == minor
			}
			if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("fail/too-many-decimals-"+c, func(t *testing.T) {
			in := limits.ProposalInput{Amount: "1." + "0000"[:exp] + "5"}
			_, _, _, err := limits.ParseBound(in, limits.KindPerPayment, c)
			want := "amount has more decimals than " + c + " allows (" + string(rune('0'+exp)) + ")"
			wantProblem(t, err, problem.CodeValidation, want)
		})
	}
}

// Property: Add is the exact sum when it fits in int64 and refuses
// otherwise (never wraps).
func TestAddNeverOverflows(t *testing.T) {
	max := big.NewInt(math.MaxInt64)
	f := func(a, b uint64, shift uint8) bool {
		x, y := int64(a>>1), int64(b>>(1+shift%63))
		sum, ok := limits.Add(x, y)
		exact := new(big.Int).Add(big.NewInt(x), big.NewInt(y))
		if exact.Cmp(max) > 0 {
			return !ok
		}
		return ok && big.NewInt(sum).Cmp(exact) == 0
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 5000}); err != nil {
		t.Fatal(err)
	}
	if _, ok := limits.Add(math.MaxInt64, 1); ok {
		t.Fatal("fail/max+1 fits")
	}
	if _, ok := limits.Add(-1, 1); ok {
		t.Fatal("fail/negative accepted")
	}
}

// fixedUsage is limits.Usage over fixed numbers (what the payments store
// would sum).
type fixedUsage struct {
	totals map[limits.Scope]int64
	count  int64
}

func (u fixedUsage) Total(_ context.Context, by limits.Scope, _ time.Time) (int64, error) {
	return u.totals[by], nil
}
func (u fixedUsage) DebtorCount(context.Context, time.Time) (int64, error) { return u.count, nil }

var now = time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)

func pay(currency string, minor int64) limits.Payment {
	return limits.Payment{Environment: environment.Production, PartnerID: "ptn_1", AppID: "app_1", CustomerID: "cus_1",
		Amount: money.Money{Minor: minor, Currency: currency}}
}

// randomRules draws rules of kind for p's subjects (and some that do not
// apply: another currency, environment or subject).
func randomRules(r *rand.Rand, kind limits.Kind, currency string, max int64) []limits.Rule {
	var out []limits.Rule
	subjects := map[limits.Scope]string{limits.ScopePlatform: "", limits.ScopePartner: "ptn_1", limits.ScopeApp: "app_1", limits.ScopeCustomer: "cus_1"}
	for _, sc := range limits.Scopes {
		if r.Intn(3) == 0 {
			continue
		}
		rule := limits.Rule{ID: "lim_" + string(sc), Environment: environment.Production, Currency: currency, Scope: sc,
			SubjectID: subjects[sc], Kind: kind, Amount: 1 + r.Int63n(max)}
		out = append(out, rule)
		other := rule
		switch r.Intn(3) {
		case 0:
			other.Currency = "EUR"
		case 1:
			other.Environment = environment.Sandbox
		default:
			if sc == limits.ScopePlatform {
				other.Currency = "USD"
			} else {
				other.SubjectID += "_other"
			}
		}
		other.Amount = 1 + r.Int63n(max)
		out = append(out, other)
	}
	return out
}

// Property: the tightest applicable rule wins. A payment is refused per
// payment exactly when it exceeds the smallest applicable per_payment
// limit (the platform's rule replacing the default), and per day exactly
// when some applicable rule's subject total plus the payment exceeds it;
// the refusal names the rule with the least room, in the rule's currency
// in major units. Over JPY, GBP and BHD.
func TestTightestRuleWins(t *testing.T) {
	r := rand.New(rand.NewSource(16))
	defaults := limits.Defaults{PerPayment: 50_000, PerPartnerDaily: 200_000, VelocityCount: 1000, VelocityWindow: time.Minute}
	for i := 0; i < 3000; i++ {
		for c := range currencies {
			amount := 1 + r.Int63n(60_000)
			p := pay(c, amount)
			kind := limits.KindPerPayment
			if i%2 == 1 {
				kind = limits.KindPerDay
			}
			stored := randomRules(r, kind, c, 100_000)
			rules := limits.Effective(defaults, stored, p)
			// The expected answer, computed apart.
			if kind == limits.KindPerPayment {
				tight, label := defaults.PerPayment, "per-payment"
				for _, x := range stored {
					if x.Currency == c && x.Environment == environment.Production && (x.SubjectID == "" && x.Scope == limits.ScopePlatform) {
						tight, label = x.Amount, "platform per-payment"
					}
				}
				for _, x := range stored {
					if x.Currency == c && x.Environment == environment.Production && x.Scope != limits.ScopePlatform &&
						!isOther(x) && x.Amount <= tight {
						tight, label = x.Amount, string(x.Scope)+" per-payment"
					}
				}
				err := limits.CheckAmount(rules, p.Amount)
				if amount <= tight {
					if err != nil {
						t.Fatalf("case %d: %d %s within %d refused: %v (rules %+v)", i, amount, c, tight, err, stored)
					}
					continue
				}
				wantProblem(t, err, problem.CodeLimitExceeded, "the "+label+" limit is "+money.FormatMinor(tight, c)+" "+c)
				continue
			}
			u := fixedUsage{totals: map[limits.Scope]int64{limits.ScopePartner: r.Int63n(250_000),
				limits.ScopeApp: r.Int63n(150_000), limits.ScopeCustomer: r.Int63n(100_000)}}
			var best *limits.Rule
			var bestRoom int64
			for _, x := range rules {
				if x.Kind != limits.KindPerDay {
					continue
				}
				by := x.Scope
				if by == limits.ScopePlatform {
					by = limits.ScopePartner
				}
				if u.totals[by]+amount <= x.Amount {
					continue
				}
				room := x.Amount - u.totals[by]
				if best == nil || room < bestRoom || (room == bestRoom && narrower(x.Scope, best.Scope)) {
					x := x
					best, bestRoom = &x, room
				}
			}
			err := limits.CheckUsage(context.Background(), rules, p, now, u)
			if best == nil {
				if err != nil {
					t.Fatalf("case %d: refused %v with totals %v and rules %+v", i, err, u.totals, rules)
				}
				continue
			}
			wantProblem(t, err, problem.CodeLimitExceeded, "the "+best.Name()+" limit is "+money.FormatMinor(best.Amount, c)+" "+c)
		}
	}
}

func isOther(r limits.Rule) bool {
	return len(r.SubjectID) > 6 && r.SubjectID[len(r.SubjectID)-6:] == "_other"
}

func narrower(a, b limits.Scope) bool {
	order := map[limits.Scope]int{limits.ScopeCustomer: 0, limits.ScopeApp: 1, limits.ScopePartner: 2, limits.ScopePlatform: 3}
	return order[a] < order[b]
}

// A total that would overflow int64 with the payment is refused, never
// wrapped into a small number.
func TestUsageOverflowRefused(t *testing.T) {
	rules := limits.Effective(limits.Defaults{PerPayment: math.MaxInt64, PerPartnerDaily: math.MaxInt64, VelocityCount: 10, VelocityWindow: time.Minute},
		nil, pay("JPY", 10))
	err := limits.CheckUsage(context.Background(), rules, pay("JPY", 10), now,
		fixedUsage{totals: map[limits.Scope]int64{limits.ScopePartner: math.MaxInt64 - 5}})
	wantProblem(t, err, problem.CodeLimitExceeded, "the daily partner limit is 9223372036854775807 JPY")
}

func TestCheckUsageRefusals(t *testing.T) {
	gbp := func(scope limits.Scope, subject string, kind limits.Kind, amount int64) limits.Rule {
		return limits.Rule{ID: "lim_x", Environment: environment.Production, Currency: "GBP", Scope: scope, SubjectID: subject, Kind: kind, Amount: amount}
	}
	def := limits.Defaults{PerPayment: 1_000_00, PerPartnerDaily: 5_000_00, VelocityCount: 10, VelocityWindow: time.Minute}
	for _, tc := range []struct {
		name   string
		stored []limits.Rule
		usage  fixedUsage
		amount int64
		code   problem.Code
		detail string
		extra  map[string]any
	}{
		{"ok/within-all", []limits.Rule{gbp(limits.ScopeCustomer, "cus_1", limits.KindPerDay, 100_00)},
			fixedUsage{totals: map[limits.Scope]int64{limits.ScopeCustomer: 50_00}}, 50_00, "", "", nil},
		{"fail/customer-per-day", []limits.Rule{gbp(limits.ScopeCustomer, "cus_1", limits.KindPerDay, 100_00)},
			fixedUsage{totals: map[limits.Scope]int64{limits.ScopeCustomer: 50_00}}, 50_01, problem.CodeLimitExceeded,
			"the customer per-day limit is 100.00 GBP", map[string]any{"used_today": "50.00", "scope": "customer", "kind": "per_day"}},
		{"fail/app-per-month", []limits.Rule{gbp(limits.ScopeApp, "app_1", limits.KindPerMonth, 1_000_00)},
			fixedUsage{totals: map[limits.Scope]int64{limits.ScopeApp: 999_00}}, 2_00, problem.CodeLimitExceeded,
			"the app per-month limit is 1000.00 GBP", map[string]any{"used_this_month": "999.00"}},
		{"fail/default-daily", nil, fixedUsage{totals: map[limits.Scope]int64{limits.ScopePartner: 4_999_00}}, 2_00,
			problem.CodeLimitExceeded, "the daily partner limit is 5000.00 GBP", map[string]any{"used_today": "4999.00"}},
		{"fail/platform-per-day-replaces-default", []limits.Rule{gbp(limits.ScopePlatform, "", limits.KindPerDay, 10_000_00)},
			fixedUsage{totals: map[limits.Scope]int64{limits.ScopePartner: 9_999_00}}, 2_00,
			problem.CodeLimitExceeded, "the platform per-day limit is 10000.00 GBP", nil},
		{"ok/platform-per-day-raises-default", []limits.Rule{gbp(limits.ScopePlatform, "", limits.KindPerDay, 10_000_00)},
			fixedUsage{totals: map[limits.Scope]int64{limits.ScopePartner: 6_000_00}}, 2_00, "", "", nil},
		{"fail/least-room-wins", []limits.Rule{gbp(limits.ScopePartner, "ptn_1", limits.KindPerDay, 300_00),
			gbp(limits.ScopeApp, "app_1", limits.KindPerDay, 250_00)},
			fixedUsage{totals: map[limits.Scope]int64{limits.ScopePartner: 280_00, limits.ScopeApp: 200_00}}, 30_00,
			problem.CodeLimitExceeded, "the partner per-day limit is 300.00 GBP", nil},
		{"fail/default-velocity", nil, fixedUsage{count: 10}, 1_00, problem.CodeVelocityExceeded,
			"at most 10 payments per 60 seconds from one debtor account", map[string]any{"retry_after": 60}},
		{"fail/partner-velocity", []limits.Rule{{Environment: environment.Production, Currency: "GBP", Scope: limits.ScopePartner,
			SubjectID: "ptn_1", Kind: limits.KindVelocity, Count: 3, Window: 30 * time.Second}}, fixedUsage{count: 3}, 1_00,
			problem.CodeVelocityExceeded, "the partner velocity limit is at most 3 payments per 30 seconds from one debtor account",
			map[string]any{"retry_after": 30, "scope": "partner"}},
		{"ok/other-customer-rule", []limits.Rule{gbp(limits.ScopeCustomer, "cus_2", limits.KindPerDay, 1)},
			fixedUsage{totals: map[limits.Scope]int64{limits.ScopeCustomer: 50_00}}, 50_00, "", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pay("GBP", tc.amount)
			err := limits.CheckUsage(context.Background(), limits.Effective(def, tc.stored, p), p, now, tc.usage)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			pe := wantProblem(t, err, tc.code, tc.detail)
			for k, v := range tc.extra {
				if pe.Extra[k] != v {
					t.Errorf("extension %s = %v, want %v", k, pe.Extra[k], v)
				}
			}
		})
	}
}

func wantProblem(tb testing.TB, err error, code problem.Code, detail string) *problem.Error {
	tb.Helper()
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Code != code || pe.Detail != detail {
		tb.Fatalf("got %v, want %s %q", err, code, detail)
	}
	return pe
}

// TestHighRiskPartnerHalvesAmountLimits: a partner rated high may use half
// of every amount limit (stored rules and the defaults; per payment, per
// day, per month), rounded down in the currency's minor units; velocity
// is unchanged; the refusal says why. Other ratings change nothing.
func TestHighRiskPartnerHalvesAmountLimits(t *testing.T) {
	def := limits.Defaults{PerPayment: 1_000_01, PerPartnerDaily: 5_000_00, VelocityCount: 10, VelocityWindow: time.Minute}
	month := limits.Rule{ID: "lim_m", Environment: environment.Production, Currency: "GBP", Scope: limits.ScopePartner,
		SubjectID: "ptn_1", Kind: limits.KindPerMonth, Amount: 3_000_00}
	high := pay("GBP", 500_00)
	high.PartnerRating = limits.RatingHigh
	rules := limits.Effective(def, []limits.Rule{month}, high)
	got := map[limits.Kind]int64{}
	for _, r := range rules {
		got[r.Kind] = r.Amount
		if r.Kind == limits.KindVelocity {
			got[r.Kind] = r.Count
			if r.HighRisk {
				t.Errorf("velocity marked high risk: %+v", r)
			}
		} else if !r.HighRisk {
			t.Errorf("not marked high risk: %+v", r)
		}
	}
	want := map[limits.Kind]int64{limits.KindPerPayment: 500_00, limits.KindPerDay: 2_500_00, limits.KindPerMonth: 1_500_00, limits.KindVelocity: 10}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all %v)", k, got[k], v, got)
		}
	}
	t.Run("fail/per-payment", func(t *testing.T) {
		pe := wantProblem(t, limits.CheckAmount(rules, money.Money{Minor: 500_01, Currency: "GBP"}), problem.CodeLimitExceeded,
			"the per-payment limit is 500.00 GBP (half the usual: the partner's risk rating is high)")
		if pe.Extra["partner_risk_rating"] != "high" || pe.Extra["limit"] != "500.00" {
			t.Errorf("extensions %v", pe.Extra)
		}
	})
	t.Run("fail/per-day-sum", func(t *testing.T) {
		// 1000.01 used: 500.00 more passes the halved day (2500.00) but not
		// the halved month (1500.00).
		err := limits.CheckUsage(context.Background(), rules, high, now, fixedUsage{totals: map[limits.Scope]int64{limits.ScopePartner: 1_000_01}})
		wantProblem(t, err, problem.CodeLimitExceeded, "the partner per-month limit is 1500.00 GBP (half the usual: the partner's risk rating is high)")
	})
	for _, rating := range []string{"", "low", "medium"} {
		t.Run("ok/rating-"+rating, func(t *testing.T) {
			p := pay("GBP", 1_000_01)
			p.PartnerRating = rating
			if err := limits.CheckAmount(limits.Effective(def, nil, p), p.Amount); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

// TestScaleBPS: ScaleBPS(a, bps) is ⌊a·bps/10 000⌋ for every non-negative
// int64 amount (checked against math/big), without overflow.
func TestScaleBPS(t *testing.T) {
	check := func(a int64, bps uint16) bool {
		if a < 0 {
			a = -(a + 1)
		}
		b := int64(bps) % 10_001
		want := new(big.Int).Div(new(big.Int).Mul(big.NewInt(a), big.NewInt(b)), big.NewInt(10_000))
		return limits.ScaleBPS(a, b) == want.Int64()
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 5000}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []int64{0, 1, 9_999, 10_000, math.MaxInt64} {
		if !check(a, limits.HighRiskShareBPS) {
			t.Errorf("ScaleBPS(%d, %d) wrong", a, limits.HighRiskShareBPS)
		}
	}
}
