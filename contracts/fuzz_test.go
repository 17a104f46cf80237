package contracts_test

import (
	"encoding/json"
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
		for i, l := range lines {
			if l.Seq != i+1 {
				t.Fatalf("line %d has seq %d", i, l.Seq)
			}
			if l.Kind != contracts.LineRevenueShare && l.Amount < 0 {
				t.Fatalf("negative %s line %+v", l.Kind, l)
			}
		}
	})
}
