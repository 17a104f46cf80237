package money_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// wantProblem asserts err is a problem with exactly this code and detail.
func wantProblem(t *testing.T, err error, code problem.Code, detail string) {
	t.Helper()
	var p *problem.Error
	if !errors.As(err, &p) {
		t.Fatalf("error %v, want problem %s %q", err, code, detail)
	}
	if p.Code != code || p.Detail != detail {
		t.Fatalf("problem %s %q, want %s %q", p.Code, p.Detail, code, detail)
	}
}

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
			if got := money.MulDivHalfEven(tc.a, tc.b, tc.den); got != tc.want {
				t.Fatalf("MulDivHalfEven(%d, %d, %d) = %d, want %d", tc.a, tc.b, tc.den, got, tc.want)
			}
		})
	}
	t.Run("fail/overflow-panics", func(t *testing.T) {
		defer func() {
			if r := recover(); r != "money: amount 92233720368547758070 overflows int64" {
				t.Fatalf("recover %v", r)
			}
		}()
		money.MulDivHalfEven(math.MaxInt64, 10, 1)
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
		if got := money.FormatMinor(tc.amount, tc.currency); got != tc.want {
			t.Errorf("FormatMinor(%d, %s) = %q, want %q", tc.amount, tc.currency, got, tc.want)
		}
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
			got, err := money.ParseMajor(tc.in, tc.currency)
			if tc.detail != "" {
				wantProblem(t, err, problem.CodeValidation, tc.detail)
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseMajor(%q, %s) = %d, %v; want %d", tc.in, tc.currency, got, err, tc.want)
			}
			if back := money.FormatMinor(got, tc.currency); tc.name != "ok/gbp-spaces" && tc.name != "ok/jpy-leading-zeros" {
				if again, err := money.ParseMajor(back, tc.currency); err != nil || again != got {
					t.Fatalf("round trip %q → %d → %q → %d, %v", tc.in, got, back, again, err)
				}
			}
		})
	}
}

