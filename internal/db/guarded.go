package db

import (
	"context"
	"strconv"
	"strings"
)

// Insert is one row to insert, as data: its table, columns and values. A
// package hands the INSERT of a row of its own table this way to a caller
// that makes it part of a statement of its own (Guarded), so no package
// writes another's table by hand.
type Insert struct {
	Table   string
	Columns []string
	Values  []any
}

// SQL is the row's INSERT statement and its arguments.
func (i Insert) SQL() (string, []any) {
	return "INSERT INTO " + i.Table + " (" + strings.Join(i.Columns, ", ") + ") VALUES (" + placeholders(len(i.Columns)) + ")", i.Values
}

// placeholders is "?, ?, …", n of them.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Writes are the side effects of one change, as data: the rows it adds (an
// audit entry, an outbox event and its deliveries), the PostgreSQL channels
// to notify when they commit, and what to run once they are written.
type Writes struct {
	Inserts []Insert
	// Notify are channels pg_notify is called on with the rows (a
	// notification is transactional: sent only if they commit, once they
	// are visible). PostgreSQL only; ignored on SQLite.
	Notify []string
	// Written, when not nil, runs after the rows are written (inside an
	// enclosing transaction of ctx: before it commits).
	Written func()
}

// Add appends w's rows and channels to ws, and chains w's Written after
// ws's.
func (ws *Writes) Add(w Writes) {
	ws.Inserts = append(ws.Inserts, w.Inserts...)
	ws.Notify = append(ws.Notify, w.Notify...)
	if w.Written != nil {
		if prev := ws.Written; prev != nil {
			ws.Written = func() { prev(); w.Written() }
		} else {
			ws.Written = w.Written
		}
	}
}

// Guarded runs update, a conditional UPDATE (without RETURNING) meant to
// change one row, and, only if it changed a row, writes w; it returns the
// number of rows update changed (0: nothing was written). All or nothing.
//
// On PostgreSQL it is one statement, atomic on its own, so it needs no
// transaction (the round trips of BEGIN and COMMIT): a data-modifying WITH
// whose INSERTs select their row from the UPDATE's RETURNING (LIMIT 1: one
// row each, however many the UPDATE changed). Two concurrent runs on the
// same row write once: the second UPDATE waits for the first's row lock
// and, under READ COMMITTED, re-checks its WHERE on the committed row,
// changes nothing and so inserts nothing. On SQLite it is a transaction of
// the UPDATE and the INSERTs. Either joins the transaction in ctx
// (TxContext) when there is one.
func (d *DB) Guarded(ctx context.Context, update string, args []any, w Writes) (int64, error) {
	var n int64
	if d.Dialect == Postgres {
		q, qargs := guardedSQL(update, args, w)
		if err := d.Conn(ctx).Raw(q, qargs...).Scan(&n).Error; err != nil {
			return 0, err
		}
	} else {
		err := d.TxContext(ctx, func(ctx context.Context) error {
			tx := d.Conn(ctx)
			res := tx.Exec(update, args...)
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error
			}
			n = res.RowsAffected
			for _, i := range w.Inserts {
				q, qargs := i.SQL()
				if err := tx.Exec(q, qargs...).Error; err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	if n > 0 && w.Written != nil {
		w.Written()
	}
	return n, nil
}

// guardedSQL is Guarded's PostgreSQL statement and its arguments:
//
//	WITH upd AS (UPDATE … RETURNING 1),
//	w0 AS (INSERT INTO t (a, b) SELECT ?, ? FROM upd LIMIT 1), …
//	n0 AS (SELECT pg_notify(?, '') FROM upd LIMIT 1), …
//	SELECT (SELECT count(*) FROM upd)[ + (SELECT count(*) FROM n0) * 0 …]
//
// One INSERT a row, each selecting from upd with no set operation, so
// PostgreSQL types each argument as its target column (a UNION would type
// them text). The data-modifying parts run whether or not the final SELECT
// reads them; a plain SELECT part runs only if read, so the final SELECT
// reads the notifications (times zero).
func guardedSQL(update string, args []any, w Writes) (string, []any) {
	var b strings.Builder
	out := append([]any(nil), args...)
	b.WriteString("WITH upd AS (" + update + " RETURNING 1)")
	for i, ins := range w.Inserts {
		b.WriteString(",\nw" + strconv.Itoa(i) + " AS (INSERT INTO " + ins.Table + " (" + strings.Join(ins.Columns, ", ") +
			") SELECT " + placeholders(len(ins.Columns)) + " FROM upd LIMIT 1)")
		out = append(out, ins.Values...)
	}
	for i, ch := range w.Notify {
		b.WriteString(",\nn" + strconv.Itoa(i) + " AS (SELECT pg_notify(?, '') FROM upd LIMIT 1)")
		out = append(out, ch)
	}
	b.WriteString("\nSELECT (SELECT count(*) FROM upd)")
	for i := range w.Notify {
		b.WriteString(" + 0 * (SELECT count(*) FROM n" + strconv.Itoa(i) + ")")
	}
	return b.String(), out
}
