// Package reqmemo remembers, for the length of one request, what the request
// already read from the database, so that the pieces of one page that each
// need the same row (the customer, their accounts, a consent, their second
// factors) read it once.
//
// A memo lives in a context (With) and dies with the request: it is never
// shared between requests, so it can never serve one request another's data
// or a value older than the request. Without With, Load always loads. A
// loader that changes what it memoised calls Forget (or Put) so that the
// rest of the request reads the new value.
package reqmemo

import (
	"context"
	"sync"
)

type ctxKey struct{}

// memo is one request's memoised reads.
type memo struct {
	mu sync.Mutex
	m  map[string]any
}

// With returns ctx carrying a new, empty memo; ctx unchanged when it already
// carries one.
func With(ctx context.Context) context.Context {
	if from(ctx) != nil {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, &memo{m: map[string]any{}})
}

func from(ctx context.Context) *memo {
	m, _ := ctx.Value(ctxKey{}).(*memo)
	return m
}

// Load returns the value memoised under key in ctx's memo, or calls load,
// memoises its value when it succeeds and returns it. Without a memo in ctx
// it just calls load. Values are shared within the request: callers that
// change what they got must copy it first.
func Load[T any](ctx context.Context, key string, load func() (T, error)) (T, error) {
	m := from(ctx)
	if m == nil {
		return load()
	}
	m.mu.Lock()
	v, ok := m.m[key]
	m.mu.Unlock()
	if t, isT := v.(T); ok && isT {
		return t, nil
	}
	t, err := load()
	if err != nil {
		return t, err
	}
	m.mu.Lock()
	m.m[key] = t
	m.mu.Unlock()
	return t, nil
}

// Put memoises v under key in ctx's memo (a value read some other way, e.g.
// a row found by another column); a no-op without a memo.
func Put[T any](ctx context.Context, key string, v T) {
	if m := from(ctx); m != nil {
		m.mu.Lock()
		m.m[key] = v
		m.mu.Unlock()
	}
}

// Forget drops key from ctx's memo, after a write that changed it.
func Forget(ctx context.Context, key string) {
	if m := from(ctx); m != nil {
		m.mu.Lock()
		delete(m.m, key)
		m.mu.Unlock()
	}
}
