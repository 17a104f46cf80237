package main

import (
	"context"
	"fmt"
	"time"

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

// exitJobs are the housekeeping jobs of the exits whose timing is loose:
// the erasures whose retention period ended. Each claims its exit with a
// conditional update, so every node runs them.
func (p *Platform) exitJobs() map[string]func(ctx context.Context) error {
	x := p.Services.Exit
	return map[string]func(ctx context.Context) error{
		"partner_exit_erasure": func(ctx context.Context) error { _, err := x.PurgeDue(ctx); return err },
	}
}

// WindDownEvery is how often each node looks for terminations whose
// effective date came (one indexed read when none is due), so a terminated
// partner's access ends within this of the effective date, not at the next
// five-minute housekeeping round.
const WindDownEvery = 30 * time.Second

// windDowns runs the wind-downs whose effective date came, every
// WindDownEvery on every node (each claims its exit with a conditional
// update, so two nodes never run the same one).
func (p *Platform) windDowns() {
	x := p.Services.Exit
	p.bg = append(p.bg, func(ctx context.Context) {
		t := time.NewTicker(WindDownEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := x.RunDue(ctx); err != nil && ctx.Err() == nil {
				p.Log.Warn("wind-down failed", "err", err)
			}
		}
	})
}

// mountExit registers the console's Termination page and the portal's
// Wind-down page.
func (p *Platform) mountExit(r *gin.Engine, console *web.Console, portal *web.Portal) {
	(&web.ConsoleExit{Console: console, Exit: p.Services.Exit}).Register(r)
	(&web.PortalExit{Portal: portal, Exit: p.Services.Exit}).Register(r)
}
