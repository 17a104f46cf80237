package limits_test

import (
	"errors"
	"testing"

	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/risk/limits"
)

// FuzzParseRule feeds the console's propose form (outside input) to
// ParseRule: it never panics; a refusal is a validation problem; a rule it
// accepts is valid, and its limit shown in major units parses back to the
// same minor units. Seeds: testdata/fuzz/FuzzParseRule.
func FuzzParseRule(f *testing.F) {
	f.Add("production", "GBP", "partner", "ptn_1", "per_day", "20.00", "", "")
	f.Add("sandbox", "JPY", "platform", "", "per_payment", "30000", "", "")
	f.Add("production", "BHD", "customer", "cus_1", "per_month", "1.250", "", "")
	f.Add("production", "GBP", "app", "app_1", "velocity", "", "3", "60")
	f.Fuzz(func(t *testing.T, env, currency, scope, subject, kind, amount, count, window string) {
		r, err := limits.ParseRule(limits.ProposalInput{Op: limits.OpCreate, Environment: env, Currency: currency, Scope: scope,
			SubjectID: subject, Kind: kind, Amount: amount, Count: count, WindowSeconds: window})
		if err != nil {
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Code != problem.CodeValidation || pe.Detail == "" {
				t.Fatalf("refusal %v is not a validation problem", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted an invalid rule %+v: %v", r, err)
		}
		if r.Kind != limits.KindVelocity {
			back, _, _, err := limits.ParseBound(limits.ProposalInput{Amount: money.FormatMinor(r.Amount, r.Currency)}, r.Kind, r.Currency)
			if err != nil || back != r.Amount {
				t.Fatalf("%d %s shown as %q reads back as %d, %v", r.Amount, r.Currency, money.FormatMinor(r.Amount, r.Currency), back, err)
			}
		}
	})
}
