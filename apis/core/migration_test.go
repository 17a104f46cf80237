package core_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// TestMigrationEnvironments upgrades a database from before customers had an
// environment (migrations up to 0031, with a customer made by `bankbridge
// customers create` and dashboard sessions in it) through 0032, on every
// engine: the old customer and account become sandbox ones (signed in by
// sandbox apps only), the username is free in production, and the customer
// dashboard sessions made without an environment are gone (other sessions
// stay).
func TestMigrationEnvironments(t *testing.T) {
	engines := map[string]func(t *testing.T) db.Options{
		"sqlite": func(t *testing.T) db.Options { return db.Options{SQLitePath: filepath.Join(t.TempDir(), "old.db")} },
	}
	if dbtest.Engines()[len(dbtest.Engines())-1].Name == "postgres" {
		engines["postgres"] = func(t *testing.T) db.Options { return db.Options{URL: dbtest.PostgresURL(t)} }
	}
	for name, opts := range engines {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d, err := db.Open(ctx, opts(t))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			ms, err := db.Migrations()
			if err != nil {
				t.Fatal(err)
			}
			applied := map[db.Dialect]string{db.SQLite: "DATETIME", db.Postgres: "TIMESTAMPTZ"}[d.Dialect]
			if err := d.Exec(`CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at ` + applied + ` NOT NULL)`).Error; err != nil {
				t.Fatal(err)
			}
			// Migrate up to 0031 only: mark 0032 and later applied, migrate,
			// then unmark them.
			for _, m := range ms {
				if m.Version >= 32 {
					if err := d.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, m.Version, m.Name, time.Now().UTC()).Error; err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := d.Migrate(ctx); err != nil {
				t.Fatalf("Migrate to 0031: %v", err)
			}
			if err := d.Exec(`DELETE FROM schema_migrations WHERE version >= 32`).Error; err != nil {
				t.Fatal(err)
			}
			// What `bankbridge customers create --username jo.old` left before 0032.
			now := time.Now().UTC()
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{`INSERT INTO core_customers (id, username, password_hash, display_name, status, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
					[]any{"cus_old", "jo.old", "$2a$04$abcdefghijklmnopqrstuu7B2iFYyIDrFtj5nD8lM6b2x0wG4yP5G", "Jo", core.CustomerActive, now}},
				{`INSERT INTO core_accounts (id, customer_id, type, sub_type, holder_name, currency, scheme_name, identification, status, status_updated_at, opened_at, balance_minor, last_booked_at)
					VALUES ('acc_old', 'cus_old', 'current', 'CurrentAccount', 'Jo', 'GBP', 'UK.OBIE.SortCodeAccountNumber', '99010122222222', 'enabled', ?, ?, 1000, ?)`,
					[]any{now, now, now}},
				{`INSERT INTO web_sessions (token_hash, kind, subject_id, created_at, last_seen_at, expires_at) VALUES ('h1', 'customer', 'cus_old', ?, ?, ?)`,
					[]any{now, now, now.Add(time.Hour)}},
				{`INSERT INTO web_sessions (token_hash, kind, subject_id, created_at, last_seen_at, expires_at) VALUES ('h2', 'portal', 'usr_1', ?, ?, ?)`,
					[]any{now, now, now.Add(time.Hour)}},
			} {
				if err := d.Exec(q.sql, q.args...).Error; err != nil {
					t.Fatal(err)
				}
			}
			if _, err := d.Migrate(ctx); err != nil {
				t.Fatalf("Migrate: %v", err)
			}

			r := core.NewReference(d, core.Options{})
			c, err := r.Customer(ctx, "cus_old")
			if err != nil || c.Environment != environment.Sandbox {
				t.Fatalf("old customer %+v, %v; want a sandbox customer", c, err)
			}
			if a, err := r.Account(ctx, "acc_old"); err != nil || a.Environment != environment.Sandbox {
				t.Fatalf("old account %+v, %v; want a sandbox account", a, err)
			}
			if _, err := r.CustomerByUsername(ctx, environment.Production, "jo.old"); err == nil {
				t.Fatal("the old customer is reachable in production")
			}
			if _, err := r.CreateCustomer(ctx, environment.Production, "jo.old", "correct horse", "Jo Real"); err != nil {
				t.Fatalf("the username is not free in production: %v", err)
			}
			var kinds []string
			if err := d.Raw(`SELECT kind FROM web_sessions ORDER BY kind`).Scan(&kinds).Error; err != nil {
				t.Fatal(err)
			}
			if strings.Join(kinds, ",") != "portal" {
				t.Fatalf("sessions after the migration: %v, want only the portal one", kinds)
			}
			if err := d.Exec(`UPDATE core_customers SET environment = 'staging' WHERE id = 'cus_old'`).Error; err == nil {
				t.Fatal("the database accepts an environment other than sandbox or production")
			}
		})
	}
}
