package apis_test

import (
	"errors"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/problem"
)

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
			got, err := apis.ParseAmount(tc.in, tc.cur)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %d, %v; want %d", got, err, tc.want)
			}
			if back := apis.FormatAmount(got, tc.cur); tc.name != "ok/one decimal" && tc.name != "ok/whole" && back != tc.in {
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
		if got := apis.FormatAmount(tc.minor, tc.cur); got != tc.want {
			t.Errorf("FormatAmount(%d, %s) = %s, want %s", tc.minor, tc.cur, got, tc.want)
		}
	}
}

// FuzzParseAmount: whatever a partner sends, ParseAmount never panics, and what
// it accepts formats back to the same value.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"10.50", "0.01", "9999999999999.99999", "1.", ".5", "1e2", "١٢", "00.10"} {
		f.Add(s, "GBP")
	}
	f.Add("12", "JPY")
	f.Fuzz(func(t *testing.T, s, cur string) {
		n, err := apis.ParseAmount(s, cur)
		if err != nil {
			return
		}
		m, err := apis.ParseAmount(apis.FormatAmount(n, cur), cur)
		if err != nil || m != n || n <= 0 {
			t.Fatalf("%q %s: %d → %q → %d %v", s, cur, n, apis.FormatAmount(n, cur), m, err)
		}
	})
}

func TestAccountConsentValidate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(perms ...string) *apis.OBReadConsent1 {
		r := &apis.OBReadConsent1{Risk: map[string]any{}}
		r.Data.Permissions = perms
		return r
	}
	past := mk(apis.PermBalances)
	past.Data.ExpirationDateTime = "2025-12-31T00:00:00Z"
	window := mk(apis.PermBalances)
	window.Data.TransactionFromDateTime, window.Data.TransactionToDateTime = "2025-12-31T00:00:00Z", "2025-12-01T00:00:00Z"
	badTime := mk(apis.PermBalances)
	badTime.Data.ExpirationDateTime = "2026-02-01"
	noRisk := mk(apis.PermBalances)
	noRisk.Risk = nil
	for _, tc := range []struct {
		name string
		req  *apis.OBReadConsent1
		want string
	}{
		{"ok/basic", mk(apis.PermAccountsBasic), ""},
		{"ok/transactions", mk(apis.PermTransactionsDetail, apis.PermTransactionsDebits), ""},
		{"fail/none", mk(), "Data.Permissions must hold at least one permission"},
		{"fail/duplicate", mk(apis.PermBalances, apis.PermBalances), `Data.Permissions permission "ReadBalances" is listed twice`},
		{"fail/credits alone", mk(apis.PermTransactionsCredits), "Data.Permissions ReadTransactionsCredits or ReadTransactionsDebits needs ReadTransactionsBasic or ReadTransactionsDetail"},
		{"fail/expiry in the past", past, "Data.ExpirationDateTime must be in the future"},
		{"fail/window reversed", window, "Data.TransactionToDateTime must be after TransactionFromDateTime"},
		{"fail/date without time", badTime, "Data.ExpirationDateTime must be an ISO 8601 date-time with a time zone"},
		{"fail/no risk", noRisk, "Risk is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.req.Validate(now)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var p *problem.Error
			if !errors.As(err, &p) || p.Code != problem.CodeValidation || p.Detail != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
}
