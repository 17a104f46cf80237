package core_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// TestCustomerCache: with a cache bus, Customer answers from the node's
// cache (a change made without the bus is not seen), and a sandbox reset on
// another node drops every cached customer there at once.
func TestCustomerCache(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		bus := cachebus.NewLocal()
		b := core.NewReference(d, core.Options{Bus: bus, CursorKey: []byte("k")})
		a := core.NewReference(d, core.Options{Bus: bus, CursorKey: []byte("k")})
		fresh := core.NewReference(d, core.Options{CursorKey: []byte("k")}) // no cache
		if _, err := a.Seed(ctx, core.SeedOptions{}); err != nil {
			t.Fatal(err)
		}
		alice, err := fresh.CustomerByUsername(ctx, environment.Sandbox, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Customer(ctx, alice.ID); err != nil {
			t.Fatal(err)
		}
		t.Run("ok/cached-customer-served", func(t *testing.T) {
			if err := d.Exec("UPDATE core_customers SET display_name = 'Changed Behind The Bus' WHERE id = ?", alice.ID).Error; err != nil {
				t.Fatal(err)
			}
			got, err := b.Customer(ctx, alice.ID)
			if err != nil || got.DisplayName != alice.DisplayName {
				t.Fatalf("got %+v, %v; want the cached %q", got, err, alice.DisplayName)
			}
			got.DisplayName = "mutated by a caller"
			if again, _ := b.Customer(ctx, alice.ID); again.DisplayName != alice.DisplayName {
				t.Fatalf("a caller's change reached the cache: %q", again.DisplayName)
			}
		})
		t.Run("fail/reset-on-another-node", func(t *testing.T) {
			if _, err := a.ResetSandbox(ctx); err != nil {
				t.Fatal(err)
			}
			// Whatever the reset left under alice's old id, node B must read
			// it from the database now.
			if _, err := fresh.Customer(ctx, alice.ID); errors.Is(err, core.ErrNotFound) {
				if _, err := b.Customer(ctx, alice.ID); !errors.Is(err, core.ErrNotFound) {
					t.Fatalf("after reset: %v, want core.ErrNotFound", err)
				}
				return
			}
			if err := d.Exec("UPDATE core_customers SET display_name = 'After Reset' WHERE id = ?", alice.ID).Error; err != nil {
				t.Fatal(err)
			}
			if got, err := b.Customer(ctx, alice.ID); err != nil || got.DisplayName != "After Reset" {
				t.Fatalf("after reset: %+v, %v; want the database's row", got, err)
			}
		})
	})
}
