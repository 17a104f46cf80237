package contracts_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"gorm.io/gorm"
)

func TestRecordUsage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		late := date(2026, 10, 1).Add(23*time.Hour + 59*time.Minute) // in UTC+2 this is already 2 October
		cest := time.FixedZone("CEST", 2*3600)
		r1 := call("int-1", "ptn_a", "accounts", late.In(cest))
		mustRecord(t, e.s, r1, r1, r1) // client retries: one record
		refused := call("int-2", "ptn_a", "accounts", date(2026, 10, 2))
		refused.Billable, refused.Status = false, 403
		mustRecord(t, e.s, refused, payment("idem-1", "ptn_a", 1000, date(2026, 10, 2)), payment("idem-1", "ptn_a", 1000, date(2026, 10, 2)))
		other := call("int-3", "ptn_a", "accounts", date(2026, 10, 2))
		other.AppID = "app_second"
		mustRecord(t, e.s, other, call("int-4", "ptn_b", "accounts", date(2026, 10, 2)))

		// in the caller's transaction: rolled back with it
		err := d.Tx(ctx, func(tx *gorm.DB) error {
			if err := e.s.RecordUsage(ctx, tx, call("int-rolled-back", "ptn_a", "accounts", date(2026, 10, 2))); err != nil {
				return err
			}
			return gorm.ErrInvalidTransaction
		})
		if err != gorm.ErrInvalidTransaction {
			t.Fatal(err)
		}

		rows, err := e.s.Usage(ctx, "ptn_a", date(2026, 10, 1), date(2026, 11, 1))
		if err != nil {
			t.Fatal(err)
		}
		want := []contracts.UsageRow{
			{Day: "2026-10-01", AppID: "app_ptn_a", Environment: "production", Product: "accounts", Kind: "call", Count: 1, Billable: 1},
			{Day: "2026-10-02", AppID: "app_ptn_a", Environment: "production", Product: "accounts", Kind: "call", Count: 1, Billable: 0},
			{Day: "2026-10-02", AppID: "app_ptn_a", Environment: "production", Product: "payments", Kind: "payment", Currency: "EUR", Count: 1, Billable: 1, PaymentAmount: 1000},
			{Day: "2026-10-02", AppID: "app_second", Environment: "production", Product: "accounts", Kind: "call", Count: 1, Billable: 1},
		}
		if !reflect.DeepEqual(rows, want) {
			t.Fatalf("usage:\n got %+v\nwant %+v", rows, want)
		}
		for _, tc := range []struct {
			name, app, product string
			month              time.Time
			want               int64
		}{
			{"ok/all-apps", "", "accounts", date(2026, 10, 15), 2},
			{"ok/one-app", "app_second", "accounts", date(2026, 10, 31), 1},
			{"ok/payments", "", "payments", date(2026, 10, 1), 1},
			{"ok/other-month", "", "accounts", date(2026, 11, 1), 0},
		} {
			n, err := e.s.MonthlyCount(ctx, "ptn_a", tc.app, tc.product, tc.month)
			if err != nil || n != tc.want {
				t.Errorf("%s: MonthlyCount = %d (%v), want %d", tc.name, n, err, tc.want)
			}
		}
	})
}

// TestRecordUsages: the metering write counts the records it added; keys
// recorded already (in the same call or before) are skipped, and in the
// caller's transaction nothing stays after a rollback.
func TestRecordUsages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := contracts.New(d, contracts.Options{})
		at := date(2026, 10, 2)
		for _, tc := range []struct {
			name string
			recs []contracts.UsageRecord
			want int64
		}{
			{"ok/new", []contracts.UsageRecord{call("m-1", "ptn_m", "accounts", at), call("m-2", "ptn_m", "accounts", at)}, 2},
			{"ok/recorded-already", []contracts.UsageRecord{call("m-1", "ptn_m", "accounts", at)}, 0},
			{"ok/some-new", []contracts.UsageRecord{call("m-2", "ptn_m", "accounts", at), call("m-3", "ptn_m", "accounts", at),
				call("m-3", "ptn_m", "accounts", at)}, 1},
			{"ok/none", nil, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n, err := s.RecordUsages(ctx, nil, tc.recs)
				if err != nil || n != tc.want {
					t.Fatalf("RecordUsages = %d (%v), want %d", n, err, tc.want)
				}
			})
		}
		err := d.Tx(ctx, func(tx *gorm.DB) error {
			if n, err := s.RecordUsages(ctx, tx, []contracts.UsageRecord{call("m-rolled-back", "ptn_m", "accounts", at)}); err != nil || n != 1 {
				t.Fatalf("in a transaction: %d (%v)", n, err)
			}
			return gorm.ErrInvalidTransaction
		})
		if !errors.Is(err, gorm.ErrInvalidTransaction) {
			t.Fatal(err)
		}
		if n, err := s.MonthlyCount(ctx, "ptn_m", "", "accounts", at); err != nil || n != 3 {
			t.Fatalf("MonthlyCount = %d (%v), want 3", n, err)
		}
	})
}

func TestRecordUsageRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := contracts.New(d, contracts.Options{})
		fe := func(field, reason string) contracts.FieldError {
			return contracts.FieldError{Field: field, Reason: reason}
		}
		good := payment("k", "ptn_a", 5, date(2026, 10, 1))
		for _, tc := range []struct {
			name   string
			change func(*contracts.UsageRecord)
			want   []contracts.FieldError
		}{
			{"fail/no-key", func(r *contracts.UsageRecord) { r.Key = "" }, []contracts.FieldError{fe("key", "must be 1 to 200 characters")}},
			{"fail/no-partner", func(r *contracts.UsageRecord) { r.PartnerID = "" }, []contracts.FieldError{fe("partner_id", "is required")}},
			{"fail/environment", func(r *contracts.UsageRecord) { r.Environment = "prod" }, []contracts.FieldError{fe("environment", "must be sandbox or production")}},
			{"fail/kind", func(r *contracts.UsageRecord) { r.Kind = "refund" }, []contracts.FieldError{fe("kind", "must be call or payment")}},
			{"fail/negative-payment", func(r *contracts.UsageRecord) { r.PaymentAmount.Minor = -1 }, []contracts.FieldError{fe("payment_amount.amount", "must not be negative")}},
			{"fail/payment-currency", func(r *contracts.UsageRecord) { r.PaymentAmount.Currency = "" },
				[]contracts.FieldError{fe("payment_amount.currency", "must be an ISO 4217 code of three upper-case letters")}},
			{"fail/call-with-amount", func(r *contracts.UsageRecord) { r.Kind = contracts.KindCall }, []contracts.FieldError{fe("payment_amount", "must be empty for a call")}},
			{"fail/no-time", func(r *contracts.UsageRecord) { r.At = time.Time{} }, []contracts.FieldError{fe("at", "is required")}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := good
				tc.change(&r)
				wantFields(t, s.RecordUsage(ctx, nil, r), "usage record is invalid", tc.want...)
				wantFields(t, s.RecordUsageBatch(ctx, []contracts.UsageRecord{good, r}), "usage record is invalid", tc.want...)
				_, err := s.RecordUsages(ctx, nil, []contracts.UsageRecord{good, r})
				wantFields(t, err, "usage record is invalid", tc.want...)
			})
		}
		if n, _ := s.MonthlyCount(ctx, "ptn_a", "", "payments", date(2026, 10, 1)); n != 0 {
			t.Fatalf("a refused batch stored %d records", n)
		}
		_, err := s.Usage(ctx, "ptn_a", date(2026, 10, 1), date(2026, 11, 1))
		if err != nil {
			t.Fatal(err)
		}
	})
}
