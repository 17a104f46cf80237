// Package audit records every state change that matters: who did what to which
// object, when, and under which interaction id. Records are append-only.
package audit

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/ids"
)

// Actor types.
const (
	ActorStaff    = "staff"
	ActorPartner  = "partner"  // a partner app (client_id) or portal user
	ActorCustomer = "customer" // a bank customer
	ActorSystem   = "system"   // the platform itself (expiry, dispatcher, CLI)
)

// Event is one audit record.
type Event struct {
	ID            string    `gorm:"primaryKey"`
	At            time.Time `gorm:"not null"`
	ActorType     string
	ActorID       string
	Action        string // dotted verb, e.g. "consent.authorised", "partner.suspended"
	ObjectType    string
	ObjectID      string
	PartnerID     string // the partner the object belongs to, for the partner's own view
	InteractionID string
	Details       string // JSON object
}

// TableName implements gorm's tabler.
func (Event) TableName() string { return "audit_events" }

// Entry is what a caller records; Record fills id and time.
type Entry struct {
	ActorType, ActorID   string
	Action               string
	ObjectType, ObjectID string
	PartnerID            string
	InteractionID        string
	Details              map[string]any
}

// Record appends an entry using tx, so the record commits or rolls back with the
// change it describes. Pass the transaction of the state change, not a new one.
func Record(ctx context.Context, tx *gorm.DB, e Entry) error {
	ins, err := Insert(e)
	if err != nil {
		return err
	}
	q, args := ins.SQL()
	return tx.WithContext(ctx).Exec(q, args...).Error
}

// Insert is the row Record writes for e (its id and time filled), as data,
// for a caller that writes it as part of a statement of its own
// (db.DB.Guarded: the entry is written only if the change it describes is).
func Insert(e Entry) (db.Insert, error) {
	details := "{}"
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return db.Insert{}, err
		}
		details = string(b)
	}
	return db.Insert{Table: "audit_events",
		Columns: []string{"id", "at", "actor_type", "actor_id", "action", "object_type", "object_id", "partner_id", "interaction_id", "details"},
		Values: []any{ids.New("aud"), time.Now().UTC(), e.ActorType, e.ActorID, e.Action, e.ObjectType, e.ObjectID,
			e.PartnerID, e.InteractionID, details}}, nil
}

// Filter narrows a List; zero fields match everything.
type Filter struct {
	ActorType, ActorID   string
	Action               string // exact, or a prefix ending in "." (e.g. "consent.")
	ObjectType, ObjectID string
	PartnerID            string
	From, To             time.Time
	Limit                int // default 100, max 1000
}

// List returns matching events, newest first.
func List(ctx context.Context, db *gorm.DB, f Filter) ([]Event, error) {
	q := db.WithContext(ctx).Model(&Event{})
	if f.ActorType != "" {
		q = q.Where("actor_type = ?", f.ActorType)
	}
	if f.ActorID != "" {
		q = q.Where("actor_id = ?", f.ActorID)
	}
	if f.Action != "" {
		if f.Action[len(f.Action)-1] == '.' {
			q = q.Where("action LIKE ?", f.Action+"%")
		} else {
			q = q.Where("action = ?", f.Action)
		}
	}
	if f.ObjectType != "" {
		q = q.Where("object_type = ?", f.ObjectType)
	}
	if f.ObjectID != "" {
		q = q.Where("object_id = ?", f.ObjectID)
	}
	if f.PartnerID != "" {
		q = q.Where("partner_id = ?", f.PartnerID)
	}
	if !f.From.IsZero() {
		q = q.Where("at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("at < ?", f.To.UTC())
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		limit = 1000
	}
	var out []Event
	err := q.Order("at DESC, id DESC").Limit(limit).Find(&out).Error
	return out, err
}
