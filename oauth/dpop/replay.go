package dpop

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/oauth/internal/sqldialect"
)

// ErrReplay is returned by ReplayStore.Use for a key already recorded and not
// yet expired.
var ErrReplay = errors.New("dpop: replayed")

// ReplayStore records keys (jkt + ":" + jti) until an expiry time, refusing a
// key seen before whose expiry has not passed (RFC 9449 §11.1).
type ReplayStore interface {
	// Use records key until exp. It returns ErrReplay if key is already
	// recorded and unexpired, or another error if the store failed. The SQL
	// and Redis stores are safe across processes.
	Use(ctx context.Context, key string, exp time.Time) error
}

// Purger is implemented by stores that keep expired keys until told to delete them.
type Purger interface {
	// Purge deletes expired keys and returns how many it deleted.
	Purge(ctx context.Context) (int64, error)
}

// MemoryReplayStore is a ReplayStore for unit tests and single-process use.
type MemoryReplayStore struct {
	// Now is the clock; nil means time.Now. Set it before first use.
	Now func() time.Time

	mu      sync.Mutex
	seen    map[string]time.Time
	inserts int
}

// NewMemoryReplayStore makes an in-memory ReplayStore (a *MemoryReplayStore).
// It is not shared between processes.
func NewMemoryReplayStore() ReplayStore {
	return &MemoryReplayStore{seen: map[string]time.Time{}}
}

func (m *MemoryReplayStore) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Use implements ReplayStore.
func (m *MemoryReplayStore) Use(_ context.Context, key string, exp time.Time) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	if e, ok := m.seen[key]; ok && now.Before(e) {
		return ErrReplay
	}
	m.seen[key] = exp
	m.inserts++
	if m.inserts%1024 == 0 {
		m.purgeLocked(now)
	}
	return nil
}

// Purge implements Purger.
func (m *MemoryReplayStore) Purge(context.Context) (int64, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.purgeLocked(now), nil
}

func (m *MemoryReplayStore) purgeLocked(now time.Time) int64 {
	var n int64
	for k, e := range m.seen {
		if !now.Before(e) {
			delete(m.seen, k)
			n++
		}
	}
	return n
}

// GormReplayStore is a ReplayStore in the used_jtis table (migration
// 0011_used_jtis.sql), shared by every node using the database. It works on
// PostgreSQL and SQLite.
type GormReplayStore struct {
	// Now is the clock; nil means time.Now. Set it before first use.
	Now func() time.Time

	g *gorm.DB
	// sqlDB is the pool behind g (nil if gorm has none: Use then goes
	// through gorm); insert is Claim().Insert() bound to g's dialect, and
	// stmt is insert prepared on sqlDB by the first Use.
	sqlDB  *sql.DB
	insert string
	stmt   atomic.Pointer[sql.Stmt]
}

// usedJTIs is the replay table: a key is free again once its expiry is at
// or before the cutoff.
var usedJTIs = sqldialect.Claim{Table: "used_jtis", Key: "key", FreeAtExpiry: true}

// NewGormReplayStore makes a ReplayStore (a *GormReplayStore) on the
// used_jtis table. Call its Purge now and then to delete expired rows.
func NewGormReplayStore(g *gorm.DB) ReplayStore {
	s := &GormReplayStore{g: g, insert: sqldialect.Of(g).Bind(usedJTIs.Insert())}
	if sqlDB, err := g.DB(); err == nil {
		s.sqlDB = sqlDB
	}
	return s
}

func (s *GormReplayStore) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Claim is the store's replay write (sqldialect.Claim on used_jtis), for
// callers that record a proof's key inside a larger statement of their own
// (a data-modifying WITH); its cutoff argument is Cutoff().
func (s *GormReplayStore) Claim() sqldialect.Claim { return usedJTIs }

// Use implements ReplayStore with the one statement of Claim: the row is
// taken when absent or expired, and nothing changes (ErrReplay) when it is
// held by an unexpired use. Concurrent uses of one key: exactly one wins.
func (s *GormReplayStore) Use(ctx context.Context, key string, exp time.Time) error {
	if s.sqlDB != nil {
		st, err := s.prepared(ctx)
		if err != nil {
			return err
		}
		return s.UseIn(ctx, stmtExecer{st}, key, exp)
	}
	res := s.g.WithContext(ctx).Exec(usedJTIs.Insert(), key, exp.UTC(), s.now())
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrReplay
	}
	return nil
}

