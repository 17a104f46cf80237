package contracts_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/problem"
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

// FuzzParseMajor: any string either parses to a non-negative amount that
// FormatMinor writes back and ParseMajor reads again to the same amount, or is
// refused with a validation problem; never a panic, never a rounded amount.
func FuzzParseMajor(f *testing.F) {
	for _, seed := range []struct{ s, cur string }{
		{"12.05", "GBP"}, {"12", "JPY"}, {"12.5", "JPY"}, {"1.234", "BHD"}, {"1.2345", "BHD"}, {"1.2345", "CLF"},
		{"", "EUR"}, {"-1", "EUR"}, {"1e3", "EUR"}, {"92233720368547758.07", "GBP"}, {"9223372036854775808", "JPY"}, {" 0.5 ", "gbp"},
	} {
		f.Add(seed.s, seed.cur)
	}
	f.Fuzz(func(t *testing.T, s, currency string) {
		n, err := contracts.ParseMajor(s, currency)
		if err != nil {
			var p *problem.Error
			if !errors.As(err, &p) || p.Code != problem.CodeValidation {
				t.Fatalf("ParseMajor(%q, %q): %v is not a validation problem", s, currency, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("ParseMajor(%q, %q) = %d < 0", s, currency, n)
		}
		whole, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
		if len(frac) > contracts.MinorExponent(currency) || whole == "" {
			t.Fatalf("ParseMajor(%q, %q) = %d accepted too many decimals", s, currency, n)
		}
		back := contracts.FormatMinor(n, currency)
		if again, err := contracts.ParseMajor(back, currency); err != nil || again != n {
			t.Fatalf("%q %s → %d → %q → %d, %v", s, currency, n, back, again, err)
		}
	})
}
