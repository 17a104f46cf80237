package partners

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth"
)

// OAuthClient resolves a client_id for the authorization server and resource
// servers (oauth.ClientRegistry semantics): oauth.ErrClientNotFound for an
// unknown id. Active is true only when the app is active, its partner is
// neither suspended nor terminated, and the app is a sandbox app or a
// production app of a live partner.
//
// It runs one indexed query (apps by primary key joined to partners by
// primary key) and caches answers per node for Config.ClientCacheTTL (2 s by
// default). Suspension, revocation and every app or partner change made
// through this Service drop the entries on this node at once; other nodes see
// the change within the TTL (their cache entries expire). Misses are not cached.
func (s *Service) OAuthClient(ctx context.Context, clientID string) (*oauth.Client, error) {
	now := s.now()
	if c, ok := s.cache.get(clientID, now); ok {
		return c, nil
	}
	gen := s.cache.generation()
	var row struct {
		ID           string                  `gorm:"column:id"`
		Name         string                  `gorm:"column:name"`
		PartnerID    string                  `gorm:"column:partner_id"`
		Environment  environment.Environment `gorm:"column:environment"`
		RedirectURIs string                  `gorm:"column:redirect_uris"`
		Scopes       string                  `gorm:"column:scopes"`
		JWKS         string                  `gorm:"column:jwks"`
		JWKSURI      string                  `gorm:"column:jwks_uri"`
		GrantTypes   string                  `gorm:"column:grant_types"`
		RequireJWS   bool                    `gorm:"column:require_signed_requests"`
		RequireJAR   bool                    `gorm:"column:require_signed_request_object"`
		Status       string                  `gorm:"column:status"`
		LegalName    string                  `gorm:"column:legal_name"`
		TradingName  string                  `gorm:"column:trading_name"`
		PartnerState string                  `gorm:"column:partner_state"`
	}
	res := s.db.WithContext(ctx).Raw(`SELECT a.id, a.name, a.partner_id, a.environment, a.redirect_uris, a.scopes,
		a.jwks, a.jwks_uri, a.grant_types, a.require_signed_requests, a.require_signed_request_object, a.status, p.legal_name, p.trading_name, p.status AS partner_state
		FROM apps a JOIN partners p ON p.id = a.partner_id WHERE a.id = ?`, clientID).Scan(&row)
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected == 0 || row.ID == "" {
		return nil, oauth.ErrClientNotFound
	}
	c := &oauth.Client{ID: row.ID, Name: row.Name, PartnerID: row.PartnerID, Environment: row.Environment,
		JWKSURI: row.JWKSURI, GrantTypes: GrantTypesOf(row.GrantTypes), RequireSignedRequests: row.RequireJWS,
		RequireSignedRequestObject: row.RequireJAR}
	c.PartnerName = row.TradingName
	if c.PartnerName == "" {
		c.PartnerName = row.LegalName
	}
	if err := json.Unmarshal([]byte(row.RedirectURIs), &c.RedirectURIs); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(row.Scopes), &c.Scopes); err != nil {
		return nil, err
	}
	if row.JWKS != "" {
		c.JWKS = json.RawMessage(row.JWKS)
	}
	c.Active = ClientActive(row.Status, row.Environment, Status(row.PartnerState))
	s.cache.put(clientID, c, gen, now)
	return cloneClient(c), nil
}

// DefaultGrantTypes are the grant types of an app that registered none: the
// portal's apps and every app from before grant types were recorded. They are
// all three the platform supports, because the consent flow needs them all
// (client_credentials to create a consent, authorization_code to have the
// customer authorise it, refresh_token to keep using it); only an app
// registered with explicit RFC 7591 grant_types has fewer.
func DefaultGrantTypes() []string {
	return []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials}
}

// GrantTypesOf reads an app's stored grant types (App.GrantTypes): the
// listed ones, or DefaultGrantTypes when none are stored.
func GrantTypesOf(stored string) []string {
	if gts := strings.Fields(stored); len(gts) > 0 {
		return gts
	}
	return DefaultGrantTypes()
}

// ClientActive is the Active rule of OAuthClient as a function of the app's
// status and environment and the partner's status.
func ClientActive(appStatus string, env environment.Environment, partner Status) bool {
	if appStatus != AppActive || partner == StatusSuspended || partner == StatusTerminated {
		return false
	}
	switch env {
	case environment.Sandbox:
		return true
	case environment.Production:
		return partner == StatusLive
	}
	return false
}

// Registry adapts the Service to oauth.ClientRegistry.
func (s *Service) Registry() oauth.ClientRegistry { return registry{s} }

type registry struct{ s *Service }

func (r registry) Client(ctx context.Context, clientID string) (*oauth.Client, error) {
	return r.s.OAuthClient(ctx, clientID)
}

func cloneClient(c *oauth.Client) *oauth.Client {
	cp := *c
	cp.RedirectURIs = append([]string(nil), c.RedirectURIs...)
	cp.Scopes = append([]string(nil), c.Scopes...)
	cp.GrantTypes = append([]string(nil), c.GrantTypes...)
	cp.JWKS = append(json.RawMessage(nil), c.JWKS...)
	return &cp
}

// clientCacheMax bounds the cache; when full it is cleared (the working set of
// client ids is small, so this is rare).
const clientCacheMax = 10000

type cacheEntry struct {
	c       *oauth.Client
	expires time.Time
}

// clientCache is a per-node TTL cache of OAuthClient answers. A generation
// counter, bumped on every invalidation, keeps a lookup that started before an
// invalidation from storing its (possibly stale) answer after it.
type clientCache struct {
	ttl time.Duration
	mu  sync.RWMutex
	gen uint64
	m   map[string]cacheEntry
}

func newClientCache(ttl time.Duration) *clientCache {
	return &clientCache{ttl: ttl, m: map[string]cacheEntry{}}
}

func (c *clientCache) enabled() bool { return c.ttl > 0 }

func (c *clientCache) get(id string, now time.Time) (*oauth.Client, bool) {
	if !c.enabled() {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	return cloneClient(e.c), true
}

func (c *clientCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

func (c *clientCache) put(id string, cl *oauth.Client, gen uint64, now time.Time) {
	if !c.enabled() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.m) >= clientCacheMax {
		c.m = map[string]cacheEntry{}
	}
	c.m[id] = cacheEntry{c: cl, expires: now.Add(c.ttl)}
}

func (c *clientCache) invalidateApp(id string) {
	c.mu.Lock()
	c.gen++
	delete(c.m, id)
	c.mu.Unlock()
}

func (c *clientCache) invalidatePartner(partnerID string) {
	c.mu.Lock()
	c.gen++
	for id, e := range c.m {
		if e.c.PartnerID == partnerID {
			delete(c.m, id)
		}
	}
	c.mu.Unlock()
}

// InvalidateClientCache drops every cached client on this node (for example
// when another package changed apps directly in the database).
func (s *Service) InvalidateClientCache() {
	s.cache.mu.Lock()
	s.cache.gen++
	s.cache.m = map[string]cacheEntry{}
	s.cache.mu.Unlock()
}
