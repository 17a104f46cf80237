package contracts_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/bankbridge/bankbridge/contracts"
)

func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"2026-10", "2026-13", "0000-01", "9999-12", "2026-1", "2026-010", "", "２０２６-10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, err := contracts.ParsePeriod(s)
		if err != nil {
			return
		}
		if contracts.PeriodOf(start) != s || !end.Equal(start.AddDate(0, 1, 0)) || start.Day() != 1 || start.Location().String() != "UTC" {
			t.Fatalf("%q → %v %v", s, start, end)
		}
	})
}

// FuzzTermsJSON: terms decoded from any JSON either fail validation or settle any
// usage without panicking, with lines summing to no more than the fees charged.
//
// For terms that validate, the body checks: the terms survive a JSON round trip
// (they marshal, decode again, still validate and price the same usage to the
// same lines); lines are numbered 1…n and are of the kinds usage produces; every
// line but the revenue share is non-negative and the share is not positive and
// at most the payment fees it shares; each product's call lines count exactly
// its calls; the minimum top-up is there exactly when the fees fall short of the
// monthly minimum and lifts them to it; and the lines sum to between 0 and the
// fees charged (call and payment fees plus any top-up).
func FuzzTermsJSON(f *testing.F) {
	std, _ := json.Marshal(standardTerms())
	f.Add(string(std), int64(1001), int64(3), int64(35001))
	f.Add(`{"start":"2026-01-01T00:00:00Z","end":"2027-01-01T00:00:00Z","currency":"EUR","fee_schedule":{"call_fees":[{"product":"accounts","tiers":[{"from":0,"to":0,"unit_price_micros":1000000000000}]}],"payment_fee":{"fixed_minor":1000000000,"bps":10000},"monthly_minimum":1000000000000000},"revenue_share":{"tiers":[{"from":0,"to":0,"bps":10000}]}}`,
		int64(1_000_000_000), int64(1_000_000_000), int64(1_000_000_000_000))
	f.Add(`{"currency":"EUR"}`, int64(0), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, raw string, calls, payments, value int64) {
		var terms contracts.Terms
		if json.Unmarshal([]byte(raw), &terms) != nil || terms.Validate() != nil {
			return
		}
		if calls < 0 || payments < 0 || value < 0 || calls > 1e12 || payments > 1e9 || value > 1e15 {
			return
		}
		u := contracts.UsageTotals{Calls: map[string]int64{"accounts": calls, "unknown": calls / 2}, Payments: payments, PaymentValue: value}
		lines := contracts.ComputeLines(terms, u, nil)

		// Round trip: what the platform stores is what it prices.
		b, err := json.Marshal(terms)
		if err != nil {
			t.Fatalf("valid terms do not marshal: %v", err)
		}
		var again contracts.Terms
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("marshalled terms do not decode: %v\n%s", err, b)
		}
		if err := again.Validate(); err != nil {
			t.Fatalf("terms fail validation after a JSON round trip: %v\n%s", err, b)
		}
		if b2, _ := json.Marshal(again); string(b2) != string(b) {
			t.Fatalf("JSON round trip changed the terms:\n%s\n%s", b, b2)
		}
		if got := contracts.ComputeLines(again, u, nil); !reflect.DeepEqual(got, lines) {
			t.Fatalf("terms price differently after a JSON round trip:\n%+v\n%+v", lines, got)
		}

		var fees, paymentFees, share, topUp, total int64
		quantity := map[string]int64{}
		shares, topUps := 0, 0
		for i, l := range lines {
			if l.Seq != i+1 {
				t.Fatalf("line %d has seq %d", i, l.Seq)
			}
			if l.Kind != contracts.LineRevenueShare && l.Amount < 0 {
				t.Fatalf("negative %s line %+v", l.Kind, l)
			}
			switch l.Kind {
			case contracts.LineCallFee:
				fees += l.Amount
				quantity[l.Product] += l.Quantity
			case contracts.LinePaymentFixedFee, contracts.LinePaymentValueFee:
				fees += l.Amount
				paymentFees += l.Amount
			case contracts.LineRevenueShare:
				if l.Amount > 0 {
					t.Fatalf("positive revenue share line %+v", l)
				}
				share += l.Amount
				shares++
			case contracts.LineMinimumTopUp:
				topUp += l.Amount
				topUps++
			default:
				t.Fatalf("line %+v of kind %q without adjustments", l, l.Kind)
			}
			total += l.Amount
		}
		if shares > 1 || topUps > 1 {
			t.Fatalf("%d revenue share and %d top-up lines: %+v", shares, topUps, lines)
		}
		if -share > paymentFees {
			t.Fatalf("revenue share %d exceeds the payment fees %d: %+v", -share, paymentFees, lines)
		}
		for p, n := range u.Calls {
			if quantity[p] != n {
				t.Fatalf("%s call lines count %d calls, usage has %d: %+v", p, quantity[p], n, lines)
			}
		}
		if min := terms.FeeSchedule.MonthlyMinimum; (min > fees) != (topUps == 1) || (topUps == 1 && fees+topUp != min) {
			t.Fatalf("fees %d, minimum %d, top-up %d (%d lines)", fees, min, topUp, topUps)
		}
		if charged := fees + topUp; total < 0 || total > charged {
			t.Fatalf("lines sum to %d, fees charged %d: %+v", total, charged, lines)
		}
	})
}
