package webhooks

import (
	"context"
	"time"
)

// EndpointEvidence proves an app's webhook endpoint is verified: the
// endpoint is enabled and acknowledged a signed delivery with a 2xx status.
type EndpointEvidence struct {
	EndpointID string    `json:"endpoint_id"`
	URL        string    `json:"url"`
	Signing    string    `json:"signing"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	StatusCode int       `json:"status_code"`
	At         time.Time `json:"at"`
}

// VerifiedEndpoint returns the newest 2xx delivery attempt to an enabled
// endpoint of the partner's app, or nil (and no error) when there is none.
// Used as certification evidence.
func (s *Service) VerifiedEndpoint(ctx context.Context, partnerID, appID string) (*EndpointEvidence, error) {
	g := s.db.WithContext(ctx)
	var eps []endpointRow
	if err := g.Where("partner_id = ? AND app_id = ? AND enabled = ?", partnerID, appID, true).Find(&eps).Error; err != nil {
		return nil, err
	}
	if len(eps) == 0 {
		return nil, nil
	}
	byID := map[string]endpointRow{}
	ids := make([]string, 0, len(eps))
	for _, e := range eps {
		byID[e.ID] = e
		ids = append(ids, e.ID)
	}
	var a attemptRow
	res := g.Where("endpoint_id IN ? AND partner_id = ? AND status_code >= 200 AND status_code < 300", ids, partnerID).
		Order("at DESC, id DESC").Limit(1).Find(&a)
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected == 0 {
		return nil, nil
	}
	e := byID[a.EndpointID]
	return &EndpointEvidence{EndpointID: e.ID, URL: e.URL, Signing: e.Signing, EventID: a.EventID, EventType: a.EventType,
		StatusCode: a.StatusCode, At: a.At.UTC()}, nil
}
