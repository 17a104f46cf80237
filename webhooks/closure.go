// Closure: when a partnership ends (partners/exit), the partner's outbox is
// closed: its last events are published in the closing transaction, and
// after that no event of the partner is queued for delivery (Publish,
// replays and test events find no endpoint); deliveries queued before still
// go. Once they are done the exit disables the partner's endpoints.

package webhooks

import (
	"context"
	"strings"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// notClosed is the condition, on webhook_endpoints, that the endpoint's
// partner's outbox is open (part of the query that picks an event's targets,
// so closing costs the publishing path no round trip).
const notClosed = "NOT EXISTS (SELECT 1 FROM webhook_partner_closures c WHERE c.partner_id = webhook_endpoints.partner_id)"

// ClosePartner closes partnerID's outbox in tx (the caller's transaction, so
// events published earlier in it are still delivered): from its commit no
// event of the partner is queued. Closing a closed outbox is a no-op.
// Errors: validation_failed (no partner or reason).
func (s *Service) ClosePartner(ctx context.Context, tx *gorm.DB, partnerID, reason string) error {
	if partnerID == "" || strings.TrimSpace(reason) == "" {
		return problem.New(problem.CodeValidation, "closing an outbox needs a partner and a reason")
	}
	return tx.WithContext(ctx).Exec(`INSERT INTO webhook_partner_closures (partner_id, reason, closed_at) VALUES (?, ?, ?)
		ON CONFLICT (partner_id) DO NOTHING`, partnerID, reason, s.now()).Error
}

// AfterClose drops partnerID's cached endpoints on every node; call it once
// the transaction that closed the outbox (ClosePartner) has committed, so no
// node fans an event out to them from its cache. (Should it never be called,
// a node's entry lives at most the cache's TTL, and DisablePartnerEndpoints
// drops it again.)
func (s *Service) AfterClose(ctx context.Context, partnerID string) {
	s.endpointsChanged(ctx, partnerID)
}

// PartnerClosed reports whether partnerID's outbox is closed.
func (s *Service) PartnerClosed(ctx context.Context, partnerID string) (bool, error) {
	return closed(s.db.WithContext(ctx), partnerID)
}

func closed(tx *gorm.DB, partnerID string) (bool, error) {
	var n int64
	err := tx.Table("webhook_partner_closures").Where("partner_id = ?", partnerID).Count(&n).Error
	return n > 0, err
}

// refuseClosed refuses an on-demand delivery to a closed partner.
func refuseClosed(tx *gorm.DB, partnerID string) error {
	c, err := closed(tx, partnerID)
	if err != nil {
		return err
	}
	if c {
		return problem.New(problem.CodeConflict, "the partnership has ended: no more webhook events are sent")
	}
	return nil
}

// PartnerPendingDeliveries counts partnerID's deliveries still to be attempted.
func (s *Service) PartnerPendingDeliveries(ctx context.Context, partnerID string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&deliveryRow{}).Where("partner_id = ? AND status = ?", partnerID, StatusPending).Count(&n).Error
	return n, err
}

// DisablePartnerEndpoints disables every enabled endpoint of partnerID with
// reason (audited as the system; every node's cached endpoints of the
// partner dropped after commit) and returns how many it disabled;
// deliveries still pending are then cancelled by the dispatcher (the exit
// waits for them first, see partners/exit). It refuses (conflict) while the
// partner's outbox is open.
func (s *Service) DisablePartnerEndpoints(ctx context.Context, partnerID, reason string) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *gorm.DB) error {
		c, err := closed(tx, partnerID)
		if err != nil {
			return err
		}
		if !c {
			return problem.New(problem.CodeConflict, "the outbox of partner %s is open", partnerID)
		}
		var eps []endpointRow
		if err := tx.Where("partner_id = ? AND enabled = ?", partnerID, true).Order("id").Find(&eps).Error; err != nil {
			return err
		}
		now := s.now()
		for _, ep := range eps {
			if err := tx.Model(&endpointRow{}).Where("id = ?", ep.ID).
				Updates(map[string]any{"enabled": false, "disabled_reason": reason, "updated_at": now}).Error; err != nil {
				return err
			}
			if err := audit.Record(ctx, tx, audit.Entry{ActorType: audit.ActorSystem, ActorID: "exit", Action: "webhook_endpoint.disabled",
				ObjectType: "webhook_endpoint", ObjectID: ep.ID, PartnerID: partnerID, Details: map[string]any{"reason": reason}}); err != nil {
				return err
			}
		}
		n = len(eps)
		return nil
	})
	if err == nil {
		s.endpointsChanged(ctx, partnerID)
	}
	return n, err
}

// DeliverySummary is one endpoint's deliveries by status (the partner's data
// export).
type DeliverySummary struct {
	EndpointID  string           `json:"endpoint_id"`
	AppID       string           `json:"app_id"`
	Environment string           `json:"environment"`
	URL         string           `json:"url"`
	Enabled     bool             `json:"enabled"`
	Deliveries  map[string]int64 `json:"deliveries"`
}

// PartnerDeliverySummary lists partnerID's endpoints with their deliveries
// counted by status.
func (s *Service) PartnerDeliverySummary(ctx context.Context, partnerID string) ([]DeliverySummary, error) {
	g := s.db.WithContext(ctx)
	var eps []endpointRow
	if err := g.Where("partner_id = ?", partnerID).Order("id").Find(&eps).Error; err != nil {
		return nil, err
	}
	var counts []struct {
		EndpointID string
		Status     string
		N          int64
	}
	if err := g.Raw(`SELECT endpoint_id, status, COUNT(*) AS n FROM webhook_deliveries WHERE partner_id = ? GROUP BY endpoint_id, status`,
		partnerID).Scan(&counts).Error; err != nil {
		return nil, err
	}
	out := make([]DeliverySummary, len(eps))
	idx := map[string]int{}
	for i, ep := range eps {
		out[i] = DeliverySummary{EndpointID: ep.ID, AppID: ep.AppID, Environment: string(ep.Environment), URL: ep.URL,
			Enabled: ep.Enabled, Deliveries: map[string]int64{}}
		idx[ep.ID] = i
	}
	for _, c := range counts {
		if i, ok := idx[c.EndpointID]; ok {
			out[i].Deliveries[c.Status] = c.N
		}
	}
	return out, nil
}
