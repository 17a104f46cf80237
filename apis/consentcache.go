package apis

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/bankbridge/bankbridge/internal/cachebus"
)

// ConsentCacheTopic is the cachebus topic of consent invalidations (keys:
// consent ids).
const ConsentCacheTopic = "apis.consents"

// Consent cache bounds: the TTL is a safety net (every status change
// invalidates at once on every node).
const (
	consentCacheTTL = 30 * time.Second
	consentCacheMax = 50_000
)

// consentCache is the resource path's per-node cache of consents by id
// (Service.UsableConsent); nil caches nothing.
type consentCache = cachebus.Cache[*Consent]

// publishingStore is the Store with every consent status change published
// on the bus once it is committed: SetConsentStatus outside a transaction
// publishes at once; inside Tx the ids are published after the commit (a
// node that read the consent between an earlier publish and the commit would
// cache what was about to change). The change's caller returns only after
// the publish.
type publishingStore struct {
	Store
	bus   cachebus.Bus
	cache *consentCache
	log   func(ctx context.Context, msg string, args ...any)
}

// ctxChangedConsents carries the *changedConsents of the Tx in a context.
type ctxChangedConsents struct{}

type changedConsents struct {
	mu  sync.Mutex
	ids []string
}

// Tx implements Store: the consents whose status the transaction changed
// are published after it commits.
func (s *publishingStore) Tx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(ctxChangedConsents{}).(*changedConsents); ok {
		return s.Store.Tx(ctx, fn) // joins the outer transaction, which publishes
	}
	ch := &changedConsents{}
	if err := s.Store.Tx(context.WithValue(ctx, ctxChangedConsents{}, ch), fn); err != nil {
		return err
	}
	s.publish(ctx, ch.ids...)
	return nil
}

// SetConsentStatus implements Store, publishing a change from authorised
// (see the type; no other consent is ever cached).
func (s *publishingStore) SetConsentStatus(ctx context.Context, c *Consent, from ...string) error {
	if err := s.Store.SetConsentStatus(ctx, c, from...); err != nil {
		return err
	}
	s.changed(ctx, c, from)
	return nil
}

// DecideConsent implements Store, publishing a change from authorised as
// SetConsentStatus does.
func (s *publishingStore) DecideConsent(ctx context.Context, d ConsentDecision) error {
	if err := s.Store.DecideConsent(ctx, d); err != nil {
		return err
	}
	s.changed(ctx, d.Consent, d.From)
	return nil
}

// changed publishes c's change from one of from, if that is authorised: at
// once, or after the commit of the transaction in ctx.
func (s *publishingStore) changed(ctx context.Context, c *Consent, from []string) {
	if !slices.Contains(from, StatusAuthorised) {
		return
	}
	if ch, ok := ctx.Value(ctxChangedConsents{}).(*changedConsents); ok {
		ch.mu.Lock()
		ch.ids = append(ch.ids, c.ID)
		ch.mu.Unlock()
		return
	}
	s.publish(ctx, c.ID)
}

// publish sends ids' invalidations; a failure is logged (the change is
// committed) and the ids are at least dropped from this node's cache.
func (s *publishingStore) publish(ctx context.Context, ids ...string) {
	ctx = context.WithoutCancel(ctx)
	for _, id := range ids {
		if err := s.bus.Publish(ctx, ConsentCacheTopic, id); err != nil {
			s.cache.Invalidate(id)
			s.log(ctx, "apis: publish consent invalidation", "consent_id", id, "err", err)
		}
	}
}

// cachedConsent is Service.consent through the node's cache for account
// access and data sharing consents (payment consents, used once and
// changed by their payment, are always read from the database): a cached
// consent is served only while it has not expired (an expired one is loaded
// again, which marks it expired). Only authorised consents are kept (the
// only usable ones: so only a change from authorised needs publishing). The
// caller gets its own copy.
func (s *Service) cachedConsent(ctx context.Context, id, typ string) (*Consent, error) {
	if typ == TypePaymentInitiation {
		return s.consent(ctx, id)
	}
	if c, ok := s.consents.Get(id); ok && !c.Expired(s.now()) {
		return copyConsent(c), nil
	}
	t := s.consents.Ticket()
	c, err := s.consent(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status == StatusAuthorised {
		s.consents.Put(t, id, copyConsent(c))
	}
	return c, nil
}

// copyConsent copies c and the lists a caller might change in place.
func copyConsent(c *Consent) *Consent {
	cp := *c
	cp.AccountIDs = slices.Clone(c.AccountIDs)
	cp.Permissions = slices.Clone(c.Permissions)
	cp.Datasets = slices.Clone(c.Datasets)
	cp.Authorisation.AMR = slices.Clone(c.Authorisation.AMR)
	return &cp
}
