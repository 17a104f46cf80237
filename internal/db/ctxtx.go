package db

import (
	"context"

	"gorm.io/gorm"
)

// ctxTxKey is the context key of the transaction TxContext opened on one
// database.
type ctxTxKey struct{ d *DB }

// TxContext runs fn in a transaction carried in fn's context: every Conn(ctx)
// inside fn uses it, so store methods called with that ctx join it (fosite's
// transactional-storage style). Committed when fn returns nil, rolled back
// otherwise. Called with a ctx that already carries a transaction on d, it
// joins that transaction instead of opening another.
func (d *DB) TxContext(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(ctxTxKey{d}).(*gorm.DB); ok {
		return fn(ctx)
	}
	return d.Exclusive(ctx, func(ctx context.Context) error {
		return d.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return fn(context.WithValue(ctx, ctxTxKey{d}, tx))
		})
	})
}

// InTx reports whether ctx carries a transaction TxContext opened on d.
func (d *DB) InTx(ctx context.Context) bool {
	_, ok := ctx.Value(ctxTxKey{d}).(*gorm.DB)
	return ok
}

// Conn is the transaction TxContext put in ctx, else the database, bound to
// ctx.
func (d *DB) Conn(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(ctxTxKey{d}).(*gorm.DB); ok {
		return tx.WithContext(ctx)
	}
	return d.DB.WithContext(ctx)
}
