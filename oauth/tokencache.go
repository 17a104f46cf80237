package oauth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/bankbridge/bankbridge/internal/cachebus"
)

// TokenCacheTopic is the cachebus topic of access-token invalidations. Keys
// are a token signature, "req:" + a grant's request id or "client:" + a
// client id (every token of it).
const TokenCacheTopic = "oauth.tokens"

// Token cache bounds: the TTL is a safety net (every revocation invalidates
// at once on every node), well under an access token's lifetime.
const (
	tokenCacheTTL = 30 * time.Second
	tokenCacheMax = 50_000
)

// UseCacheBus makes the resource path cache access-token rows by signature
// on this node, invalidated through bus on every revocation (see
// Store.revoked): the store publishes, and the cache listens, on
// TokenCacheTopic. Call it once, before serving. Without a bus nothing is
// cached.
func (s *Store) UseCacheBus(bus cachebus.Bus) {
	s.bus = bus
	s.tokenCache = cachebus.NewCache[*resourceRow](bus, TokenCacheTopic, tokenCacheTTL, tokenCacheMax)
}

// UseCacheBus makes the server cache access-token rows (Store.UseCacheBus).
func (s *Server) UseCacheBus(bus cachebus.Bus) { s.store.UseCacheBus(bus) }

// UseCacheBus makes every revocation through t publish its invalidation on
// bus (Store.UseCacheBus).
func (t *Tokens) UseCacheBus(bus cachebus.Bus) { t.store.UseCacheBus(bus) }

func reqKey(requestID string) string   { return "req:" + requestID }
func clientKey(clientID string) string { return "client:" + clientID }

// cachedResourceRow is accessTokenForResource through the node's cache.
func (s *Store) cachedResourceRow(ctx context.Context, signature string) (*resourceRow, error) {
	if row, ok := s.tokenCache.Get(signature); ok {
		return row, nil
	}
	t := s.tokenCache.Ticket()
	row, err := s.accessTokenForResource(ctx, signature)
	if err != nil {
		return nil, err
	}
	s.tokenCache.Put(t, signature, row, reqKey(row.RequestID), clientKey(row.ClientID))
	return row, nil
}

// pendingInvalidations are the keys revoked in a transaction opened by
// BeginTX, published once it commits (publishing earlier would let another
// node read and cache the row as it was before the commit).
type pendingInvalidations struct {
	mu   sync.Mutex
	keys []string
}

// ctxInvalidations carries a *pendingInvalidations next to ctxTx.
type ctxInvalidationsKey struct{}

// revoked publishes the invalidation of keys (cache keys or tags) on every
// node and returns once it is published — or, inside a transaction opened
// by BeginTX, queues them until Commit. Without a bus it does nothing.
func (s *Store) revoked(ctx context.Context, keys ...string) error {
	if s.bus == nil || len(keys) == 0 {
		return nil
	}
	if txHandleOf(ctx) != nil {
		if p, ok := ctx.Value(ctxInvalidationsKey{}).(*pendingInvalidations); ok {
			p.mu.Lock()
			p.keys = append(p.keys, keys...)
			p.mu.Unlock()
			return nil
		}
	}
	return s.publish(ctx, keys)
}

// publish publishes keys, dropping them from this node's cache even when
// publishing fails (the error is returned: other nodes may not have them).
func (s *Store) publish(ctx context.Context, keys []string) error {
	var first error
	for _, k := range keys {
		if err := s.bus.Publish(ctx, TokenCacheTopic, k); err != nil {
			s.tokenCache.Invalidate(k)
			if first == nil {
				first = fmt.Errorf("oauth: publish token invalidation: %w", err)
			}
		}
	}
	return first
}

// committed publishes what the transaction in ctx revoked.
func (s *Store) committed(ctx context.Context) error {
	p, ok := ctx.Value(ctxInvalidationsKey{}).(*pendingInvalidations)
	if !ok {
		return nil
	}
	p.mu.Lock()
	keys := p.keys
	p.keys = nil
	p.mu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	return s.publish(context.WithoutCancel(ctx), keys)
}
