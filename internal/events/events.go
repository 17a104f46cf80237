// Package events is the one interface every domain publishes partner-facing
// events through (partner.status_changed, consent.revoked, statement.issued,
// quota.threshold_reached, …). The platform implements it with the webhooks
// outbox: an event is written in the caller's transaction, so it exists
// exactly when the change that caused it commits, and is delivered later by
// the dispatchers.
package events

import (
	"context"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
)

// Publisher publishes an event for a partner (and, when appID is not empty,
// one of its apps) in tx, the transaction of the change it announces. data is
// the event's JSON payload. An error aborts the caller's transaction.
type Publisher interface {
	Publish(ctx context.Context, tx *gorm.DB, eventType, partnerID, appID string, data map[string]any) error
}

// RowPublisher is a Publisher that can also give an event's writes as data
// (the event's rows, and what to run once they are written) instead of
// running them, for a caller that writes them as part of a statement of its
// own (db.DB.Guarded: on PostgreSQL a consent's decision, its audit entry and
// its event are one statement, written only if the decision won). Its
// validation and errors are Publish's.
type RowPublisher interface {
	Publisher
	EventWrites(ctx context.Context, eventType, partnerID, appID string, data map[string]any) (db.Writes, error)
}

// Discard is a Publisher that drops every event (tests and tools that run a
// domain service without webhooks).
var Discard Publisher = discard{}

type discard struct{}

func (discard) Publish(context.Context, *gorm.DB, string, string, string, map[string]any) error {
	return nil
}

// EventWrites implements RowPublisher: nothing to write.
func (discard) EventWrites(context.Context, string, string, string, map[string]any) (db.Writes, error) {
	return db.Writes{}, nil
}
