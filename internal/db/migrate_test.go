package db_test

import (
	"context"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

func TestMigrationsAreOrderedAndNamed(t *testing.T) {
	ms, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].Version <= ms[i-1].Version {
			t.Fatalf("migrations out of order: %d after %d", ms[i].Version, ms[i-1].Version)
		}
	}
}

func TestMigrateIsRecordedAndIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ms, _ := db.Migrations()
		var n int64
		if err := d.Raw(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if int(n) != len(ms) {
			t.Fatalf("schema_migrations has %d rows, want %d", n, len(ms))
		}
		applied, err := d.Migrate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Fatalf("second Migrate applied %v, want nothing", applied)
		}
	})
}

// TestEnginesEndAtSameSchema is the guard that one migration set means one schema:
// it needs BANKBRIDGE_TEST_POSTGRES (CI sets it).
func TestEnginesEndAtSameSchema(t *testing.T) {
	lite := dbtest.MustSQLite(t)
	pg := dbtest.MustPostgres(t)
	ctx := context.Background()
	a, err := lite.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pg.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := func(s db.Schema) []string {
		var out []string
		for k := range s {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	if !reflect.DeepEqual(names(a), names(b)) {
		t.Fatalf("tables differ:\nsqlite:   %v\npostgres: %v", names(a), names(b))
	}
	for name, ta := range a {
		tb := b[name]
		if !reflect.DeepEqual(ta.Columns, tb.Columns) {
			t.Errorf("table %s columns differ:\nsqlite:   %+v\npostgres: %+v", name, ta.Columns, tb.Columns)
		}
		if !reflect.DeepEqual(ta.Indexes, tb.Indexes) {
			t.Errorf("table %s indexes differ:\nsqlite:   %+v\npostgres: %+v", name, ta.Indexes, tb.Indexes)
		}
		for _, c := range ta.Columns {
			if len(c.Type) > 8 && c.Type[:8] == "unknown:" {
				t.Errorf("table %s column %s has a type the schema check does not know: %s", name, c.Name, c.Type)
			}
		}
	}
}

// TestSQLiteTransactionsTakeTheWriteLockAtBegin guards the DSN: a transaction
// that reads and then writes must not fail with SQLITE_BUSY when another
// writer commits between its read and its write.
func TestSQLiteTransactionsTakeTheWriteLockAtBegin(t *testing.T) {
	d := dbtest.MustSQLite(t)
	ctx := context.Background()
	if err := d.Exec(`CREATE TABLE counter (n INTEGER NOT NULL)`).Error; err != nil {
		t.Fatal(err)
	}
	d.Exec(`INSERT INTO counter (n) VALUES (0)`)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- d.Tx(ctx, func(tx *gorm.DB) error {
				var n int
				if err := tx.Raw(`SELECT n FROM counter`).Scan(&n).Error; err != nil {
					return err
				}
				time.Sleep(time.Millisecond)
				return tx.Exec(`UPDATE counter SET n = ?`, n+1).Error
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("read-then-write transaction failed: %v", err)
		}
	}
	var n int
	d.Raw(`SELECT n FROM counter`).Scan(&n)
	if n != 20 {
		t.Fatalf("counter = %d, want 20 (lost updates)", n)
	}
}

// TestSQLitePragmas: every pooled SQLite connection runs with the settings
// the DSN asks for (checked on several connections held at once).
func TestSQLitePragmas(t *testing.T) {
	d := dbtest.MustSQLite(t)
	sqlDB, err := d.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		conn, err := sqlDB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, c := range []struct {
			pragma string
			want   string
		}{
			{"journal_mode", "wal"},
			{"synchronous", "1"},  // NORMAL
			{"temp_store", "2"},   // MEMORY
			{"foreign_keys", "1"}, // on
			{"busy_timeout", "10000"},
		} {
			var got string
			if err := conn.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, c.pragma, got, c.want)
			}
		}
	}
}
