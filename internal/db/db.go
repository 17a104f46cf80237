// Package db opens the relational store (embedded SQLite by default, PostgreSQL
// when a URL is given) and applies Bankbridge's versioned migrations.
package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names a supported SQL engine.
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options says which database to open.
type Options struct {
	// URL is a PostgreSQL URL (postgres:// or postgresql://). Empty selects SQLite.
	URL string
	// SQLitePath is the SQLite file used when URL is empty. ":memory:" is not
	// supported (each pooled connection would see its own database); use a temp file.
	SQLitePath string
	// Logger receives slow-query and error logs; nil discards them.
	Logger *slog.Logger
	// DriverName, when set, is the database/sql driver opened instead of
	// the engine's own (pgx, sqlite): tests register a wrapper of that
	// driver under another name, e.g. one that counts statements.
	DriverName string
}

// DB is an open store: the gorm handle and which engine is behind it.
type DB struct {
	*gorm.DB
	Dialect Dialect

	stopCheckpoints func()
	// gate queues this process's SQLite writers (writegate.go); nil on
	// PostgreSQL.
	gate        chan struct{}
	gateTimeout time.Duration
}

// Open opens (and for SQLite creates) the database. It does not migrate; call Migrate.
func Open(ctx context.Context, opts Options) (*DB, error) {
	cfg := &gorm.Config{
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
		SkipDefaultTransaction: true,
		PrepareStmt:            true,
		TranslateError:         true,
	}
	var (
		g   *gorm.DB
		d   Dialect
		err error
	)
	switch {
	case strings.HasPrefix(opts.URL, "postgres://"), strings.HasPrefix(opts.URL, "postgresql://"):
		d = Postgres
		g, err = gorm.Open(postgres.New(postgres.Config{DSN: opts.URL, DriverName: opts.DriverName}), cfg)
	case opts.URL != "":
		return nil, fmt.Errorf("db: unsupported database URL scheme in %q (want postgres://)", redact(opts.URL))
	default:
		d = SQLite
		if opts.SQLitePath == "" {
			return nil, errors.New("db: no SQLite path")
		}
		if err := os.MkdirAll(filepath.Dir(opts.SQLitePath), 0o700); err != nil {
			return nil, fmt.Errorf("db: create data directory: %w", err)
		}
		// WAL lets readers run beside the single writer; busy_timeout makes writers
		// queue instead of failing with SQLITE_BUSY; _txlock=immediate takes the write
		// lock at BEGIN so read-then-write transactions cannot deadlock. (No
		// _time_format: this driver ignores _txlock when it is present, and its
		// default already writes "2006-01-02 15:04:05.999999999-07:00".)
		// temp_store(MEMORY) keeps statement journals (a multi-row INSERT
		// in a transaction writes one) in SQLite's memory journal of 1 KB
		// chunks; otherwise SQLite spills them in 64 KB chunks, each one
		// mapped and unmapped by the pure-Go port's allocator: 14 % of the
		// node's CPU on a metered partner call (issue 14's profiles).
		dsn := "file:" + opts.SQLitePath + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_txlock=immediate" +
			fmt.Sprintf("&_pragma=wal_autocheckpoint(%d)", walAutoCheckpointPages)
		configurePageCache()
		g, err = gorm.Open(&sqlite.Dialector{DSN: dsn, DriverName: opts.DriverName}, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("db: open %s: %w", d, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, err
	}
	if d == SQLite {
		// One writer at a time is SQLite's model; a small pool keeps readers concurrent.
		sqlDB.SetMaxOpenConns(8)
		// Keep them all: database/sql keeps 2 idle by default, and reopening
		// a SQLite connection re-reads the schema and re-prepares statements.
		sqlDB.SetMaxIdleConns(8)
	} else {
		sqlDB.SetMaxOpenConns(32)
		sqlDB.SetMaxIdleConns(32)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("db: ping %s: %w", d, err)
	}
	out := &DB{DB: g, Dialect: d, stopCheckpoints: func() {}}
	if d == SQLite {
		out.gate, out.gateTimeout = make(chan struct{}, 1), writeGateTimeout
	}
	if d == SQLite {
		out.stopCheckpoints = startCheckpointer(sqlDB, walCheckpointInterval, opts.Logger)
	}
	return out, nil
}

// RowsPerInsert is how many rows one INSERT … VALUES should carry, up to
// max, for rows inserted inside a transaction (inTx) or not. On SQLite in
// a transaction it is 1: SQLite runs a multi-row VALUES as a SELECT that
// may write several rows and then hit a constraint, so inside a
// transaction it keeps a statement journal (a copy of every page the
// statement changes, to undo the statement alone), which a single-row
// INSERT, checking its constraints before it writes, does without. The
// journal's copies and their allocations were a fifth of the node's CPU on
// a metered partner call (issue 14's profiles). Elsewhere it is max: on
// PostgreSQL a statement costs a round trip, and SQLite needs no statement
// journal outside a transaction.
func (d *DB) RowsPerInsert(max int, inTx bool) int {
	if d.Dialect == SQLite && inTx {
		return 1
	}
	return max
}

// Close closes the pool.
func (d *DB) Close() error {
	if d.stopCheckpoints != nil {
		d.stopCheckpoints()
	}
	sqlDB, err := d.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks the database answers (for /readyz).
func (d *DB) Ping(ctx context.Context) error {
	sqlDB, err := d.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Tx runs fn in a transaction: committed when fn returns nil, rolled back
// otherwise. On SQLite, where every transaction takes the write lock at
// BEGIN, it waits for its turn among the process's writers first
// (Exclusive).
func (d *DB) Tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return d.Exclusive(ctx, func(ctx context.Context) error {
		return d.DB.WithContext(ctx).Transaction(fn)
	})
}

func redact(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}
