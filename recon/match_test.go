package recon_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/recon"
)

func gbp(minor int64) money.Money { return money.Money{Minor: minor, Currency: "GBP"} }

func ours(id string, amount money.Money, status string, entry *money.Money) apis.ReconciledPayment {
	p := apis.ReconciledPayment{Payment: apis.Payment{ID: id, Amount: amount, Status: status}}
	if entry != nil {
		p.BookedAt = time.Date(2026, 6, 15, 13, 0, 0, 0, time.UTC)
		p.Entry = &apis.CoreEntry{TransactionID: "txn_" + id, Amount: *entry, BookedAt: p.BookedAt}
	}
	return p
}

func theirs(id string, amount money.Money, status string) apis.RecordedPayment {
	return apis.RecordedPayment{PaymentID: id, Amount: amount, Status: status}
}

// TestMatch pins every break kind: exactly the documented differences, one
// break per payment and kind, in payment id then kind order.
func TestMatch(t *testing.T) {
	const acc, rej, pend = apis.PaymentAcceptedSettlementCompleted, apis.PaymentRejected, apis.PaymentPending
	e100, e99, eur := gbp(100), gbp(99), money.Money{Minor: 100, Currency: "EUR"}
	for _, tc := range []struct {
		name     string
		platform []apis.ReconciledPayment
		record   []apis.RecordedPayment
		want     string
	}{
		{name: "ok/everything agrees", platform: []apis.ReconciledPayment{ours("p1", gbp(100), acc, &e100), ours("p2", gbp(5), rej, nil)},
			record: []apis.RecordedPayment{theirs("p1", gbp(100), acc), theirs("p2", gbp(5), rej)}, want: "[]"},
		{name: "ok/no record: only the core is compared", platform: []apis.ReconciledPayment{ours("p1", gbp(100), acc, &e100), ours("p2", gbp(5), pend, nil)},
			want: "[]"},
		{name: "ok/empty record: every payment is missing at the partner", platform: []apis.ReconciledPayment{ours("p1", gbp(100), acc, &e100)},
			record: []apis.RecordedPayment{}, want: "[{p1 missing_at_partner 1.00 GBP  1.00 GBP}]"},
		{name: "ok/missing at the bank", record: []apis.RecordedPayment{theirs("px", gbp(100), acc)},
			want: "[{px missing_at_bank  1.00 GBP }]"},
		{name: "ok/missing in core", platform: []apis.ReconciledPayment{ours("p1", gbp(100), acc, nil)},
			want: "[{p1 missing_in_core 1.00 GBP  }]"},
		{name: "ok/rejected and pending payments have no core entry to miss", platform: []apis.ReconciledPayment{ours("p1", gbp(100), rej, nil), ours("p2", gbp(1), pend, nil)},
			want: "[]"},
		{name: "ok/amount differs at the partner", platform: []apis.ReconciledPayment{ours("p1", gbp(100), acc, &e100)},
			record: []apis.RecordedPayment{theirs("p1", gbp(99), acc)}, want: "[{p1 amount_differs 1.00 GBP 0.99 GBP 1.00 GBP}]"},
		{name: "ok/amount differs in the core", platform: []apis.ReconciledPayment{ours("p1", gbp(100), acc, &e99)},
			record: []apis.RecordedPayment{theirs("p1", gbp(100), acc)}, want: "[{p1 amount_differs 1.00 GBP 1.00 GBP 0.99 GBP}]"},
		{name: "ok/currency differs (the amount is not compared)", platform: []apis.ReconciledPayment{ours("p1", gbp(100), acc, &e100)},
			record: []apis.RecordedPayment{theirs("p1", money.Money{Minor: 7, Currency: "EUR"}, acc)}, want: "[{p1 currency_differs 1.00 GBP 0.07 EUR 1.00 GBP}]"},
		{name: "ok/currency differs in the core", platform: []apis.ReconciledPayment{ours("p1", gbp(100), acc, &eur)},
			want: "[{p1 currency_differs 1.00 GBP  1.00 EUR}]"},
		{name: "ok/status differs", platform: []apis.ReconciledPayment{ours("p1", gbp(100), acc, &e100)},
			record: []apis.RecordedPayment{theirs("p1", gbp(100), rej)}, want: "[{p1 status_differs AcceptedSettlementCompleted Rejected }]"},
		{name: "ok/amount and status differ: two breaks, ordered", platform: []apis.ReconciledPayment{ours("p2", gbp(100), acc, &e100), ours("p1", gbp(1), rej, nil)},
			record: []apis.RecordedPayment{theirs("p2", gbp(99), pend), theirs("p0", gbp(1), rej), theirs("p1", gbp(1), rej)},
			want:   "[{p0 missing_at_bank  0.01 GBP } {p2 amount_differs 1.00 GBP 0.99 GBP 1.00 GBP} {p2 status_differs AcceptedSettlementCompleted Pending }]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := recon.Match(tc.platform, tc.record)
			if s := fmt.Sprint(got); s != tc.want && !(len(got) == 0 && tc.want == "[]") {
				t.Fatalf("got  %s\nwant %s", s, tc.want)
			}
			if again := fmt.Sprint(recon.Match(tc.platform, tc.record)); again != fmt.Sprint(got) {
				t.Fatalf("not deterministic: %s then %s", got, again)
			}
		})
	}
}
