package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
)

// cacheBusWait is how long start-up waits for the cache bus's subscription;
// until it is up the caches bypass (every read goes to the database).
const cacheBusWait = 5 * time.Second

// newCacheBus picks the bus that carries cache invalidations between nodes:
// Redis pub/sub when --redis-url is set, else PostgreSQL LISTEN/NOTIFY on a
// PostgreSQL database, else the in-process bus (SQLite: one node per
// database file). It is closed with the platform.
func (p *Platform) newCacheBus(ctx context.Context) (cachebus.Bus, error) {
	type waiter interface {
		WaitLive(context.Context) bool
	}
	var bus cachebus.Bus
	switch {
	case p.Config.RedisURL != "":
		opt, err := redis.ParseURL(p.Config.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		rc := redis.NewClient(opt)
		p.closers = append(p.closers, rc.Close)
		r := cachebus.NewRedis(rc, "", p.Log)
		p.closers = append(p.closers, r.Close)
		bus = r
	case p.DB.Dialect == db.Postgres:
		pg := cachebus.NewPostgres(p.Config.DatabaseURL, "", p.Log)
		p.closers = append(p.closers, pg.Close)
		bus = pg
	default:
		return cachebus.NewLocal(), nil
	}
	wctx, cancel := context.WithTimeout(ctx, cacheBusWait)
	defer cancel()
	if !bus.(waiter).WaitLive(wctx) {
		p.Log.Warn("cache bus not up yet: caches bypassed until it is")
	}
	return bus, nil
}
