package contracts_test

import (
	"reflect"
	"testing"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/problem"
)

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
