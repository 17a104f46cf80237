package core_test

import (
	"errors"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestTransactionPageCache: a node answers a page from memory while the
// ledger's head is the one the page was read at, and reads it again as soon
// as a posting on any node (another Reference on the same database) moves the
// head; the copy handed out is the caller's; other filters, cursors and
// sizes are other pages; an unknown account is still ErrNotFound.
func TestTransactionPageCache(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		a, _ := MustSeeded(t, d)
		b := core.NewReference(d, core.Options{CursorKey: []byte("test-cursor-key"), Now: func() time.Time { return seedNow.Add(time.Hour) }})
		alice := mustAccount(t, a, "alice", core.AccountCurrent)
		bob := mustAccount(t, a, "bob", core.AccountCurrent)
		bobCr := core.Creditor{SchemeName: bob.SchemeName, Identification: bob.Identification, Name: bob.HolderName}
		first, err := a.Transactions(ctx, alice.ID, core.TransactionQuery{Limit: 5})
		if err != nil || len(first.Transactions) != 5 {
			t.Fatalf("first page: %+v, %v", first, err)
		}
		newest := first.Transactions[0]

		t.Run("ok/served-while-head-unchanged", func(t *testing.T) {
			// A posting never changes; changing one behind the core's back
			// shows which answers come from memory.
			if err := d.Exec("UPDATE core_transactions SET description = 'changed behind the cache' WHERE id = ?", newest.ID).Error; err != nil {
				t.Fatal(err)
			}
			got, err := a.Transactions(ctx, alice.ID, core.TransactionQuery{Limit: 5})
			if err != nil || got.Transactions[0].Description != newest.Description || got.NextCursor != first.NextCursor {
				t.Fatalf("got %+v, %v; want the cached page", got.Transactions[0], err)
			}
			if got.Version == "" || got.Version != first.Version {
				t.Fatalf("version %q, want the first read's %q", got.Version, first.Version)
			}
			got.Transactions[0].Description = "mutated by a caller"
			if again, _ := a.Transactions(ctx, alice.ID, core.TransactionQuery{Limit: 5}); again.Transactions[0].Description != newest.Description {
				t.Fatalf("a caller's change reached the cache: %q", again.Transactions[0].Description)
			}
			other, err := a.Transactions(ctx, alice.ID, core.TransactionQuery{Limit: 6})
			if err != nil || other.Transactions[0].Description != "changed behind the cache" {
				t.Fatalf("another page size is another page: %+v, %v", other.Transactions[0], err)
			}
		})
		t.Run("ok/posting-on-another-node-moves-the-head", func(t *testing.T) {
			mustPay(t, b, "pay_cache_1", alice.ID, bobCr, 123)
			got, err := a.Transactions(ctx, alice.ID, core.TransactionQuery{Limit: 5})
			if err != nil {
				t.Fatal(err)
			}
			if got.Transactions[0].PaymentID != "pay_cache_1" || got.Transactions[0].Amount != gbp(123) {
				t.Fatalf("newest after another node's payment: %+v", got.Transactions[0])
			}
			if got.Version == first.Version {
				t.Fatalf("version %q unchanged after a posting", got.Version)
			}
			if got.Transactions[1].Description != "changed behind the cache" {
				t.Fatalf("the page was not read again: %+v", got.Transactions[1])
			}
		})
		t.Run("ok/next-page-by-cursor", func(t *testing.T) {
			p1, err := a.Transactions(ctx, alice.ID, core.TransactionQuery{Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			p2, err := a.Transactions(ctx, alice.ID, core.TransactionQuery{Limit: 2, Cursor: p1.NextCursor})
			if err != nil || len(p2.Transactions) != 2 || p2.Transactions[0].ID == p1.Transactions[0].ID {
				t.Fatalf("page 2: %+v, %v", p2, err)
			}
			again, err := a.Transactions(ctx, alice.ID, core.TransactionQuery{Limit: 2, Cursor: p1.NextCursor})
			if err != nil || again.Transactions[0].ID != p2.Transactions[0].ID {
				t.Fatalf("page 2 again: %+v, %v", again, err)
			}
		})
		t.Run("fail/unknown-account", func(t *testing.T) {
			for range 2 {
				if _, err := a.Transactions(ctx, "acc_unknown", core.TransactionQuery{}); !errors.Is(err, core.ErrNotFound) {
					t.Fatalf("got %v, want core.ErrNotFound", err)
				}
			}
		})
	})
}
