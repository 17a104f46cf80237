package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Migrations are plain SQL files named NNNN_what.sql, applied in numeric order and
// recorded in schema_migrations. One file serves both engines: it is written in
// PostgreSQL's types and a few are rewritten for SQLite (see sqliteTypes).
//
// A migration may hold engine-specific sections (triggers, functions): a line
// "-- +engine postgres" starts SQL that only PostgreSQL runs, "-- +engine
// sqlite" SQL that only SQLite runs, and "-- +engine all" returns to SQL both
// run. Every migration is recorded in schema_migrations on both engines, even
// when one engine had nothing to run, so versions stay aligned. Statements end
// with a semicolon at the end of a line; semicolons inside a dollar-quoted
// body ($$ … $$, PostgreSQL functions) do not end a statement.
//
// Number ranges per domain keep parallel work from colliding:
// 0001-0009 platform, 0010-0019 oauth, 0020-0029 partners, 0030-0039 apis/core,
// 0040-0049 apis, 0050-0059 webhooks, 0060-0069 contracts.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migrations lists the embedded migrations in order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("db: migration file %q is not named NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("db: migrations %q and %q share version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(migrationFS, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		if err := checkSections(string(body)); err != nil {
			return nil, fmt.Errorf("db: migration %q: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: v, Name: m[2], SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// sqliteTypes rewrites PostgreSQL-only spellings for SQLite.
var sqliteTypes = strings.NewReplacer(
	"BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT",
	"TIMESTAMPTZ", "DATETIME",
	"BYTEA", "BLOB",
)

// engineMarker starts an engine section of a migration ("-- +engine postgres").
var engineMarker = regexp.MustCompile(`^--\s*\+engine\s+(\S+)\s*$`)

// engineNames are the section names a migration may use, by dialect.
var engineNames = map[string]Dialect{"postgres": Postgres, "sqlite": SQLite}

// checkSections reports an engine marker naming no known engine.
func checkSections(sql string) error {
	for i, line := range strings.Split(sql, "\n") {
		m := engineMarker.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		if _, ok := engineNames[m[1]]; !ok && m[1] != "all" {
			return fmt.Errorf("line %d: unknown engine %q in %q (use postgres, sqlite or all)", i+1, m[1], strings.TrimSpace(line))
		}
	}
	return nil
}

// sections keeps the lines of sql that engine d runs: those outside any engine
// section and those in d's sections (see Migrations).
func sections(sql string, d Dialect) string {
	var b strings.Builder
	keep := true
	for _, line := range strings.Split(sql, "\n") {
		if m := engineMarker.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			keep = m[1] == "all" || engineNames[m[1]] == d
			continue
		}
		if keep {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// SQLFor returns the migration's SQL as the given engine runs it: its shared
// lines plus the engine's own sections, with SQLite's type rewrites applied.
func (m Migration) SQLFor(d Dialect) string {
	sql := sections(m.SQL, d)
	if d == SQLite {
		return sqliteTypes.Replace(sql)
	}
	return sql
}

// Migrate applies every migration not yet recorded, each in its own transaction,
// and returns the versions it applied. On PostgreSQL an advisory lock serialises
// concurrent starts of several nodes.
func (d *DB) Migrate(ctx context.Context) ([]int, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	g := d.DB.WithContext(ctx)
	var applied []int
	err = g.Connection(func(conn *gorm.DB) error {
		if d.Dialect == Postgres {
			if err := conn.Exec(`SELECT pg_advisory_lock(7253841)`).Error; err != nil {
				return err
			}
			defer conn.Exec(`SELECT pg_advisory_unlock(7253841)`)
		}
		// Under the lock: two concurrent CREATE TABLE IF NOT EXISTS on
		// PostgreSQL can both miss the table and one then fails on the
		// catalogue's unique index.
		if err := conn.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at ` + map[Dialect]string{SQLite: "DATETIME", Postgres: "TIMESTAMPTZ"}[d.Dialect] + ` NOT NULL)`).Error; err != nil {
			return fmt.Errorf("db: create schema_migrations: %w", err)
		}
		var done []int
		if err := conn.Raw(`SELECT version FROM schema_migrations`).Scan(&done).Error; err != nil {
			return err
		}
		have := map[int]bool{}
		for _, v := range done {
			have[v] = true
		}
		for _, m := range ms {
			if have[m.Version] {
				continue
			}
			err := conn.Transaction(func(tx *gorm.DB) error {
				for _, stmt := range splitStatements(m.SQLFor(d.Dialect)) {
					if err := tx.Exec(stmt).Error; err != nil {
						return fmt.Errorf("%w\n-- in statement:\n%s", err, stmt)
					}
				}
				return tx.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
					m.Version, m.Name, time.Now().UTC()).Error
			})
			if err != nil {
				return fmt.Errorf("db: migration %04d_%s: %w", m.Version, m.Name, err)
			}
			applied = append(applied, m.Version)
		}
		return nil
	})
	return applied, err
}

// splitStatements splits a migration on semicolons that end a line, dropping
// comment-only lines. Migrations keep one statement per such semicolon; inside
// a dollar-quoted body ($$ … $$) a line-ending semicolon belongs to the body.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	inDollar := false
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || (!inDollar && strings.HasPrefix(trimmed, "--")) {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.Count(line, "$$")%2 == 1 {
			inDollar = !inDollar
		}
		if !inDollar && strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
