package apis_test

import (
	"errors"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/problem"
)

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
