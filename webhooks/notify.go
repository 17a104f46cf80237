package webhooks

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
)

// notifyChannel is the PostgreSQL channel on which a commit that queued
// deliveries wakes the dispatchers of every node (LISTEN/NOTIFY). Without it
// another node finds new rows only at its next poll.
const notifyChannel = "bankbridge_webhooks"

// notifyQueued asks PostgreSQL to notify every listening node when tx
// commits (NOTIFY is transactional: nothing is sent if tx rolls back, and it
// is sent only once the rows are visible). On SQLite, one process owns the
// database and the in-process wake-up is enough.
func (s *Service) notifyQueued(tx *gorm.DB) error {
	if s.db.Dialect != db.Postgres {
		return nil
	}
	return tx.Exec("SELECT pg_notify(?, '')", notifyChannel).Error
}

// listen forwards notifications on notifyChannel to wake until ctx is done,
// on a connection of its own taken from the pool (and discarded afterwards,
// since it is still listening). A lost connection is retried every second;
// meanwhile polling still finds every row. It does nothing on SQLite.
func (s *Service) listen(ctx context.Context, wake chan<- struct{}) {
	if s.db.Dialect != db.Postgres {
		return
	}
	sqlDB, err := s.db.DB.DB()
	if err != nil {
		return
	}
	for ctx.Err() == nil {
		err := func() error {
			conn, err := sqlDB.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			return conn.Raw(func(dc any) error {
				sc, ok := dc.(*stdlib.Conn)
				if !ok {
					return errors.New("webhooks: not a pgx connection")
				}
				pc := sc.Conn()
				if _, err := pc.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
					return driver.ErrBadConn
				}
				// Rows committed before LISTEN took effect sent their
				// notification to nobody: look once now.
				select {
				case wake <- struct{}{}:
				default:
				}
				if s.onListen != nil {
					s.onListen()
				}
				for {
					if _, err := pc.WaitForNotification(ctx); err != nil {
						// The connection still listens (or is broken): never
						// hand it back to the pool.
						return driver.ErrBadConn
					}
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			})
		}()
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("webhooks: LISTEN connection lost; polling until it is back", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}
