package db_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/ids"
)

// TestGuarded: the rows are written, and Written runs, exactly when the
// UPDATE changes a row; concurrent runs on one row write once; inside a
// transaction of ctx the writes roll back with it.
func TestGuarded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for _, q := range []string{
			`CREATE TABLE guarded_items (id TEXT PRIMARY KEY, status TEXT NOT NULL, at TIMESTAMPTZ)`,
			`CREATE TABLE guarded_log (id TEXT PRIMARY KEY, item TEXT NOT NULL, at TIMESTAMPTZ NOT NULL, n INTEGER NOT NULL)`,
		} {
			if err := d.Exec(q).Error; err != nil {
				t.Fatal(err)
			}
		}
		item := func(status string) string {
			id := ids.New("it")
			if err := d.Exec(`INSERT INTO guarded_items (id, status) VALUES (?, ?)`, id, status).Error; err != nil {
				t.Fatal(err)
			}
			return id
		}
		logged := func(id string) int64 {
			var n int64
			if err := d.Raw(`SELECT COUNT(*) FROM guarded_log WHERE item = ?`, id).Scan(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		status := func(id string) string {
			var s string
			if err := d.Raw(`SELECT status FROM guarded_items WHERE id = ?`, id).Scan(&s).Error; err != nil {
				t.Fatal(err)
			}
			return s
		}
		// decide moves item id from new to done and logs two rows (and
		// counts Written's runs) only if it did.
		decide := func(ctx context.Context, id string, written *atomic.Int64) (int64, error) {
			now := time.Now().UTC()
			row := func(n int) db.Insert {
				return db.Insert{Table: "guarded_log", Columns: []string{"id", "item", "at", "n"},
					Values: []any{ids.New("log"), id, now, n}}
			}
			return d.Guarded(ctx, `UPDATE guarded_items SET status = ?, at = ? WHERE id = ? AND status IN ?`,
				[]any{"done", now, id, []string{"new"}},
				db.Writes{Inserts: []db.Insert{row(1), row(2)}, Notify: []string{"guarded_test"},
					Written: func() { written.Add(1) }})
		}

		for _, tc := range []struct {
			name        string
			from        string // the item's status before
			tx          bool   // run in a transaction of ctx…
			txErr       error  // …that ends with this error
			wantN       int64
			wantLogged  int64
			wantStatus  string
			wantWritten int64
		}{
			{name: "ok/the update wins: rows written", from: "new", wantN: 1, wantLogged: 2, wantStatus: "done", wantWritten: 1},
			{name: "ok/no row changed: nothing written", from: "done", wantN: 0, wantLogged: 0, wantStatus: "done", wantWritten: 0},
			{name: "ok/in a committed transaction", from: "new", tx: true, wantN: 1, wantLogged: 2, wantStatus: "done", wantWritten: 1},
			{name: "fail/in a rolled back transaction: nothing kept", from: "new", tx: true, txErr: errors.New("boom"), wantN: 1, wantLogged: 0, wantStatus: "new", wantWritten: 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := item(tc.from)
				var written atomic.Int64
				var n int64
				var err error
				if tc.tx {
					txErr := d.TxContext(ctx, func(ctx context.Context) error {
						if n, err = decide(ctx, id, &written); err != nil {
							return err
						}
						return tc.txErr
					})
					if !errors.Is(txErr, tc.txErr) {
						t.Fatalf("TxContext = %v, want %v", txErr, tc.txErr)
					}
				} else {
					n, err = decide(ctx, id, &written)
				}
				if err != nil || n != tc.wantN {
					t.Fatalf("Guarded = %d, %v; want %d", n, err, tc.wantN)
				}
				if got := logged(id); got != tc.wantLogged {
					t.Errorf("%d rows logged, want %d", got, tc.wantLogged)
				}
				if got := status(id); got != tc.wantStatus {
					t.Errorf("status %s, want %s", got, tc.wantStatus)
				}
				if got := written.Load(); got != tc.wantWritten {
					t.Errorf("Written ran %d times, want %d", got, tc.wantWritten)
				}
			})
		}

		t.Run("ok/concurrent runs on one row write once", func(t *testing.T) {
			id := item("new")
			const runs = 8
			ns := make([]int64, runs)
			errs := make([]error, runs)
			var written atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range ns {
				wg.Add(1)
				go func() { defer wg.Done(); <-start; ns[i], errs[i] = decide(ctx, id, &written) }()
			}
			close(start)
			wg.Wait()
			var won int64
			for i := range ns {
				if errs[i] != nil {
					t.Fatalf("run %d: %v", i, errs[i])
				}
				won += ns[i]
			}
			if won != 1 || logged(id) != 2 || written.Load() != 1 {
				t.Fatalf("%d runs won, %d rows logged, Written ran %d times; want 1, 2, 1", won, logged(id), written.Load())
			}
		})

		if d.Dialect == db.Postgres {
			t.Run("ok/notifies only when the update wins", func(t *testing.T) { testGuardedNotify(t, d, item, decide) })
		}
	})
}

// testGuardedNotify listens on the channel decide notifies, then runs a
// losing decide, a "marker" notification, a winning decide and an "end"
// notification: notifications of separate transactions arrive in commit
// order, so exactly the marker, the winner's and the end must arrive (no
// waiting on a guess of how long is enough).
func testGuardedNotify(t *testing.T, d *db.DB, item func(string) string, decide func(context.Context, string, *atomic.Int64) (int64, error)) {
	ctx := context.Background()
	sqlDB, err := d.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var payloads []string
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		if _, err := pc.Exec(ctx, "LISTEN guarded_test"); err != nil {
			return err
		}
		defer pc.Exec(ctx, "UNLISTEN guarded_test")
		var written atomic.Int64
		if _, err := decide(ctx, item("done"), &written); err != nil {
			return err
		}
		if err := d.Exec(`SELECT pg_notify('guarded_test', 'marker')`).Error; err != nil {
			return err
		}
		if n, err := decide(ctx, item("new"), &written); err != nil || n != 1 {
			return errors.Join(err, errors.New("the winning decide changed no row"))
		}
		if err := d.Exec(`SELECT pg_notify('guarded_test', 'end')`).Error; err != nil {
			return err
		}
		for len(payloads) == 0 || payloads[len(payloads)-1] != "end" {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				return err
			}
			payloads = append(payloads, n.Payload)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(payloads) != 3 || payloads[0] != "marker" || payloads[1] != "" {
		t.Fatalf("notifications %q, want [marker, \"\", end]", payloads)
	}
}
