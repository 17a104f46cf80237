package db

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"
)

// SQLite's write-ahead log is copied back into the database file by a
// checkpoint. By default SQLite runs it inside the COMMIT that pushes the
// log past 1,000 pages, so one unlucky request pays for copying and
// fsyncing everyone's pages while it holds the write lock. Instead a
// background goroutine checkpoints every walCheckpointInterval on a
// connection of its own (PASSIVE: it never blocks writers or readers), and
// the in-commit checkpoint only runs as a backstop when the log reaches
// walAutoCheckpointPages (e.g. if the background checkpoints keep being
// cut short by long readers).
const (
	walCheckpointInterval  = time.Second
	walAutoCheckpointPages = 16384 // 64 MiB of 4 KiB pages
)

// startCheckpointer runs PRAGMA wal_checkpoint(PASSIVE) every interval until
// the returned function is called (which waits for a running checkpoint).
func startCheckpointer(sqlDB *sql.DB, interval time.Duration, log *slog.Logger) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := sqlDB.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil && ctx.Err() == nil && log != nil {
				log.Warn("sqlite checkpoint failed", "err", err)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); wg.Wait() }) }
}
