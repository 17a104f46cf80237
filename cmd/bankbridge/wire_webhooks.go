package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/events"
	"github.com/bankbridge/bankbridge/web"
	"github.com/bankbridge/bankbridge/webhooks"
)

// eventPublisher adapts the webhooks outbox to events.RowPublisher, the
// interface partners, apis and contracts publish through (in the caller's
// transaction, or as rows of the caller's statement).
type eventPublisher struct{ w *webhooks.Service }

var _ events.RowPublisher = eventPublisher{}

// Publish writes the event to the outbox in tx.
func (e eventPublisher) Publish(ctx context.Context, tx *gorm.DB, eventType, partnerID, appID string, data map[string]any) error {
	return e.w.Publish(ctx, tx, webhooks.Event{Type: eventType, PartnerID: partnerID, AppID: appID, Data: data})
}

// EventWrites is what Publish writes, as data (events.RowPublisher), for a
// caller that writes it as part of a statement of its own.
func (e eventPublisher) EventWrites(ctx context.Context, eventType, partnerID, appID string, data map[string]any) (db.Writes, error) {
	return e.w.EventWrites(ctx, webhooks.Event{Type: eventType, PartnerID: partnerID, AppID: appID, Data: data})
}

// newWebhooks builds the webhooks service; wire calls it first so every other
// service can publish into its outbox.
func (p *Platform) newWebhooks(bus cachebus.Bus) error {
	w, err := webhooks.NewService(webhooks.Config{DB: p.DB, Box: p.Box, AllowLoopback: p.Config.WebhooksAllowLoopback, Logger: p.Log,
		Observer: p.webhookObserver(), Bus: bus})
	if err != nil {
		return err
	}
	p.Services.Webhooks = w
	p.Services.Events = eventPublisher{w}
	return nil
}

// wireWebhooks starts this node's dispatchers and adds the event catalogue to
// the OpenAPI document.
func (p *Platform) wireWebhooks(ctx context.Context) error {
	s := &p.Services
	s.OpenAPI["webhooks"] = webhooks.OpenAPIWebhooks()
	normalised, err := normaliseOpenAPI(s.OpenAPI)
	if err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	s.OpenAPI = normalised
	if p.Config.Dispatchers > 0 {
		d := webhooks.NewDispatcher(s.Webhooks, webhooks.DispatcherOptions{Workers: 4 * p.Config.Dispatchers, Lease: p.Config.WebhookLease})
		p.bg = append(p.bg, func(ctx context.Context) {
			if err := d.Run(ctx); err != nil && ctx.Err() == nil {
				p.Log.Error("webhook dispatcher stopped", "err", err)
			}
		})
	}
	return nil
}

// mountWebhooks registers the partner API for webhook endpoints and the
// portal's webhook pages.
func (p *Platform) mountWebhooks(r *gin.Engine) {
	webhooks.NewHandler(p.Services.Webhooks, p.Services.OAuth).Register(r)
	secure := strings.HasPrefix(p.Issuer, "https://")
	portal := &web.Portal{Pages: p.Pages, CSRF: web.CSRF{Secure: secure}, Sessions: &web.Sessions{DB: p.DB.DB, Secure: secure},
		Partners: p.Services.Partners, DB: p.DB.DB, Log: p.Log}
	(&web.PortalWebhooks{Portal: portal, Webhooks: p.Services.Webhooks}).Register(r)
}
