// Attempts: an endpoint's delivery log (one row per HTTP attempt) and its
// deliveries (one row per event and endpoint, with their status).

package webhooks

import (
	"context"
)

// Attempts returns an endpoint's delivery log, newest first. Errors: not_found
// (the endpoint is not the partner's, or not f.AppID's).
func (s *Service) Attempts(ctx context.Context, partnerID, endpointID string, f AttemptFilter) ([]Attempt, error) {
	g := s.db.WithContext(ctx)
	if _, err := s.load(g, Scope{PartnerID: partnerID, AppID: f.AppID}, endpointID, false); err != nil {
		return nil, err
	}
	q := g.Where("endpoint_id = ? AND partner_id = ?", endpointID, partnerID)
	if f.EventID != "" {
		q = q.Where("event_id = ?", f.EventID)
	}
	if f.FailedOnly {
		q = q.Where("(status_code < 200 OR status_code > 299 OR error <> '')")
	}
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 500 {
		limit = 500
	}
	var rows []attemptRow
	if err := q.Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Attempt, 0, len(rows))
	for i := range rows {
		out = append(out, rows[i].public())
	}
	return out, nil
}

// Deliveries returns an endpoint's deliveries (newest first), optionally only
// those in status. Errors: not_found.
func (s *Service) Deliveries(ctx context.Context, sc Scope, endpointID, status string, limit int) ([]Delivery, error) {
	g := s.db.WithContext(ctx)
	if _, err := s.load(g, sc, endpointID, false); err != nil {
		return nil, err
	}
	q := g.Where("endpoint_id = ?", endpointID)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	var rows []deliveryRow
	if err := q.Order("created_at DESC, id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Delivery, 0, len(rows))
	for i := range rows {
		out = append(out, rows[i].public())
	}
	return out, nil
}
