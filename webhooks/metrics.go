package webhooks

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
)

// DeliveryObserver is told about every delivery attempt a dispatcher
// makes (metrics): how long the HTTP exchange took and, for a failed one, a
// bounded reason (FailureReason).
type DeliveryObserver interface {
	WebhookDelivery(latency time.Duration, failure string)
}

// Failure reasons passed to DeliveryObserver.
const (
	FailureTimeout  = "timeout"  // no answer in time
	FailureRefused  = "refused"  // destination address not allowed
	FailureNetwork  = "network"  // connection or TLS failure, unreadable response
	FailureRedirect = "redirect" // a 3xx (redirects are not followed)
	FailureHTTP4xx  = "http_4xx"
	FailureHTTP5xx  = "http_5xx"
	FailureOther    = "other"
)

// failureReason is o's bounded reason ("" when it succeeded).
func failureReason(o outcome) string {
	switch {
	case o.ok():
		return ""
	case o.status >= 300 && o.status < 400:
		return FailureRedirect
	case strings.HasPrefix(o.err, "timeout"):
		return FailureTimeout
	case strings.HasPrefix(o.err, "refused"):
		return FailureRefused
	case o.err != "":
		return FailureNetwork
	case o.status >= 400 && o.status < 500:
		return FailureHTTP4xx
	case o.status >= 500:
		return FailureHTTP5xx
	}
	return FailureOther
}

// observe reports an attempt to the configured observer.
func (s *Service) observe(o outcome) {
	if s.cfg.Observer != nil {
		s.cfg.Observer.WebhookDelivery(o.latency, failureReason(o))
	}
}

// PendingDeliveries is the number of deliveries waiting to be made (status
// pending), by one count over the (status, next_attempt_at) index.
func (s *Service) PendingDeliveries(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&deliveryRow{}).Where("status = ?", StatusPending).Count(&n).Error
	return n, err
}

// OldestPending is when the oldest delivery still waiting was queued; ok is
// false when none waits.
func (s *Service) OldestPending(ctx context.Context) (time.Time, bool, error) {
	var row deliveryRow
	err := s.db.WithContext(ctx).Select("created_at").Where("status = ?", StatusPending).Order("created_at").Limit(1).Take(&row).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, err
	}
	return row.CreatedAt.UTC(), true, nil
}
