package plans

import (
	"context"
	"errors"
	"sync"

	"gorm.io/gorm"
)

var ctx = context.Background()

// recPublisher records events published in transactions (webhooks is another
// package; only the call contract matters here).
type recPublisher struct {
	mu     sync.Mutex
	events []string
}

func (p *recPublisher) Publish(_ context.Context, tx *gorm.DB, eventType, partnerID, appID string, data map[string]any) error {
	if tx == nil {
		return errors.New("no tx")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, eventType+" "+partnerID+" "+appID+" "+mustJSON(data))
	return nil
}

func (p *recPublisher) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}
