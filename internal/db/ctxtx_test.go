package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestTxContext: a transaction carried in the context is joined by Conn and
// by a nested TxContext, committed as one, and rolled back as one.
func TestTxContext(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.Conn(ctx).Exec(`CREATE TABLE ctxtx_probe (k TEXT PRIMARY KEY)`).Error; err != nil {
			t.Fatal(err)
		}
		count := func() int64 {
			var n int64
			if err := d.Conn(ctx).Raw(`SELECT COUNT(*) FROM ctxtx_probe`).Scan(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		insert := func(ctx context.Context, k string) error {
			return d.Conn(ctx).Exec(`INSERT INTO ctxtx_probe (k) VALUES (?)`, k).Error
		}
		boom := errors.New("boom")
		for _, tc := range []struct {
			name    string
			fn      func(ctx context.Context) error
			wantErr error
			want    int64
		}{
			{"ok/outer and nested writes commit together", func(ctx context.Context) error {
				if err := insert(ctx, "a"); err != nil {
					return err
				}
				return d.TxContext(ctx, func(ctx context.Context) error { return insert(ctx, "b") })
			}, nil, 2},
			{"fail/an error in the nested call rolls back the outer write too", func(ctx context.Context) error {
				if err := insert(ctx, "c"); err != nil {
					return err
				}
				return d.TxContext(ctx, func(ctx context.Context) error {
					if err := insert(ctx, "d"); err != nil {
						return err
					}
					return boom
				})
			}, boom, 2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := d.TxContext(ctx, tc.fn); !errors.Is(err, tc.wantErr) {
					t.Fatalf("TxContext = %v, want %v", err, tc.wantErr)
				}
				if got := count(); got != tc.want {
					t.Fatalf("%d rows, want %d", got, tc.want)
				}
			})
		}
	})
}
