package webhooks

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/cachebus"
)

// EndpointCacheTopic is the cachebus topic of endpoint invalidations (keys:
// partner ids).
const EndpointCacheTopic = "webhooks.endpoints"

// Endpoint cache bounds: the TTL is a safety net (every endpoint change
// invalidates its partner's entry at once on every node).
const (
	endpointCacheTTL = 60 * time.Second
	endpointCacheMax = 20_000
)

// endpointCache holds, per partner, the enabled endpoints Publish fans an
// event out to, so publishing an event (in the caller's transaction, on the
// payment and consent paths) reads them from memory instead of the
// database. Every change of an endpoint — created, updated, deleted, its
// secret rotated, disabled by the dispatcher — publishes its partner's id on
// the bus once committed, and returns only after every node dropped the
// entry (endpointsChanged). Without a bus nothing is cached.
type endpointCache = cachebus.Cache[[]endpointRow]

// targets returns the enabled endpoints of partnerID (of appID only, unless
// appID is ""), ordered by id, from the cache or read with tx; none once
// the partner's outbox is closed (closure.go).
func (s *Service) targets(tx *gorm.DB, partnerID, appID string) ([]endpointRow, error) {
	all, ok := s.endpoints.Get(partnerID)
	if !ok {
		t := s.endpoints.Ticket()
		if err := tx.Where("partner_id = ? AND enabled = ? AND "+notClosed, partnerID, true).Order("id").Find(&all).Error; err != nil {
			return nil, err
		}
		s.endpoints.Put(t, partnerID, all)
	}
	if appID == "" {
		return all, nil
	}
	var out []endpointRow
	for _, e := range all {
		if e.AppID == appID {
			out = append(out, e)
		}
	}
	return out, nil
}

// endpointsChanged drops partnerID's cached endpoints on every node after a
// committed change of one of them. A failed publish is logged: this node's
// entry is dropped regardless, and another node's lives at most the TTL (a
// node whose subscription is down serves nothing from its cache).
func (s *Service) endpointsChanged(ctx context.Context, partnerID string) {
	if s.cfg.Bus == nil {
		return
	}
	if err := s.cfg.Bus.Publish(context.WithoutCancel(ctx), EndpointCacheTopic, partnerID); err != nil {
		s.endpoints.Invalidate(partnerID)
		s.log.Error("webhooks: publish endpoint invalidation", "partner_id", partnerID, "err", err)
	}
}
