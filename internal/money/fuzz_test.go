package money_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
)

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
		n, err := money.ParseMajor(s, currency)
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
		if len(frac) > money.Decimals(currency) || whole == "" {
			t.Fatalf("ParseMajor(%q, %q) = %d accepted too many decimals", s, currency, n)
		}
		back := money.FormatMinor(n, currency)
		if again, err := money.ParseMajor(back, currency); err != nil || again != n {
			t.Fatalf("%q %s → %d → %q → %d, %v", s, currency, n, back, again, err)
		}
	})
}

// FuzzParseAmount: whatever a partner sends, ParseAmount never panics, and what
// it accepts formats back to the same value.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"10.50", "0.01", "9999999999999.99999", "1.", ".5", "1e2", "١٢", "00.10"} {
		f.Add(s, "GBP")
	}
	f.Add("12", "JPY")
	f.Fuzz(func(t *testing.T, s, cur string) {
		n, err := money.ParseAmount(s, cur)
		if err != nil {
			return
		}
		m, err := money.ParseAmount(money.FormatAmount(n, cur), cur)
		if err != nil || m != n || n <= 0 {
			t.Fatalf("%q %s: %d → %q → %d %v", s, cur, n, money.FormatAmount(n, cur), m, err)
		}
	})
}
