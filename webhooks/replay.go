// Replay: deliveries a partner queues on demand — a test event to one
// endpoint, an event delivered again, a time range of events delivered again
// to one endpoint. Their limits are in replaylimits.go.

package webhooks

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/problem"
)

// SendTest sends a webhook.test event to one endpoint and returns the event id.
// It counts against the partner's daily on-demand budget (see
// DefaultReplayDailyDeliveries). Errors: not_found, conflict (endpoint
// disabled), rate_limited.
func (s *Service) SendTest(ctx context.Context, sc Scope, endpointID string) (string, error) {
	var id string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		r, err := s.load(tx, sc, endpointID, false)
		if err != nil {
			return err
		}
		if !r.Enabled {
			return problem.New(problem.CodeConflict, "webhook endpoint %s is disabled; enable it to send a test event", endpointID)
		}
		if err := refuseClosed(tx, r.PartnerID); err != nil {
			return err
		}
		if err := s.spendReplayBudget(tx, r.PartnerID, 1, s.now()); err != nil {
			return err
		}
		id, err = s.publish(ctx, tx, Event{Type: TestEventType, PartnerID: r.PartnerID, AppID: r.AppID,
			Data: map[string]any{"endpoint_id": r.ID, "message": "This is a test event from Bankbridge."}}, r)
		return err
	})
	return id, err
}

// ReplayEvent delivers an event again (same webhook-id) to every enabled
// endpoint in scope subscribed to its type, and returns how many deliveries
// were queued; they count against the partner's daily on-demand budget.
// Errors: not_found, rate_limited (nothing queued).
func (s *Service) ReplayEvent(ctx context.Context, sc Scope, eventID string) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var ev eventRow
		if err := tx.Where("id = ? AND partner_id = ?", eventID, sc.PartnerID).Take(&ev).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return problem.New(problem.CodeNotFound, "event %s not found", eventID)
			}
			return err
		}
		if sc.AppID != "" && ev.AppID != "" && ev.AppID != sc.AppID {
			return problem.New(problem.CodeNotFound, "event %s not found", eventID)
		}
		q := tx.Where("partner_id = ? AND enabled = ? AND "+notClosed, ev.PartnerID, true)
		if app := firstNonEmpty(ev.AppID, sc.AppID); app != "" {
			q = q.Where("app_id = ?", app)
		}
		var targets []endpointRow
		if err := q.Order("id").Find(&targets).Error; err != nil {
			return err
		}
		if ev.Type == TestEventType {
			targets = nil // test events are not replayed to other endpoints
		}
		var err error
		now := s.now()
		if n, err = s.enqueue(tx, ev.ID, ev.Type, targets, now); err != nil {
			return err
		}
		return s.spendReplayBudget(tx, ev.PartnerID, n, now)
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.wake()
	}
	return n, err
}

// ReplayRange delivers again to one endpoint every event it subscribes to that
// was published in [from, to); with failedOnly, only events not yet delivered
// successfully to it (dead-lettered, cancelled, or published while it was
// disabled). It returns how many deliveries were queued. One range replay
// per endpoint per Config.ReplayInterval, at most Config.ReplayMaxEvents
// events, and the deliveries count against the partner's daily on-demand
// budget; a refused replay queues nothing. Errors: not_found,
// validation_failed (range, too many events), conflict (endpoint disabled),
// rate_limited (with retry_after).
func (s *Service) ReplayRange(ctx context.Context, sc Scope, endpointID string, from, to time.Time, failedOnly bool) (int, error) {
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		return 0, problem.New(problem.CodeValidation, "replay range must have from before to")
	}
	var n int
	err := s.tx(ctx, func(tx *gorm.DB) error {
		r, err := s.load(tx, sc, endpointID, false)
		if err != nil {
			return err
		}
		if !r.Enabled {
			return problem.New(problem.CodeConflict, "webhook endpoint %s is disabled; enable it to replay events", endpointID)
		}
		if err := refuseClosed(tx, r.PartnerID); err != nil {
			return err
		}
		now := s.now()
		if err := s.claimReplayWindow(tx, r.ID, now); err != nil {
			return err
		}
		q := tx.Model(&eventRow{}).Where("partner_id = ? AND (app_id = '' OR app_id = ?) AND created_at >= ? AND created_at < ? AND type <> ?",
			r.PartnerID, r.AppID, from.UTC(), to.UTC(), TestEventType)
		if failedOnly {
			q = q.Where("NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id AND d.endpoint_id = ? AND d.status IN (?, ?))",
				r.ID, StatusSucceeded, StatusPending)
		}
		var evs []eventRow
		if err := q.Order("created_at, id").Limit(s.cfg.ReplayMaxEvents + 1).Find(&evs).Error; err != nil {
			return err
		}
		if len(evs) > s.cfg.ReplayMaxEvents {
			return problem.New(problem.CodeValidation, "the range holds more than %d events to replay; a range replay queues at most %d, so narrow the range",
				s.cfg.ReplayMaxEvents, s.cfg.ReplayMaxEvents)
		}
		for _, ev := range evs {
			k, err := s.enqueue(tx, ev.ID, ev.Type, []endpointRow{*r}, now)
			if err != nil {
				return err
			}
			n += k
		}
		return s.spendReplayBudget(tx, r.PartnerID, n, now)
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.wake()
	}
	return n, err
}
