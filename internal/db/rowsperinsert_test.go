package db_test

import (
	"context"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestRowsPerInsert: rows inserted in a transaction go one per INSERT on
// SQLite (no statement journal), max per INSERT otherwise; InTx tells a
// TxContext transaction from none.
func TestRowsPerInsert(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		inTxWant := 100
		if d.Dialect == db.SQLite {
			inTxWant = 1
		}
		if d.InTx(ctx) {
			t.Fatal("InTx without a transaction")
		}
		if got := d.RowsPerInsert(100, d.InTx(ctx)); got != 100 {
			t.Errorf("outside a transaction: %d rows per INSERT, want 100", got)
		}
		err := d.TxContext(ctx, func(ctx context.Context) error {
			if !d.InTx(ctx) {
				t.Error("InTx false inside TxContext")
			}
			if got := d.RowsPerInsert(100, d.InTx(ctx)); got != inTxWant {
				t.Errorf("in a transaction: %d rows per INSERT, want %d", got, inTxWant)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
