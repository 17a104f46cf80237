package contracts

import (
	"errors"
	"strings"

	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// ParseCreditNoteLimits reads credit note limits written as
// "EUR=1000,JPY=100000,BHD=250.500": comma-separated currency=amount pairs,
// amounts in the currency's major unit (money.ParseMajor), for
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
		n, err := money.ParseMajor(amount, cur)
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
