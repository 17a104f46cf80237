package main

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
)

// seedLockKey is the PostgreSQL advisory lock (session level) that
// serialises seeding across nodes; migrations hold another (internal/db).
const seedLockKey = 7253842

// SeedSandbox creates the synthetic bank customers and, in development mode
// only, the demo partner with its portal login and sandbox app; safe to run
// at every start, and on PostgreSQL on several nodes starting at once: the
// seeding runs under an advisory lock, so the first node seeds and the
// others, once it is done, find everything there and add nothing.
func (p *Platform) SeedSandbox(ctx context.Context) error {
	if p.DB.Dialect != db.Postgres {
		return p.seed(ctx)
	}
	return p.DB.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		if err := conn.Exec(`SELECT pg_advisory_lock(?)`, seedLockKey).Error; err != nil {
			return fmt.Errorf("seed lock: %w", err)
		}
		// Unlock on a context that outlives a cancelled start: the
		// connection returns to the pool holding no lock.
		defer conn.WithContext(context.WithoutCancel(ctx)).Exec(`SELECT pg_advisory_unlock(?)`, seedLockKey)
		return p.seed(ctx)
	})
}
