package contracts

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
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

// minorExponent is the number of decimals of a currency's minor unit (ISO 4217);
// currencies not listed have 2.
var minorExponent = map[string]int{
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLP": 0, "ISK": 0, "JPY": 0, "KRW": 0, "PYG": 0, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0,
}

// FormatMinor renders minor units as a decimal string in the currency's major
// unit ("-12.05" for -1205 EUR), for CSV exports and pages.
func FormatMinor(amount int64, currency string) string {
	exp, ok := minorExponent[strings.ToUpper(currency)]
	if !ok {
		exp = 2
	}
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
