package apis

import (
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/money"
)

// TestRenderCache: a page with a Version is rendered once per permission
// level (basic and detail differ); another Version, or none, is rendered
// from its transactions.
func TestRenderCache(t *testing.T) {
	txn := func(desc string) core.Transaction {
		return core.Transaction{ID: "txn_1", AccountID: "acc_1", BookedAt: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
			Amount: money.Money{Minor: 1234, Currency: "GBP"}, CreditDebit: core.Debit, Status: core.StatusBooked,
			Description: desc, BalanceAfter: money.Money{Minor: 100, Currency: "GBP"}}
	}
	var rc renderCache
	render := func(p *core.TransactionPage, detail bool) string {
		t.Helper()
		b, err := rc.transactions(p, detail)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	v1 := &core.TransactionPage{Transactions: []core.Transaction{txn("Coffee & cake")}, Version: "v1"}
	detail, basic := render(v1, true), render(v1, false)
	if !strings.Contains(detail, `"TransactionInformation":"Coffee \u0026 cake"`) || strings.Contains(basic, "TransactionInformation") {
		t.Fatalf("ok/permission-levels: detail %s, basic %s", detail, basic)
	}
	// The same Version is the same content: what is served is the first
	// rendering, whatever the transactions say now.
	v1again := &core.TransactionPage{Transactions: []core.Transaction{txn("changed")}, Version: "v1"}
	if got := render(v1again, true); got != detail {
		t.Fatalf("ok/same-version: %s", got)
	}
	v2 := &core.TransactionPage{Transactions: []core.Transaction{txn("changed")}, Version: "v2"}
	if got := render(v2, true); !strings.Contains(got, `"changed"`) {
		t.Fatalf("ok/other-version: %s", got)
	}
	none := &core.TransactionPage{Transactions: []core.Transaction{txn("unversioned")}}
	if got := render(none, true); !strings.Contains(got, `"unversioned"`) {
		t.Fatalf("ok/no-version: %s", got)
	}
	if got := render(&core.TransactionPage{Transactions: []core.Transaction{txn("second")}}, true); !strings.Contains(got, `"second"`) {
		t.Fatalf("ok/no-version-not-cached: %s", got)
	}
}
