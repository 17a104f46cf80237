package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	gosqlite "github.com/glebarez/go-sqlite"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// mustSQLiteTable returns a SQLite pool with table kv (k TEXT PRIMARY KEY,
// v INTEGER) holding k1..k5 = 1..5.
func mustSQLiteTable(tb testing.TB) (*sql.DB, *gorm.DB) {
	tb.Helper()
	d := dbtest.MustSQLite(tb)
	if err := d.Exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)").Error; err != nil {
		tb.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if err := d.Exec("INSERT INTO kv (k, v) VALUES (?, ?)", fmt.Sprintf("k%d", i), i).Error; err != nil {
			tb.Fatal(err)
		}
	}
	sqlDB, err := d.DB.DB()
	if err != nil {
		tb.Fatal(err)
	}
	return sqlDB, d.DB
}

// TestSQLiteKeptStatements: the SQLite driver keeps a prepared statement
// compiled for all its uses (third_party/go-sqlite, stmt.pstmt) — each use
// binds its own arguments, a failed use leaves the next one working, and
// a second query of the same statement while the first one's rows are
// still open (one transaction, one connection) gets its own rows.
func TestSQLiteKeptStatements(t *testing.T) {
	ctx := context.Background()
	t.Run("ok/reused with other arguments", func(t *testing.T) {
		sqlDB, _ := mustSQLiteTable(t)
		get, err := sqlDB.PrepareContext(ctx, "SELECT v FROM kv WHERE k = ?")
		if err != nil {
			t.Fatal(err)
		}
		defer get.Close()
		for round := range 3 {
			for i := 1; i <= 5; i++ {
				var v int
				if err := get.QueryRowContext(ctx, fmt.Sprintf("k%d", i)).Scan(&v); err != nil || v != i {
					t.Fatalf("round %d, k%d: %d, %v", round, i, v, err)
				}
			}
		}
		var v int
		if err := get.QueryRowContext(ctx, "k9").Scan(&v); !errors.Is(err, sql.ErrNoRows) {
			t.Fatalf("unknown key: %v, want sql.ErrNoRows", err)
		}
		if err := get.QueryRowContext(ctx, "k2").Scan(&v); err != nil || v != 2 {
			t.Fatalf("after no rows: %d, %v", v, err)
		}
	})
	t.Run("ok/exec reused, its result read", func(t *testing.T) {
		sqlDB, _ := mustSQLiteTable(t)
		upd, err := sqlDB.PrepareContext(ctx, "UPDATE kv SET v = v + ? WHERE k <= ? RETURNING v")
		if err != nil {
			t.Fatal(err)
		}
		defer upd.Close()
		for i, want := range []int64{2, 3, 0} {
			res, err := upd.ExecContext(ctx, 10, []string{"k2", "k3", "a"}[i])
			if err != nil {
				t.Fatal(err)
			}
			if n, err := res.RowsAffected(); err != nil || n != want {
				t.Fatalf("use %d: %d rows affected, %v; want %d", i, n, err, want)
			}
		}
		var sum int
		if err := sqlDB.QueryRowContext(ctx, "SELECT SUM(v) FROM kv").Scan(&sum); err != nil || sum != 15+20+30 {
			t.Fatalf("sum %d, %v: every RETURNING update must be applied", sum, err)
		}
	})
	t.Run("fail/a refused insert, then the next one goes in", func(t *testing.T) {
		_, g := mustSQLiteTable(t)
		ins := g.Session(&gorm.Session{PrepareStmt: true})
		err := ins.Exec("INSERT INTO kv (k, v) VALUES (?, ?)", "k1", 99).Error
		if !errors.Is(err, gorm.ErrDuplicatedKey) {
			t.Fatalf("duplicate key: %v, want gorm.ErrDuplicatedKey", err)
		}
		if err := ins.Exec("INSERT INTO kv (k, v) VALUES (?, ?)", "k6", 6).Error; err != nil {
			t.Fatalf("after the refusal: %v", err)
		}
		var v int
		if err := g.Raw("SELECT v FROM kv WHERE k = ?", "k1").Scan(&v).Error; err != nil || v != 1 {
			t.Fatalf("k1 = %d, %v: the refused insert must change nothing", v, err)
		}
	})
	t.Run("ok/same statement twice at once in a transaction", func(t *testing.T) {
		sqlDB, _ := mustSQLiteTable(t)
		tx, err := sqlDB.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		list, err := tx.PrepareContext(ctx, "SELECT k, v FROM kv WHERE v >= ? ORDER BY v")
		if err != nil {
			t.Fatal(err)
		}
		outer, err := list.QueryContext(ctx, 4)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for outer.Next() {
			var k string
			var v int
			if err := outer.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			inner, err := list.QueryContext(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for inner.Next() {
				n++
			}
			if err := inner.Close(); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s:%d", k, n))
		}
		if err := outer.Err(); err != nil {
			t.Fatal(err)
		}
		outer.Close()
		if fmt.Sprint(got) != "[k4:2 k5:1]" {
			t.Fatalf("nested iteration: %v, want [k4:2 k5:1]", got)
		}
		// And once both are closed, the kept statement serves again.
		var n int
		if err := list.QueryRowContext(ctx, 1).Scan(new(string), &n); err != nil || n != 1 {
			t.Fatalf("after: %d, %v", n, err)
		}
	})
	t.Run("ok/prepared again in each transaction", func(t *testing.T) {
		sqlDB, _ := mustSQLiteTable(t)
		ins, err := sqlDB.PrepareContext(ctx, "INSERT INTO kv (k, v) VALUES (?, ?) RETURNING v")
		if err != nil {
			t.Fatal(err)
		}
		defer ins.Close()
		get, err := sqlDB.PrepareContext(ctx, "SELECT v FROM kv WHERE k = ?")
		if err != nil {
			t.Fatal(err)
		}
		defer get.Close()
		// database/sql prepares each statement again on the transaction's
		// connection and closes it at the end: the driver hands the
		// compiled statement over from one to the next (conn.idle).
		for i := 10; i < 60; i++ {
			tx, err := sqlDB.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.StmtContext(ctx, ins).ExecContext(ctx, fmt.Sprintf("k%d", i), i); err != nil {
				t.Fatal(err)
			}
			var v int
			if err := tx.StmtContext(ctx, get).QueryRowContext(ctx, fmt.Sprintf("k%d", i)).Scan(&v); err != nil || v != i {
				t.Fatalf("k%d in its transaction: %d, %v", i, v, err)
			}
			if i%2 == 0 {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		var n, sum int
		if err := sqlDB.QueryRowContext(ctx, "SELECT COUNT(*), SUM(v) FROM kv WHERE v >= 10").Scan(&n, &sum); err != nil || n != 25 || sum != 25*10+2*(0+1+2+3+4+5+6+7+8+9+10+11+12+13+14+15+16+17+18+19+20+21+22+23+24) {
			t.Fatalf("committed: %d rows, sum %d, %v; want the 25 even keys 10..58", n, sum, err)
		}
	})
	t.Run("ok/gorm transactions compile nothing once warm", func(t *testing.T) {
		_, g := mustSQLiteTable(t)
		// What a group commit does: one transaction, the same INSERT for
		// each call in it, through gorm's prepared statements. A statement
		// gorm first sees in a transaction it prepares there, and
		// database/sql prepares that one again for every use in a later
		// transaction (this INSERT's text is used nowhere else).
		batch := func(round, n int) {
			err := g.Transaction(func(tx *gorm.DB) error {
				for i := range n {
					if err := tx.Exec("INSERT INTO kv (v, k) VALUES (?, ?)", i, fmt.Sprintf("r%d-%d", round, i)).Error; err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for round := range 3 { // warm: every pooled connection its statements
			batch(round, 8)
		}
		before := gosqlite.CompiledStatements()
		for round := 3; round < 40; round++ {
			batch(round, 1+round%8)
		}
		if n := gosqlite.CompiledStatements() - before; n != 0 {
			t.Fatalf("%d statements compiled in warm transactions, want 0", n)
		}
		var n int
		if err := g.Raw("SELECT COUNT(*) FROM kv WHERE k LIKE 'r%'").Scan(&n).Error; err != nil || n != 3*8+func() (s int) {
			for round := 3; round < 40; round++ {
				s += 1 + round%8
			}
			return s
		}() {
			t.Fatalf("%d rows, %v", n, err)
		}
	})
	t.Run("ok/rows closed early, then used again", func(t *testing.T) {
		sqlDB, _ := mustSQLiteTable(t)
		list, err := sqlDB.PrepareContext(ctx, "SELECT v FROM kv WHERE v > ? ORDER BY v")
		if err != nil {
			t.Fatal(err)
		}
		defer list.Close()
		rows, err := list.QueryContext(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		rows.Next()
		rows.Next()
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		rows, err = list.QueryContext(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
		}
		if err := rows.Close(); err != nil || fmt.Sprint(got) != "[2 3 4 5]" {
			t.Fatalf("after an early close: %v, %v; want [2 3 4 5]", got, err)
		}
	})
}

// BenchmarkSQLiteTxInsert is a transaction of one INSERT prepared in it
// on SQLite, as database/sql does for a statement run only in transactions
// (prepared again on the transaction's connection, closed at its end): the
// driver hands the compiled statement from one transaction to the next.
// Rolled back, so that writing the WAL does not hide the statement's cost.
func BenchmarkSQLiteTxInsert(b *testing.B) {
	ctx := context.Background()
	sqlDB, _ := mustSQLiteTable(b)
	const insert = "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v WHERE kv.v < excluded.v"
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		tx, err := sqlDB.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		ins, err := tx.PrepareContext(ctx, insert)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ins.ExecContext(ctx, fmt.Sprintf("b%d", i), i); err != nil {
			b.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSQLitePreparedQuery is one prepared indexed read on SQLite: with
// the statement kept compiled (third_party/go-sqlite) it is bound and
// stepped, not parsed again.
func BenchmarkSQLitePreparedQuery(b *testing.B) {
	ctx := context.Background()
	sqlDB, _ := mustSQLiteTable(b)
	get, err := sqlDB.PrepareContext(ctx, "SELECT v FROM kv WHERE k = ? ORDER BY v DESC LIMIT 1")
	if err != nil {
		b.Fatal(err)
	}
	defer get.Close()
	b.ReportAllocs()
	for b.Loop() {
		var v int
		if err := get.QueryRowContext(ctx, "k3").Scan(&v); err != nil {
			b.Fatal(err)
		}
	}
}
