// Package money is Bankbridge's one vocabulary for amounts: Money (int64
// minor units and an ISO 4217 currency), the one table of ISO 4217 currencies
// and their minor-unit exponents, the parsers and formatters of decimal amount
// strings (Open Banking's in ParseAmount/FormatAmount, the staff-facing
// major-unit form in ParseMajor/FormatMinor), and exact half-even arithmetic
// for prices and rates. No floats anywhere.
package money

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bankbridge/bankbridge/internal/problem"
)

// Money is an amount in minor units of an ISO 4217 currency (pence for GBP,
// yen for JPY, fils for BHD). Its JSON form is {"amount":…,"currency":…}, as
// contracts has always stored and served it.
type Money struct {
	Minor    int64  `json:"amount"`
	Currency string `json:"currency"`
}

// GBP returns minor pence as GBP Money.
func GBP(minor int64) Money { return Money{Minor: minor, Currency: "GBP"} }

// String renders m as the signed amount in the currency's own decimals
// followed by its currency: "-12.34 GBP", "1234 JPY", "1.234 BHD". It is the
// one written form of an amount on pages, in mails and in refusals.
func (m Money) String() string { return m.Major() + " " + m.Currency }

// Major renders m's signed amount in the currency's major unit with its own
// decimals, without the code: "-12.34" GBP, "1234" JPY, "1.234" BHD
// (FormatMinor).
func (m Money) Major() string { return FormatMinor(m.Minor, m.Currency) }

// Exponent is the minor-unit exponent of the ISO 4217 currency code cur (0 for
// JPY, 2 for GBP, 3 for BHD, 4 for CLF) and whether the table lists cur. Codes
// are matched exactly: "gbp" is not listed.
func Exponent(cur string) (int, bool) {
	exp, ok := exponents[cur]
	return exp, ok
}

// Decimals is the number of decimals ParseMajor and FormatMinor use for
// currency: its Exponent, matched case-insensitively, or 2 for codes the table
// does not list.
func Decimals(currency string) int {
	if exp, ok := exponents[strings.ToUpper(currency)]; ok {
		return exp
	}
	return 2
}

// Currencies returns every currency code the table lists, sorted.
func Currencies() []string {
	codes := make([]string, 0, len(exponents))
	for c := range exponents {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

var obAmount = regexp.MustCompile(`^\d{1,13}$|^\d{1,13}\.\d{1,5}$`)

// ParseAmount parses an Open Banking decimal amount string ("10.50") exactly
// into minor units of currency. It refuses a currency the table does not list
// (exact code), a malformed amount (OB's pattern: up to 13 digits and 5
// decimals), more decimals than the currency has, zero and overflow. The
// errors are plain, for a field error: `currency "XXX" is not supported`,
// `amount "1e3" is not a decimal of up to 13 digits and 5 decimals`,
// `amount "10.505" has more decimals than GBP allows (2)`,
// `amount "…" is too large`, `amount "0.00" must be positive`.
func ParseAmount(s, currency string) (int64, error) {
	exp, ok := Exponent(currency)
	if !ok {
		return 0, fmt.Errorf("currency %q is not supported", currency)
	}
	if !obAmount.MatchString(s) {
		return 0, fmt.Errorf("amount %q is not a decimal of up to 13 digits and 5 decimals", s)
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > exp {
		return 0, fmt.Errorf("amount %q has more decimals than %s allows (%d)", s, currency, exp)
	}
	frac += strings.Repeat("0", exp-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	if n <= 0 {
		return 0, fmt.Errorf("amount %q must be positive", s)
	}
	return n, nil
}

// FormatAmount formats |minor| in currency as an Open Banking decimal string
// with exactly the currency's decimals ("10.50" GBP, "7" JPY, "0.001" BHD);
// codes the table does not list get 2. Open Banking carries the sign
// elsewhere (CreditDebitIndicator).
func FormatAmount(minor int64, currency string) string {
	s := FormatMinor(minor, currency)
	return strings.TrimPrefix(s, "-")
}

// maxMajorLen bounds the decimal strings ParseMajor reads (int64 minor units
// have at most 19 digits).
const maxMajorLen = 32

// ParseMajor reads a non-negative decimal amount in currency's major unit
// ("12.05" EUR, "12" JPY, "1.234" BHD) as minor units, exactly: the amount
// must be digits with an optional decimal point followed by at most as many
// decimals as the currency has (Decimals); "12.5" JPY and "1.2345" BHD
// are refused, not rounded. Surrounding spaces are ignored. Refusals are
// CodeValidation problems: a malformed amount ("amount must be a number such
// as 12.50", no signs, exponents or thousands separators), too many decimals
// ("amount has more decimals than JPY allows (0)"), and amounts beyond int64
// minor units ("amount is too large").
func ParseMajor(s, currency string) (int64, error) {
	exp := Decimals(currency)
	s = strings.TrimSpace(s)
	whole, frac, dot := strings.Cut(s, ".")
	if len(s) > maxMajorLen || whole == "" || !allDigits(whole) || !allDigits(frac) || (dot && frac == "") {
		return 0, problem.New(problem.CodeValidation, "amount must be a number such as %s", exampleMajor(exp))
	}
	if len(frac) > exp {
		return 0, problem.New(problem.CodeValidation, "amount has more decimals than %s allows (%d)", strings.ToUpper(currency), exp)
	}
	frac += strings.Repeat("0", exp-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, problem.New(problem.CodeValidation, "amount is too large")
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// exampleMajor is 12.50 written with exp decimals ("12", "12.50", "12.500").
func exampleMajor(exp int) string {
	if exp == 0 {
		return "12"
	}
	return "12.5" + strings.Repeat("0", exp-1)
}

// FormatMinor renders minor units as a signed decimal string in the
// currency's major unit with the currency's decimals (Decimals): "-12.05" for
// -1205 EUR, "1205" for 1205 JPY, "1.205" for 1205 KWD.
func FormatMinor(minor int64, currency string) string {
	exp := Decimals(currency)
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if exp > 0 {
		for len(s) <= exp {
			s = "0" + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// MicrosPerMinor is how many micro-minor units make one minor unit (unit
// prices are kept in micro-minor units).
const MicrosPerMinor = 1_000_000

// BPSDenominator is 100% in basis points.
const BPSDenominator = 10_000

// MulDivHalfEven returns a×b/den rounded half-even to an integer, computed
// exactly. den must be positive. It panics if the result does not fit in an
// int64.
func MulDivHalfEven(a, b, den int64) int64 {
	num := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	return divHalfEven(num, big.NewInt(den))
}

// divHalfEven divides num by den (den > 0) rounding half to even.
func divHalfEven(num, den *big.Int) int64 {
	if den.Sign() <= 0 {
		panic("money: non-positive denominator")
	}
	q, r := new(big.Int), new(big.Int)
	q.QuoRem(num, den, r) // truncated toward zero; r has num's sign
	twice := new(big.Int).Abs(r)
	twice.Lsh(twice, 1)
	switch twice.Cmp(den) {
	case 1:
		q.Add(q, big.NewInt(int64(num.Sign())))
	case 0:
		if q.Bit(0) == 1 { // odd: move away from zero to the even neighbour
			q.Add(q, big.NewInt(int64(num.Sign())))
		}
	}
	if !q.IsInt64() {
		panic(fmt.Sprintf("money: amount %s overflows int64", q))
	}
	return q.Int64()
}
