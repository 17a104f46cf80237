package contracts_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/bankbridge/bankbridge/contracts"
)

func TestMulDivHalfEven(t *testing.T) {
	for _, tc := range []struct {
		name      string
		a, b, den int64
		want      int64
	}{
		{"ok/exact", 10, 5, 10, 5},
		{"ok/zero", 0, 123, 10, 0},
		{"ok/0.5-to-even-0", 1, 5, 10, 0},
		{"ok/1.5-to-2", 3, 5, 10, 2},
		{"ok/2.5-to-2", 5, 5, 10, 2},
		{"ok/3.5-to-4", 7, 5, 10, 4},
		{"ok/below-half", 4, 1, 10, 0},
		{"ok/above-half", 6, 1, 10, 1},
		{"ok/just-above-half", 500001, 1, 1000000, 1},
		{"ok/-0.5-to-0", -1, 5, 10, 0},
		{"ok/-1.5-to--2", -3, 5, 10, -2},
		{"ok/-2.5-to--2", -5, 5, 10, -2},
		{"ok/-0.6-to--1", -6, 1, 10, -1},
		{"ok/-0.4-to-0", -4, 1, 10, 0},
		{"ok/bps", 35001, 15, 10000, 53},
		{"ok/micros-quarter", 2, 250000, 1000000, 0},
		{"ok/micros-three-quarters", 3, 250000, 1000000, 1},
		{"ok/huge-no-overflow", math.MaxInt64, 10000, 10000, math.MaxInt64},
		{"ok/huge-product", 4_000_000_000, 3_000_000_000, 1_000_000, 12_000_000_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := contracts.MulDivHalfEven(tc.a, tc.b, tc.den); got != tc.want {
				t.Fatalf("MulDivHalfEven(%d, %d, %d) = %d, want %d", tc.a, tc.b, tc.den, got, tc.want)
			}
		})
	}
	t.Run("fail/overflow-panics", func(t *testing.T) {
		defer func() {
			if r := recover(); r != "contracts: amount 92233720368547758070 overflows int64" {
				t.Fatalf("recover %v", r)
			}
		}()
		contracts.MulDivHalfEven(math.MaxInt64, 10, 1)
	})
}

func TestFormatMinor(t *testing.T) {
	for _, tc := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{1205, "EUR", "12.05"}, {-1205, "EUR", "-12.05"}, {5, "EUR", "0.05"}, {-5, "GBP", "-0.05"}, {0, "EUR", "0.00"},
		{1205, "JPY", "1205"}, {1205, "KWD", "1.205"}, {math.MinInt64, "EUR", "-92233720368547758.08"},
	} {
		if got := contracts.FormatMinor(tc.amount, tc.currency); got != tc.want {
			t.Errorf("FormatMinor(%d, %s) = %q, want %q", tc.amount, tc.currency, got, tc.want)
		}
	}
}

func TestGraduatedCharges(t *testing.T) {
	tiers := []contracts.Tier{{From: 0, To: 1000, UnitPriceMicros: 500_000}, {From: 1000, To: 10_000, UnitPriceMicros: 300_000}, {From: 10_000, UnitPriceMicros: 100_000}}
	c := func(from, to, q, price, amt int64) contracts.TierCharge {
		return contracts.TierCharge{From: from, To: to, Quantity: q, UnitPriceMicros: price, Amount: amt}
	}
	for _, tc := range []struct {
		name  string
		calls int64
		want  []contracts.TierCharge
	}{
		{"ok/zero-usage", 0, nil},
		{"ok/one-call-rounds-half-to-even-0", 1, []contracts.TierCharge{c(0, 1000, 1, 500_000, 0)}},
		{"ok/three-calls-1.5-to-2", 3, []contracts.TierCharge{c(0, 1000, 3, 500_000, 2)}},
		{"ok/exactly-at-boundary", 1000, []contracts.TierCharge{c(0, 1000, 1000, 500_000, 500)}},
		{"ok/one-over-boundary", 1001, []contracts.TierCharge{c(0, 1000, 1000, 500_000, 500), c(1000, 10_000, 1, 300_000, 0)}},
		{"ok/exactly-at-second-boundary", 10_000, []contracts.TierCharge{c(0, 1000, 1000, 500_000, 500), c(1000, 10_000, 9000, 300_000, 2700)}},
		{"ok/one-over-second-boundary", 10_001, []contracts.TierCharge{c(0, 1000, 1000, 500_000, 500), c(1000, 10_000, 9000, 300_000, 2700), c(10_000, 0, 1, 100_000, 0)}},
		{"ok/huge", 5_000_000_000_000, []contracts.TierCharge{c(0, 1000, 1000, 500_000, 500), c(1000, 10_000, 9000, 300_000, 2700),
			c(10_000, 0, 4_999_999_990_000, 100_000, 499_999_999_000)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := contracts.GraduatedCharges(tiers, tc.calls); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestShareRate(t *testing.T) {
	r := contracts.RevenueShare{Tiers: []contracts.ShareTier{{From: 0, To: 100, BPS: 1000}, {From: 100, To: 0, BPS: 2500}}}
	for _, tc := range []struct {
		volume, want int64
	}{{0, 1000}, {99, 1000}, {100, 2500}, {1 << 60, 2500}} {
		if got := contracts.ShareRate(r, tc.volume); got != tc.want {
			t.Errorf("ShareRate(%d) = %d, want %d", tc.volume, got, tc.want)
		}
	}
	if got := contracts.ShareRate(contracts.RevenueShare{}, 5); got != 0 {
		t.Errorf("no tiers: %d", got)
	}
}
