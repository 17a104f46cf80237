package contracts

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/bankbridge/bankbridge/internal/problem"
)

// Money is an amount in minor units of an ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// MicrosPerMinor is how many micro-minor units make one minor unit.
const MicrosPerMinor = 1_000_000

// BPSDenominator is 100% in basis points.
const BPSDenominator = 10_000

// MulDivHalfEven returns a×b/den rounded half-even to an integer, computed exactly.
// den must be positive. It panics if the result does not fit in an int64.
func MulDivHalfEven(a, b, den int64) int64 {
	num := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	return divHalfEven(num, big.NewInt(den))
}

// divHalfEven divides num by den (den > 0) rounding half to even.
func divHalfEven(num, den *big.Int) int64 {
	if den.Sign() <= 0 {
		panic("contracts: non-positive denominator")
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
		panic(fmt.Sprintf("contracts: amount %s overflows int64", q))
	}
	return q.Int64()
}

// minorExponent is the number of decimals of a currency's minor unit: every
// ISO 4217 currency whose minor unit is not the hundredth (list one, 2024
// edition); currencies not listed have 2. The funds codes with four decimals
// (CLF, UYW) are listed too.
var minorExponent = map[string]int{
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"CLF": 4, "UYW": 4,
}

// MinorExponent is the number of decimals of currency's minor unit (ISO 4217):
// 0 for JPY, 2 for GBP, 3 for BHD. Currencies the table does not list have 2.
func MinorExponent(currency string) int {
	if exp, ok := minorExponent[strings.ToUpper(currency)]; ok {
		return exp
	}
	return 2
}

// maxMajorLen bounds the decimal strings ParseMajor reads (int64 minor units
// have at most 19 digits).
const maxMajorLen = 32

// ParseMajor reads a non-negative decimal amount in currency's major unit
// ("12.05" EUR, "12" JPY, "1.234" BHD) as minor units, exactly: the amount
// must be digits with an optional decimal point followed by at most as many
// decimals as the currency has (MinorExponent); "12.5" JPY and "1.2345" BHD
// are refused, not rounded. Surrounding spaces are ignored. Refusals are
// CodeValidation problems: a malformed amount ("amount must be a number such
// as 12.50", no signs, exponents or thousands separators), too many decimals
// ("amount has more decimals than JPY allows (0)"), and amounts beyond int64
// minor units ("amount is too large").
func ParseMajor(s, currency string) (int64, error) {
	exp := MinorExponent(currency)
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

// FormatMinor renders minor units as a decimal string in the currency's major
// unit ("-12.05" for -1205 EUR), for CSV exports and pages.
func FormatMinor(amount int64, currency string) string {
	exp := MinorExponent(currency)
	neg := amount < 0
	u := uint64(amount)
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

// String renders m as "12.05 EUR".
func (m Money) String() string { return FormatMinor(m.Amount, m.Currency) + " " + m.Currency }

// ParseCreditNoteLimits reads credit note limits written as
// "EUR=1000,JPY=100000,BHD=250.500": comma-separated currency=amount pairs,
// amounts in the currency's major unit (ParseMajor), for
// Options.CreditNoteLimits. An empty string is no limits (every currency uses
// DefaultCreditNoteLimit). Refusals are CodeValidation problems naming the
// pair.
func ParseCreditNoteLimits(s string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		cur, amount, ok := strings.Cut(pair, "=")
		cur = strings.ToUpper(strings.TrimSpace(cur))
		if !ok || !currencyRE.MatchString(cur) {
			return nil, problem.New(problem.CodeValidation, "credit note limit %q must be CUR=amount, e.g. EUR=1000", pair)
		}
		if _, dup := out[cur]; dup {
			return nil, problem.New(problem.CodeValidation, "credit note limit for %s is given twice", cur)
		}
		n, err := ParseMajor(amount, cur)
		if err != nil {
			var p *problem.Error
			if errors.As(err, &p) {
				return nil, problem.New(problem.CodeValidation, "credit note limit for %s: %s", cur, p.Detail)
			}
			return nil, err
		}
		out[cur] = n
	}
	return out, nil
}
