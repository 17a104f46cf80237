package main

import (
	"context"
	"fmt"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/partners/exit"
	"github.com/bankbridge/bankbridge/web"
)

// Ending a partnership (issue 17 item 5, partners/exit): built after
// billing (the final settlement is contracts'), on the partners, apis,
// oauth tokens, the core, the webhooks outbox and contracts, each of which
// implements its port directly.

// wireExit builds the exit service.
func (p *Platform) wireExit(context.Context) error {
	s := &p.Services
	retention := p.Config.ExitRetentionDays
	svc, err := exit.New(exit.Config{DB: p.DB, Staff: s.Staff, Partners: s.Partners, Consents: s.APIs,
		Erasure: apis.NewGormStore(p.DB), Tokens: s.Tokens, Customers: s.Core, Webhooks: s.Webhooks,
		Contracts: p.billing.Contracts, Publisher: s.Events, RetentionDays: &retention,
		WebhookDrain: p.Config.ExitWebhookDrain, PortalURL: p.Issuer + "/portal", Logger: p.Log})
	if err != nil {
		return fmt.Errorf("exit: %w", err)
	}
	s.Exit = svc
	return nil
}

// exitJobs are the housekeeping jobs of the exits: the wind-downs whose
// effective date came, and the erasures whose retention period ended. Each
// claims its exit with a conditional update, so every node runs them.
func (p *Platform) exitJobs() map[string]func(ctx context.Context) error {
	x := p.Services.Exit
	return map[string]func(ctx context.Context) error{
		"partner_exits":        func(ctx context.Context) error { _, err := x.RunDue(ctx); return err },
		"partner_exit_erasure": func(ctx context.Context) error { _, err := x.PurgeDue(ctx); return err },
	}
}

// mountExit registers the console's Termination page and the portal's
// Wind-down page.
func (p *Platform) mountExit(r *gin.Engine, console *web.Console, portal *web.Portal) {
	(&web.ConsoleExit{Console: console, Exit: p.Services.Exit}).Register(r)
	(&web.PortalExit{Portal: portal, Exit: p.Services.Exit}).Register(r)
}
