package db_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestSQLitePageCache: SQLite takes its page cache lines from the buffer
// the process gives it (db.SQLitePageCache), not one malloc per page: after
// writes and reads on two connections the buffer has lines in use.
func TestSQLitePageCache(t *testing.T) {
	ctx := context.Background()
	d := dbtest.MustSQLite(t)
	if err := d.Exec("CREATE TABLE pc (id INTEGER PRIMARY KEY, v TEXT NOT NULL)").Error; err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := d.Exec("INSERT INTO pc (v) VALUES (?)", fmt.Sprintf("%0500d", i)).Error; err != nil {
			t.Fatal(err)
		}
	}
	sqlDB, err := d.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	a, err := sqlDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var n int
	if err := a.QueryRowContext(ctx, "SELECT COUNT(*) FROM pc WHERE v LIKE '%9'").Scan(&n); err != nil || n != 20 {
		t.Fatalf("count: %d, %v", n, err)
	}
	st := db.SQLitePageCache()
	if !st.Configured {
		t.Fatal("SQLite did not take the page cache buffer")
	}
	if st.InUse <= 0 || st.HighWater < st.InUse || st.HighWater > st.Lines {
		t.Fatalf("page cache lines: %+v, want some in use and at most %d", st, st.Lines)
	}
}
