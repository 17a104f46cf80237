package sqlhook_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	_ "github.com/glebarez/go-sqlite"

	"github.com/bankbridge/bankbridge/internal/sqlhook"
)

type ctxKey struct{}

// TestWrap: the hook sees every call with its statement and the caller's
// context (the BeginTx context for COMMIT and ROLLBACK), and the outcome.
func TestWrap(t *testing.T) {
	base, err := sql.Open("sqlite", "")
	if err != nil {
		t.Fatal(err)
	}
	d := base.Driver()
	base.Close()
	var (
		mu   sync.Mutex
		seen []string
	)
	sql.Register("sqlhook-test", sqlhook.Wrap(d, func(ctx context.Context, op sqlhook.Op, q string) (context.Context, func(error)) {
		tag, _ := ctx.Value(ctxKey{}).(string)
		return ctx, func(err error) {
			mu.Lock()
			defer mu.Unlock()
			out := "ok"
			switch {
			case errors.Is(err, driver.ErrSkip):
				out = "skip"
			case err != nil:
				out = "error"
			}
			seen = append(seen, strings.Join([]string{string(op), strings.Fields(q + " -")[0], tag, out}, " "))
		}
	}))
	db, err := sql.Open("sqlhook-test", "file::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.WithValue(context.Background(), ctxKey{}, "req")
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	mustExec("CREATE TABLE t (v INTEGER)")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (?)", 1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	st, err := db.PrepareContext(ctx, "SELECT v FROM t WHERE v = ?")
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := st.QueryRowContext(ctx, 1).Scan(&v); err != nil || v != 1 {
		t.Fatalf("prepared query: %d, %v", v, err)
	}
	st.Close()
	tx, _ = db.BeginTx(ctx, nil)
	_ = tx.Rollback()
	if _, err := db.ExecContext(ctx, "SELECT * FROM missing"); err == nil {
		t.Fatal("a statement on a missing table succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{
		"exec CREATE req ok", "begin - req ok", "exec INSERT req ok", "commit - req ok",
		"prepare SELECT req ok", "query SELECT req ok", "begin - req ok", "rollback - req ok", "exec SELECT req error",
	} {
		i := slices.Index(seen, want)
		if i < 0 {
			t.Fatalf("the hook did not see %q; it saw %q", want, seen)
		}
		seen = seen[i+1:]
	}
}
