package contracts_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/problem"
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

func TestParseMajor(t *testing.T) {
	for _, tc := range []struct {
		name, in, currency string
		want               int64
		detail             string
	}{
		{"ok/gbp-two-decimals", "12.05", "GBP", 1205, ""},
		{"ok/gbp-one-decimal", "12.5", "GBP", 1250, ""},
		{"ok/gbp-whole", "12", "GBP", 1200, ""},
		{"ok/gbp-spaces", " 0.05 ", "GBP", 5, ""},
		{"ok/gbp-zero", "0", "GBP", 0, ""},
		{"ok/gbp-lower-case-code", "1.10", "gbp", 110, ""},
		{"ok/jpy-whole", "12", "JPY", 12, ""},
		{"ok/jpy-leading-zeros", "0012", "JPY", 12, ""},
		{"ok/bhd-three-decimals", "1.234", "BHD", 1234, ""},
		{"ok/bhd-one-decimal", "1.2", "BHD", 1200, ""},
		{"ok/bhd-whole", "12", "BHD", 12000, ""},
		{"ok/clf-four-decimals", "1.2345", "CLF", 12345, ""},
		{"ok/unlisted-has-two", "3.99", "EUR", 399, ""},
		{"ok/max-int64", "92233720368547758.07", "GBP", math.MaxInt64, ""},
		{"fail/jpy-decimal", "12.5", "JPY", 0, "amount has more decimals than JPY allows (0)"},
		{"fail/jpy-zero-decimal", "12.0", "JPY", 0, "amount has more decimals than JPY allows (0)"},
		{"fail/bhd-four-decimals", "1.2345", "BHD", 0, "amount has more decimals than BHD allows (3)"},
		{"fail/gbp-three-decimals", "1.005", "GBP", 0, "amount has more decimals than GBP allows (2)"},
		{"fail/empty", "", "GBP", 0, "amount must be a number such as 12.50"},
		{"fail/empty-jpy", " ", "JPY", 0, "amount must be a number such as 12"},
		{"fail/negative", "-3", "GBP", 0, "amount must be a number such as 12.50"},
		{"fail/plus", "+3", "GBP", 0, "amount must be a number such as 12.50"},
		{"fail/trailing-dot", "12.", "GBP", 0, "amount must be a number such as 12.50"},
		{"fail/leading-dot", ".5", "BHD", 0, "amount must be a number such as 12.500"},
		{"fail/two-dots", "1.2.3", "GBP", 0, "amount must be a number such as 12.50"},
		{"fail/comma-decimal", "12,50", "GBP", 0, "amount must be a number such as 12.50"},
		{"fail/thousands", "1,200", "JPY", 0, "amount must be a number such as 12"},
		{"fail/exponent", "1e3", "GBP", 0, "amount must be a number such as 12.50"},
		{"fail/inner-space", "1 200", "GBP", 0, "amount must be a number such as 12.50"},
		{"fail/letters", "twelve", "GBP", 0, "amount must be a number such as 12.50"},
		{"fail/fullwidth-digits", "１２", "JPY", 0, "amount must be a number such as 12"},
		{"fail/currency-suffix", "12 GBP", "GBP", 0, "amount must be a number such as 12.50"},
		{"fail/overflow", "92233720368547758.08", "GBP", 0, "amount is too large"},
		{"fail/overflow-jpy", "9223372036854775808", "JPY", 0, "amount is too large"},
		{"fail/too-long", "000000000000000000000000000000001", "JPY", 0, "amount must be a number such as 12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := contracts.ParseMajor(tc.in, tc.currency)
			if tc.detail != "" {
				wantProblem(t, err, problem.CodeValidation, tc.detail)
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseMajor(%q, %s) = %d, %v; want %d", tc.in, tc.currency, got, err, tc.want)
			}
			if back := contracts.FormatMinor(got, tc.currency); tc.name != "ok/gbp-spaces" && tc.name != "ok/jpy-leading-zeros" {
				if again, err := contracts.ParseMajor(back, tc.currency); err != nil || again != got {
					t.Fatalf("round trip %q → %d → %q → %d, %v", tc.in, got, back, again, err)
				}
			}
		})
	}
}

func TestMinorExponent(t *testing.T) {
	for cur, want := range map[string]int{"JPY": 0, "jpy": 0, "KRW": 0, "GBP": 2, "EUR": 2, "USD": 2, "BHD": 3, "KWD": 3, "TND": 3, "CLF": 4, "ZZZ": 2} {
		if got := contracts.MinorExponent(cur); got != want {
			t.Errorf("MinorExponent(%s) = %d, want %d", cur, got, want)
		}
	}
}

func TestParseCreditNoteLimits(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]int64
		detail   string
	}{
		{"ok/empty", "", map[string]int64{}, ""},
		{"ok/several", "EUR=1000, jpy=100000,BHD=250.5", map[string]int64{"EUR": 100000, "JPY": 100000, "BHD": 250500}, ""},
		{"ok/zero-means-always", "GBP=0", map[string]int64{"GBP": 0}, ""},
		{"fail/no-amount", "EUR", nil, `credit note limit "EUR" must be CUR=amount, e.g. EUR=1000`},
		{"fail/bad-currency", "EURO=5", nil, `credit note limit "EURO=5" must be CUR=amount, e.g. EUR=1000`},
		{"fail/jpy-decimals", "JPY=10.5", nil, "credit note limit for JPY: amount has more decimals than JPY allows (0)"},
		{"fail/twice", "EUR=1,eur=2", nil, "credit note limit for EUR is given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := contracts.ParseCreditNoteLimits(tc.in)
			if tc.detail != "" {
				wantProblem(t, err, problem.CodeValidation, tc.detail)
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%v %v, want %v", got, err, tc.want)
			}
		})
	}
}
