// Outbox: Publish writes an event and its pending deliveries in the caller's
// transaction (the transactional outbox); the dispatcher (dispatcher.go)
// sends them after commit.

package webhooks

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// Publish writes e and one delivery row per enabled endpoint subscribed to its
// type (of app e.AppID, or of every app of the partner when AppID is ""; none
// once the partner's outbox is closed, see ClosePartner) using
// tx, the caller's transaction, so the event commits or rolls back with the
// change that caused it. Errors: validation_failed (unknown type, no partner,
// data not a JSON object).
func (s *Service) Publish(ctx context.Context, tx *gorm.DB, e Event) error {
	if !KnownEventType(e.Type) {
		return problem.New(problem.CodeValidation, "unknown event type %q", e.Type)
	}
	_, err := s.publish(ctx, tx, e, nil)
	return err
}

func (s *Service) publish(ctx context.Context, tx *gorm.DB, e Event, only *endpointRow) (string, error) {
	ev, deliveries, err := s.outboxRows(tx.WithContext(ctx), e, only)
	if err != nil {
		return "", err
	}
	tx = tx.WithContext(ctx)
	if err := tx.Create(&ev).Error; err != nil {
		return "", err
	}
	n, err := s.insertDeliveries(tx, deliveries)
	if err != nil {
		return "", err
	}
	if n > 0 {
		s.wake()
	}
	return ev.ID, nil
}

// enqueue inserts a pending delivery of event to every target subscribed to typ.
func (s *Service) enqueue(tx *gorm.DB, eventID, typ string, targets []endpointRow, now time.Time) (int, error) {
	return s.insertDeliveries(tx, s.deliveries(eventID, typ, targets, now))
}

// insertDeliveries inserts rows and, if there are any, notifies the nodes
// when tx commits.
func (s *Service) insertDeliveries(tx *gorm.DB, rows []deliveryRow) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	if err := tx.Create(&rows).Error; err != nil {
		return 0, err
	}
	return len(rows), s.notifyQueued(tx)
}

// EventWrites is what Publish writes for e (the event, its deliveries, the
// PostgreSQL notification, the in-process wake-up of the dispatchers), as
// data that the caller writes as part of a statement of its own
// (db.DB.Guarded) instead of in a transaction. Errors are Publish's.
func (s *Service) EventWrites(ctx context.Context, e Event) (db.Writes, error) {
	if !KnownEventType(e.Type) {
		return db.Writes{}, problem.New(problem.CodeValidation, "unknown event type %q", e.Type)
	}
	// The endpoints come from the per-node cache; on a miss they are read
	// outside the caller's statement, as any read before a write is.
	ev, deliveries, err := s.outboxRows(s.db.Conn(ctx), e, nil)
	if err != nil {
		return db.Writes{}, err
	}
	w := db.Writes{Inserts: []db.Insert{{Table: "webhook_events",
		Columns: []string{"id", "type", "partner_id", "app_id", "payload", "created_at"},
		Values:  []any{ev.ID, ev.Type, ev.PartnerID, ev.AppID, ev.Payload, ev.CreatedAt}}}}
	for _, d := range deliveries {
		w.Inserts = append(w.Inserts, db.Insert{Table: "webhook_deliveries",
			Columns: []string{"id", "event_id", "endpoint_id", "partner_id", "status", "next_attempt_at", "created_at", "updated_at"},
			Values:  []any{d.ID, d.EventID, d.EndpointID, d.PartnerID, d.Status, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt}})
	}
	if len(deliveries) > 0 {
		if s.db.Dialect == db.Postgres {
			w.Notify = []string{notifyChannel}
		}
		w.Written = s.wake
	}
	return w, nil
}

// outboxRows are e's event row and one pending delivery row per target
// (only, else the enabled endpoints subscribed to its type, read through
// conn on a cache miss).
func (s *Service) outboxRows(conn *gorm.DB, e Event, only *endpointRow) (eventRow, []deliveryRow, error) {
	if e.PartnerID == "" {
		return eventRow{}, nil, problem.New(problem.CodeValidation, "event has no partner")
	}
	if e.ID == "" {
		e.ID = ids.New("evt")
	}
	data, err := eventData(e)
	if err != nil {
		return eventRow{}, nil, err
	}
	now := s.now()
	payload, err := json.Marshal(body{Type: e.Type, Timestamp: now, Data: data})
	if err != nil {
		return eventRow{}, nil, err
	}
	var targets []endpointRow
	if only != nil {
		targets = []endpointRow{*only}
	} else if targets, err = s.targets(conn, e.PartnerID, e.AppID); err != nil {
		return eventRow{}, nil, err
	}
	return eventRow{ID: e.ID, Type: e.Type, PartnerID: e.PartnerID, AppID: e.AppID, Payload: string(payload), CreatedAt: now},
		s.deliveries(e.ID, e.Type, targets, now), nil
}

// deliveries are the pending deliveries of event to every target subscribed
// to typ.
func (s *Service) deliveries(eventID, typ string, targets []endpointRow, now time.Time) []deliveryRow {
	var rows []deliveryRow
	for i := range targets {
		t := &targets[i]
		if typ != TestEventType && !t.subscribes(typ) {
			continue
		}
		rows = append(rows, deliveryRow{ID: ids.New("dlv"), EventID: eventID, EndpointID: t.ID, PartnerID: t.PartnerID,
			Status: StatusPending, NextAttemptAt: now.Add(s.cfg.Schedule[0]), CreatedAt: now, UpdatedAt: now})
	}
	return rows
}

// eventData turns e.Data into a JSON object carrying the ids receivers
// de-duplicate on.
func eventData(e Event) (json.RawMessage, error) {
	var raw []byte
	switch d := e.Data.(type) {
	case nil:
		raw = []byte("{}")
	case json.RawMessage:
		raw = d
	case []byte:
		raw = d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return nil, problem.Wrap(problem.CodeValidation, err, "event data does not marshal to JSON")
		}
		raw = b
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, problem.New(problem.CodeValidation, "event data must be a JSON object")
	}
	set := func(k, v string) {
		if _, ok := m[k]; !ok && v != "" {
			m[k] = json.RawMessage(mustJSON(v))
		}
	}
	set("event_id", e.ID)
	set("partner_id", e.PartnerID)
	set("app_id", e.AppID)
	return json.Marshal(m)
}