// prepared returns the store's insert prepared on its pool. Preparing is
// not cancelled with ctx: the statement outlives the call.
func (s *GormReplayStore) prepared(ctx context.Context) (*sql.Stmt, error) {
	if st := s.stmt.Load(); st != nil {
		return st, nil
	}
	st, err := s.sqlDB.PrepareContext(context.WithoutCancel(ctx), s.insert)
	if err != nil {
		return nil, err
	}
	if !s.stmt.CompareAndSwap(nil, st) {
		_ = st.Close()
		return s.stmt.Load(), nil
	}
	return st, nil
}

// stmtExecer runs a prepared statement as an Execer (the query argument is
// the statement's own).
type stmtExecer struct{ st *sql.Stmt }

func (e stmtExecer) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return e.st.ExecContext(ctx, args...)
}

// Execer is what UseIn needs of a transaction: *sql.Tx, *sql.Conn and
// *sql.DB all qualify.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// UseIn is Use run on ex, typically a transaction on the store's database,
// so the key is recorded atomically with the caller's other writes. Like Use
// it returns ErrReplay for a key already recorded and unexpired. On
// PostgreSQL an error other than ErrReplay aborts the transaction; ErrReplay
// does not.
func (s *GormReplayStore) UseIn(ctx context.Context, ex Execer, key string, exp time.Time) error {
	res, err := ex.ExecContext(ctx, s.insert, key, exp.UTC(), s.now())
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrReplay
	}
	return nil
}

// Rows is keys (with their expiries, exps[i] for keys[i]) as rows of the
// replay table for a statement of the caller's own (db.DB.InsertClaimed):
// the key column first, the ON CONFLICT clause that takes only a free or
// expired row (Use's comparison, on the store's clock). ok is false when
// the store's database is not PostgreSQL (no data-modifying WITH): use
// UseIn there. Keys must be distinct.
func (s *GormReplayStore) Rows(keys []string, exps []time.Time) (rows db.Rows, ok bool) {
	if sqldialect.Of(s.g) != sqldialect.Postgres {
		return db.Rows{}, false
	}
	vals := make([][]any, len(keys))
	for i, k := range keys {
		vals[i] = []any{k, exps[i].UTC()}
	}
	return db.Rows{Table: usedJTIs.Table, Columns: []string{usedJTIs.Key, "expires_at"}, Types: []string{"text", "timestamptz"},
		Values: vals, Conflict: usedJTIs.Conflict(), ConflictArgs: []any{s.now()}}, true
}

// Cutoff is the instant a recorded key must expire after to still count:
// a key whose expiry is at or before it is free again (Use's comparison,
// on the store's clock).
func (s *GormReplayStore) Cutoff() time.Time { return s.now() }

// Shares reports whether the store writes to the database behind g, so its
// UseIn may run in a transaction on g.
func (s *GormReplayStore) Shares(g *gorm.DB) bool {
	if s == nil || s.g == nil || g == nil {
		return false
	}
	a, err1 := s.g.DB()
	b, err2 := g.DB()
	return err1 == nil && err2 == nil && a == b
}

// Purge implements Purger: it deletes rows whose expiry has passed.
func (s *GormReplayStore) Purge(ctx context.Context) (int64, error) {
	res := s.g.WithContext(ctx).Exec(`DELETE FROM used_jtis WHERE expires_at <= ?`, s.now())
	return res.RowsAffected, res.Error
}

// RedisReplayStore is a ReplayStore in Redis: one key per use, SET NX with
// the remaining lifetime as expiry, so Redis drops expired keys itself.
type RedisReplayStore struct {
	// Now is the clock; nil means time.Now. Set it before first use.
	Now func() time.Time

	c      redis.UniversalClient
	prefix string
}

// NewRedisReplayStore makes a ReplayStore (a *RedisReplayStore) whose Redis
// keys are prefix + key.
func NewRedisReplayStore(c redis.UniversalClient, prefix string) ReplayStore {
	return &RedisReplayStore{c: c, prefix: prefix}
}

// Use implements ReplayStore.
func (s *RedisReplayStore) Use(ctx context.Context, key string, exp time.Time) error {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	ttl := exp.Sub(now)
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	ok, err := s.c.SetNX(ctx, s.prefix+key, 1, ttl).Result()
	if err != nil {
		return err
	}
	if !ok {
		return ErrReplay
	}
	return nil
}
