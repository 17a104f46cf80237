package db

import (
	"context"
	"errors"
	"strconv"
	"strings"
)

// Rows is rows of one table to insert, as data: Insert's many-row form, with
// what a statement composed of several packages' rows needs to spell them
// (InsertClaimed). A package hands its rows this way, so no package writes
// another's table by hand.
type Rows struct {
	Table   string
	Columns []string
	// Types are the PostgreSQL types of Columns: outside an INSERT's own
	// VALUES list PostgreSQL types a VALUES list's arguments by its first
	// row, so that row casts them (else they would be text).
	Types []string
	// Values holds one slice a row, in Columns' order.
	Values [][]any
	// Conflict is the INSERT's ON CONFLICT clause ("" for none), written
	// with ? placeholders whose arguments are ConflictArgs.
	Conflict     string
	ConflictArgs []any
}

// errClaimedDialect refuses InsertClaimed on an engine without
// data-modifying WITH.
var errClaimedDialect = errors.New("db: InsertClaimed needs PostgreSQL")

// InsertClaimed writes claims, rows of a table of single-use ids whose first
// column is the id and whose Conflict leaves an id in use alone (so the
// INSERT returns only the ids claimed now), and rows, whose row i is written
// only when guards[i] is nil or an id claimed now (guards[i], when not nil,
// is a string: the id of one of claims' rows). It returns the ids claimed
// now. Every Rows of rows has len(guards) rows.
//
// It is one statement and no transaction (PostgreSQL only): a
// data-modifying WITH whose claim INSERT … RETURNING decides which guarded
// rows its other INSERTs select from their VALUES lists, so the claims and
// the rows they guard commit together or not at all, and a claim that loses
// (the id in use, even by a concurrent statement: its INSERT waits for the
// other's row lock and re-checks the conflict) writes none of its rows.
// Claims' ids must be distinct (PostgreSQL refuses an ON CONFLICT DO UPDATE
// that affects a row twice). It joins the transaction in ctx (TxContext)
// when there is one.
func (d *DB) InsertClaimed(ctx context.Context, claims Rows, guards []any, rows ...Rows) ([]string, error) {
	if d.Dialect != Postgres {
		return nil, errClaimedDialect
	}
	q, args := claimedSQL(claims, guards, rows)
	if q == "" {
		return nil, nil
	}
	res, err := d.Conn(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var ids []string
	for res.Next() {
		var id string
		if err := res.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, res.Err()
}

// claimedSQL is InsertClaimed's statement and its arguments ("" when there
// is nothing to write):
//
//	WITH c(k) AS (INSERT INTO ids (id, expires_at) VALUES (?, ?), … ON CONFLICT … RETURNING id),
//	w0 AS (INSERT INTO t (a, b) SELECT c0, c1 FROM (VALUES (?::text, ?::a_type, ?::b_type), (?, ?, ?), …)
//	       AS v(g, c0, c1) WHERE v.g IS NULL OR v.g IN (SELECT k FROM c) ON CONFLICT …), …
//	SELECT k FROM c
//
// The claim INSERT's own VALUES list types its arguments as its columns;
// the guarded lists cast their first row (Rows.Types). The data-modifying
// parts run once each, whether or not the final SELECT reads them.
func claimedSQL(claims Rows, guards []any, rows []Rows) (string, []any) {
	var b strings.Builder
	var args []any
	n := 0
	for _, r := range rows {
		n += len(r.Values)
	}
	if len(claims.Values) == 0 && n == 0 {
		return "", nil
	}
	if len(claims.Values) == 0 {
		b.WriteString("WITH c(k) AS (SELECT NULL::text WHERE false)")
	} else {
		b.WriteString("WITH c(k) AS (INSERT INTO " + claims.Table + " (" + strings.Join(claims.Columns, ", ") + ") VALUES ")
		row := "(" + placeholders(len(claims.Columns)) + ")"
		for i, v := range claims.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(row)
			args = append(args, v...)
		}
		b.WriteString(" " + claims.Conflict + " RETURNING " + claims.Columns[0] + ")")
		args = append(args, claims.ConflictArgs...)
	}
	for i, r := range rows {
		if len(r.Values) == 0 {
			continue
		}
		names := make([]string, len(r.Columns))
		first := make([]string, len(r.Columns)+1)
		first[0] = "?::text"
		for j := range r.Columns {
			names[j] = "c" + strconv.Itoa(j)
			first[j+1] = "?::" + r.Types[j]
		}
		b.WriteString(",\nw" + strconv.Itoa(i) + " AS (INSERT INTO " + r.Table + " (" + strings.Join(r.Columns, ", ") +
			") SELECT " + strings.Join(names, ", ") + " FROM (VALUES (" + strings.Join(first, ", ") + ")")
		rest := ", (" + placeholders(len(r.Columns)+1) + ")"
		for j, v := range r.Values {
			if j > 0 {
				b.WriteString(rest)
			}
			args = append(args, guards[j])
			args = append(args, v...)
		}
		b.WriteString(") AS v(g, " + strings.Join(names, ", ") + ") WHERE v.g IS NULL OR v.g IN (SELECT k FROM c)")
		if r.Conflict != "" {
			b.WriteString(" " + r.Conflict)
			args = append(args, r.ConflictArgs...)
		}
		b.WriteString(")")
	}
	b.WriteString("\nSELECT k FROM c")
	return b.String(), args
}
