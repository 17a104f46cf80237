package db_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestWriteGate: a process's SQLite writers take turns in Go (never two at
// once, and a turn held too long fails the waiter with a clear error, as
// SQLite's busy timeout would); a writer already holding the turn runs at
// once; on PostgreSQL writers are not queued.
func TestWriteGate(t *testing.T) {
	ctx := context.Background()
	t.Run("ok/one-writer-at-a-time", func(t *testing.T) {
		d := dbtest.MustSQLite(t)
		var inside, most atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := d.Exclusive(ctx, func(ctx context.Context) error {
					n := inside.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(200 * time.Microsecond)
					inside.Add(-1)
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if most.Load() != 1 {
			t.Fatalf("%d writers at once, want 1", most.Load())
		}
	})
	t.Run("ok/nested-in-the-turn", func(t *testing.T) {
		d := dbtest.MustSQLite(t)
		ran := false
		err := d.Exclusive(ctx, func(ctx context.Context) error {
			return d.Exclusive(ctx, func(context.Context) error { ran = true; return nil })
		})
		if err != nil || !ran {
			t.Fatalf("nested: ran %v, %v", ran, err)
		}
	})
	t.Run("fail/no-turn-in-time", func(t *testing.T) {
		d := dbtest.MustSQLite(t)
		db.SetWriteGateTimeout(d, 50*time.Millisecond)
		held, release := make(chan struct{}), make(chan struct{})
		go d.Exclusive(ctx, func(context.Context) error { close(held); <-release; return nil })
		<-held
		defer close(release)
		err := d.Tx(ctx, func(*gorm.DB) error { t.Fatal("ran without a turn"); return nil })
		if err == nil || !strings.Contains(err.Error(), "db: database is locked: no turn to write within 50ms") {
			t.Fatalf("got %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := d.Exclusive(cctx, func(context.Context) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: got %v", err)
		}
	})
	t.Run("ok/postgres-not-queued", func(t *testing.T) {
		d := dbtest.MustPostgres(t)
		held, release := make(chan struct{}), make(chan struct{})
		go d.Exclusive(ctx, func(context.Context) error { close(held); <-release; return nil })
		<-held
		defer close(release)
		if err := d.Exclusive(ctx, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
}
