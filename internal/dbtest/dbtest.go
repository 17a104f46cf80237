// Package dbtest opens migrated databases for tests: SQLite always, and
// PostgreSQL too when BANKBRIDGE_TEST_POSTGRES holds a URL. Each PostgreSQL test
// database is a fresh schema, dropped when the test ends.
package dbtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/ids"
)

// PostgresEnv names the environment variable holding the test PostgreSQL URL.
const PostgresEnv = "BANKBRIDGE_TEST_POSTGRES"

// Engine is a way to get a fresh, migrated database.
type Engine struct {
	Name string
	Open func(tb testing.TB) *db.DB
}

// Engines returns SQLite, plus PostgreSQL when BANKBRIDGE_TEST_POSTGRES is set.
// Run storage tests as: for _, e := range dbtest.Engines() { t.Run(e.Name, ...) }.
func Engines() []Engine {
	out := []Engine{{Name: "sqlite", Open: MustSQLite}}
	if os.Getenv(PostgresEnv) != "" {
		out = append(out, Engine{Name: "postgres", Open: MustPostgres})
	}
	return out
}

// MustSQLite opens a migrated SQLite database in the test's temp dir.
func MustSQLite(tb testing.TB) *db.DB {
	tb.Helper()
	d, err := db.Open(context.Background(), db.Options{SQLitePath: filepath.Join(tb.TempDir(), "test.db")})
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate sqlite: %v", err)
	}
	return d
}

// MustPostgres opens a migrated PostgreSQL database in a fresh schema, or skips
// the test when BANKBRIDGE_TEST_POSTGRES is unset.
func MustPostgres(tb testing.TB) *db.DB {
	tb.Helper()
	u := PostgresURL(tb)
	d, err := db.Open(context.Background(), db.Options{URL: u})
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	tb.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate postgres: %v", err)
	}
	return d
}

// PostgresURL creates a fresh schema and returns a URL whose connections use it
// (dropped at cleanup). It skips the test when BANKBRIDGE_TEST_POSTGRES is unset.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		tb.Skip(PostgresEnv + " not set")
	}
	schema := "t_" + strings.ToLower(ids.Random(12))
	admin, err := db.Open(context.Background(), db.Options{URL: base})
	if err != nil {
		tb.Fatalf("open postgres %s: %v", PostgresEnv, err)
	}
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	pu, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := pu.Query()
	q.Set("search_path", schema)
	pu.RawQuery = q.Encode()
	return pu.String()
}

// Each runs fn once per engine as a subtest named after the engine.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	for _, e := range Engines() {
		e := e
		t.Run(e.Name, func(t *testing.T) { fn(t, e.Open(t)) })
	}
}

// Describe is a helper that formats a schema difference for test failures.
func Describe(s db.Schema) string {
	var b strings.Builder
	for name, t := range s {
		fmt.Fprintf(&b, "%s: %v\n", name, t)
	}
	return b.String()
}

// MustPartnerOwner inserts the minimal rows that make email an owner of
// partnerID (a partner, a portal user, an owner membership), creating the
// partner if it does not exist, for tests of code that mails partner owners
// without depending on package partners.
func MustPartnerOwner(tb testing.TB, d *db.DB, partnerID, email string) {
	tb.Helper()
	now := time.Now().UTC()
	stmts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO partners (id, legal_name, status, created_at, updated_at) VALUES (?, ?, 'active', ?, ?) ON CONFLICT DO NOTHING`,
			[]any{partnerID, "Test partner " + partnerID, now, now}},
		{`INSERT INTO portal_users (id, email, password_hash, created_at, updated_at) VALUES (?, ?, 'x', ?, ?)`,
			[]any{"usr_" + email, email, now, now}},
		{`INSERT INTO memberships (partner_id, user_id, role, created_at) VALUES (?, ?, 'owner', ?)`,
			[]any{partnerID, "usr_" + email, now}},
	}
	for _, s := range stmts {
		if err := d.Exec(s.sql, s.args...).Error; err != nil {
			tb.Fatalf("dbtest: partner owner: %v", err)
		}
	}
}
