package oauth

import (
	"context"
	"database/sql"
	"sync"

	"github.com/bankbridge/bankbridge/oauth/dpop"
)

// stmtCache holds the token hot path's statements prepared once on the pool
// (database/sql re-prepares each on a connection the first time it is used
// there), so SQLite does not compile them on every request.
type stmtCache struct {
	db *sql.DB
	m  sync.Map // query → *sql.Stmt
}

// prepared returns q prepared on the pool. Preparing is not cancelled with
// ctx: the statement outlives the request.
func (c *stmtCache) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.m.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := c.db.PrepareContext(context.WithoutCancel(ctx), q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(q, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// stmtTx runs a transaction's statements as the cache's prepared statements.
type stmtTx struct {
	c  *stmtCache
	tx *sql.Tx
}

var _ dpop.Execer = stmtTx{}

// ExecContext implements dpop.Execer.
func (t stmtTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := t.c.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// execAffected runs one statement on ex and returns the rows it affected.
func execAffected(ctx context.Context, ex dpop.Execer, q string, args ...any) (int64, error) {
	res, err := ex.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// stmtPool runs statements outside a transaction as the cache's prepared
// statements.
type stmtPool struct{ c *stmtCache }

var _ dpop.Execer = stmtPool{}

// ExecContext implements dpop.Execer.
func (p stmtPool) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := p.c.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}