func TestDecimals(t *testing.T) {
	for cur, want := range map[string]int{"JPY": 0, "jpy": 0, "KRW": 0, "GBP": 2, "EUR": 2, "USD": 2, "BHD": 3, "KWD": 3, "TND": 3, "CLF": 4, "ZZZ": 2} {
		if got := money.Decimals(cur); got != want {
			t.Errorf("Decimals(%s) = %d, want %d", cur, got, want)
		}
	}
}

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		name, in, cur string
		want          int64
		err           string
	}{
		{"ok/pounds and pence", "10.50", "GBP", 1050, ""},
		{"ok/one decimal", "10.5", "GBP", 1050, ""},
		{"ok/whole", "7", "GBP", 700, ""},
		{"ok/yen", "1200", "JPY", 1200, ""},
		{"ok/three decimals", "1.234", "BHD", 1234, ""},
		{"ok/13 digits", "9999999999999.99", "GBP", 999999999999999, ""},
		{"ok/any-table-currency-isk", "1200", "ISK", 1200, ""},
		{"ok/any-table-currency-clf", "1.2345", "CLF", 12345, ""},
		{"fail/no-minor-unit-xau", "1", "XAU", 0, `currency "XAU" is not supported`},
		{"fail/too many decimals", "10.505", "GBP", 0, `amount "10.505" has more decimals than GBP allows (2)`},
		{"fail/trailing zero beyond exponent", "10.500", "GBP", 0, `amount "10.500" has more decimals than GBP allows (2)`},
		{"fail/decimals on yen", "1.5", "JPY", 0, `amount "1.5" has more decimals than JPY allows (0)`},
		{"fail/zero", "0.00", "GBP", 0, `amount "0.00" must be positive`},
		{"fail/negative", "-1.00", "GBP", 0, `amount "-1.00" is not a decimal of up to 13 digits and 5 decimals`},
		{"fail/exponent", "1e3", "GBP", 0, `amount "1e3" is not a decimal of up to 13 digits and 5 decimals`},
		{"fail/empty", "", "GBP", 0, `amount "" is not a decimal of up to 13 digits and 5 decimals`},
		{"fail/spaces", " 1.00", "GBP", 0, `amount " 1.00" is not a decimal of up to 13 digits and 5 decimals`},
		{"fail/14 digits", "12345678901234", "GBP", 0, `amount "12345678901234" is not a decimal of up to 13 digits and 5 decimals`},
		{"fail/unknown currency", "1.00", "XXX", 0, `currency "XXX" is not supported`},
		{"fail/lower-case currency", "1.00", "gbp", 0, `currency "gbp" is not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := money.ParseAmount(tc.in, tc.cur)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %d, %v; want %d", got, err, tc.want)
			}
			if back := money.FormatAmount(got, tc.cur); tc.name != "ok/one decimal" && tc.name != "ok/whole" && back != tc.in {
				t.Fatalf("FormatAmount = %s, want %s", back, tc.in)
			}
		})
	}
}

func TestFormatAmount(t *testing.T) {
	for _, tc := range []struct {
		minor int64
		cur   string
		want  string
	}{{5, "GBP", "0.05"}, {-1050, "GBP", "10.50"}, {0, "GBP", "0.00"}, {7, "JPY", "7"}, {1, "BHD", "0.001"}} {
		if got := money.FormatAmount(tc.minor, tc.cur); got != tc.want {
			t.Errorf("FormatAmount(%d, %s) = %s, want %s", tc.minor, tc.cur, got, tc.want)
		}
	}
}

func TestExponent(t *testing.T) {
	for _, tc := range []struct {
		name string
		cur  string
		want int
		ok   bool
	}{
		{"ok/gbp", "GBP", 2, true},
		{"ok/eur", "EUR", 2, true},
		{"ok/jpy", "JPY", 0, true},
		{"ok/krw", "KRW", 0, true},
		{"ok/isk", "ISK", 0, true},
		{"ok/bhd", "BHD", 3, true},
		{"ok/kwd", "KWD", 3, true},
		{"ok/tnd", "TND", 3, true},
		{"ok/clf", "CLF", 4, true},
		{"ok/uyw", "UYW", 4, true},
		{"ok/xcg", "XCG", 2, true},
		{"ok/zwg", "ZWG", 2, true},
		{"fail/no-currency-xxx", "XXX", 0, false},
		{"fail/gold-xau", "XAU", 0, false},
		{"fail/testing-xts", "XTS", 0, false},
		{"fail/withdrawn-hrk", "HRK", 0, false},
		{"fail/unknown", "XYZ", 0, false},
		{"fail/lower-case", "gbp", 0, false},
		{"fail/empty", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := money.Exponent(tc.cur); got != tc.want || ok != tc.ok {
				t.Fatalf("Exponent(%q) = %d, %v; want %d, %v", tc.cur, got, ok, tc.want, tc.ok)
			}
		})
	}
	codes := money.Currencies()
	if len(codes) != 164 || !slices.IsSorted(codes) {
		t.Fatalf("Currencies() = %d codes (sorted %v), want 164 sorted", len(codes), slices.IsSorted(codes))
	}
	for _, c := range codes {
		if _, ok := money.Exponent(c); !ok || len(c) != 3 || strings.ToUpper(c) != c {
			t.Fatalf("Currencies() lists %q", c)
		}
	}
}

func TestMoneyString(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    money.Money
		want string
	}{
		{"ok/gbp", money.GBP(1234), "12.34 GBP"},
		{"ok/gbp-negative", money.GBP(-1234), "-12.34 GBP"},
		{"ok/gbp-pence", money.GBP(-5), "-0.05 GBP"},
		{"ok/jpy-no-decimals", money.Money{Minor: 1234, Currency: "JPY"}, "1234 JPY"},
		{"ok/bhd-three-decimals", money.Money{Minor: 1234, Currency: "BHD"}, "1.234 BHD"},
		{"ok/clf-four-decimals", money.Money{Minor: 12345, Currency: "CLF"}, "1.2345 CLF"},
		{"ok/unlisted-two-decimals", money.Money{Minor: 1234, Currency: "XAU"}, "12.34 XAU"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.String(); got != tc.want {
				t.Fatalf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMoneyJSON(t *testing.T) {
	b, err := json.Marshal(money.Money{Minor: 1050, Currency: "EUR"})
	if err != nil || string(b) != `{"amount":1050,"currency":"EUR"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var m money.Money
	if err := json.Unmarshal([]byte(`{"amount":-7,"currency":"JPY"}`), &m); err != nil || m != (money.Money{Minor: -7, Currency: "JPY"}) {
		t.Fatalf("Unmarshal = %+v, %v", m, err)
	}
}

// TestProperties checks, for every currency of the table and many amounts
// (a fixed pseudo-random sequence, so failures reproduce), that the
// formatters and parsers are inverse, that String agrees with FormatMinor,
// and that MulDivHalfEven agrees with exact rational rounding.
func TestProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 4217))
	amounts := []int64{1, 9, 10, 99, 100, 101, 999, 1000, 1001, 123456789, 9_999_999_999_999}
	for range 200 {
		amounts = append(amounts, 1+rng.Int64N(9_999_999_999_999))
	}
	for _, cur := range money.Currencies() {
		exp, ok := money.Exponent(cur)
		if !ok {
			t.Fatalf("%s not listed", cur)
		}
		for _, n := range amounts {
			// OB amounts have at most 13 whole digits.
			if len(strconv.FormatInt(n, 10))-exp > 13 {
				continue
			}
			ob := money.FormatAmount(n, cur)
			if back, err := money.ParseAmount(ob, cur); err != nil || back != n {
				t.Fatalf("%s %d → %q → %d, %v", cur, n, ob, back, err)
			}
			if money.FormatAmount(-n, cur) != ob {
				t.Fatalf("FormatAmount(-%d, %s) is not FormatAmount(%d)", n, cur, n)
			}
			for _, v := range []int64{n, -n} {
				major := money.FormatMinor(v, cur)
				if _, frac, _ := strings.Cut(major, "."); len(frac) != exp {
					t.Fatalf("FormatMinor(%d, %s) = %q has %d decimals, want %d", v, cur, major, len(frac), exp)
				}
				if m := (money.Money{Minor: v, Currency: cur}); m.Major() != major {
					t.Fatalf("Major = %q, want %q", m.Major(), major)
				}
				if s := (money.Money{Minor: v, Currency: cur}).String(); s != major+" "+cur {
					t.Fatalf("String = %q, want %q", s, major+" "+cur)
				}
				if v > 0 {
					if back, err := money.ParseMajor(major, cur); err != nil || back != v {
						t.Fatalf("%s %d → %q → %d, %v", cur, v, major, back, err)
					}
				}
			}
		}
	}
	for range 2000 {
		a, b, den := rng.Int64N(1<<40)-1<<39, rng.Int64N(1<<20)-1<<19, 1+rng.Int64N(1_000_000)
		got := money.MulDivHalfEven(a, b, den)
		exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(a), big.NewInt(b)), big.NewInt(den))
		// |exact - got| must be at most 1/2, and exactly 1/2 only towards an even got.
		diff := new(big.Rat).Sub(exact, new(big.Rat).SetInt64(got))
		half := big.NewRat(1, 2)
		switch c := new(big.Rat).Abs(diff).Cmp(half); {
		case c > 0:
			t.Fatalf("MulDivHalfEven(%d, %d, %d) = %d, off by %s", a, b, den, got, diff)
		case c == 0 && got%2 != 0:
			t.Fatalf("MulDivHalfEven(%d, %d, %d) = %d, tie not to even", a, b, den, got)
		}
	}
}
