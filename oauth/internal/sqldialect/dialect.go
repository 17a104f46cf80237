// Package sqldialect is the one place in oauth (and oauth/dpop) that knows
// how PostgreSQL and SQLite spell the hot path's SQL: placeholders, and which
// statements only PostgreSQL can run (data-modifying WITH). Statements are
// written once with ? placeholders and bound to an engine when the store is
// made, never per request. It also builds the one replay write (Claim) that
// records a single-use id.
package sqldialect

import (
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// Dialect is the SQL spelling of one database engine.
type Dialect int

const (
	// SQLite takes ? placeholders; it cannot run INSERT inside WITH.
	SQLite Dialect = iota
	// Postgres takes $1, $2, … placeholders and data-modifying WITH.
	Postgres
)

// Of returns the dialect of g's engine: Postgres for gorm's "postgres"
// dialector, SQLite otherwise.
func Of(g *gorm.DB) Dialect {
	if g != nil && g.Dialector != nil && g.Dialector.Name() == "postgres" {
		return Postgres
	}
	return SQLite
}

// String names the dialect ("sqlite" or "postgres").
func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Bind returns q, written with ? placeholders, in d's spelling: unchanged
// for SQLite, each ? numbered $1, $2, … in order for PostgreSQL. q must hold
// no other ? (string literals or operators): the statements given here are
// constants of this module.
func (d Dialect) Bind(q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			b.WriteByte(q[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// WritableCTE reports whether d runs INSERT … RETURNING inside WITH, so
// several dependent writes can be one statement (PostgreSQL only).
func (d Dialect) WritableCTE() bool { return d == Postgres }
