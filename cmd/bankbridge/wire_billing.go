package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/quota"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/web"
)

// billing is the commercial area: plans and quotas, metering, contracts,
// settlement. It is built by wireBilling and stored on Platform.billing.
type billing struct {
	Contracts *contracts.Service
	Plans     *partners.Plans
	Quota     *apis.Quota
	// Events forwards contracts' and plans' events (statement.issued,
	// quota.threshold_reached) to the publisher set with SetPublisher; until
	// then they are dropped.
	Events   *latePublisher
	Datasets *billingDatasets
	// Distributed is true when rate limits and monthly counts live in Redis.
	Distributed bool
}

// latePublisher lets services built now publish through a publisher wired
// later (the webhooks outbox); nil drops events.
type latePublisher struct {
	mu sync.RWMutex
	p  interface {
		Publish(ctx context.Context, tx *gorm.DB, eventType, partnerID, appID string, data map[string]any) error
	}
}

// Set installs the publisher.
func (l *latePublisher) Set(p interface {
	Publish(ctx context.Context, tx *gorm.DB, eventType, partnerID, appID string, data map[string]any) error
}) {
	l.mu.Lock()
	l.p = p
	l.mu.Unlock()
}

// Publish implements contracts.EventPublisher and partners.EventPublisher.
func (l *latePublisher) Publish(ctx context.Context, tx *gorm.DB, eventType, partnerID, appID string, data map[string]any) error {
	l.mu.RLock()
	p := l.p
	l.mu.RUnlock()
	if p == nil {
		return nil
	}
	return p.Publish(ctx, tx, eventType, partnerID, appID, data)
}

// SandboxDatasets is the documented sandbox allow-list: a partner without an
// active contract (every partner before go-live, so every sandbox-only
// partner) may receive these datasets from the sandbox's synthetic customers.
// A partner with an active contract receives exactly its contract's
// data-sharing scope (contracts.AllowedDatasets), in sandbox and production
// alike; production apps exist only for contracted partners (go-live needs an
// active contract), so production traffic is always bound by the contract.
var SandboxDatasets = []string{apis.DatasetTransactionInsights, apis.DatasetRiskSignals}

// billingDatasets is the apis.DatasetPolicy: contract scope once contracted,
// the sandbox allow-list before. It is created before contracts exists (apis
// is wired first) and bound in wireBilling.
type billingDatasets struct {
	mu sync.RWMutex
	c  *contracts.Service
}

// AllowedDatasets implements apis.DatasetPolicy.
func (b *billingDatasets) AllowedDatasets(ctx context.Context, partnerID string) ([]string, error) {
	b.mu.RLock()
	c := b.c
	b.mu.RUnlock()
	if c == nil {
		return SandboxDatasets, nil
	}
	ok, err := c.HasActiveContract(ctx, partnerID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return SandboxDatasets, nil
	}
	return c.AllowedDatasets(ctx, partnerID)
}

// billingState returns the billing area, creating its shell on first use
// (wire.go asks for the dataset policy before wireBilling runs).
func (p *Platform) billingState() *billing {
	if p.billing == nil {
		p.billing = &billing{Events: &latePublisher{}, Datasets: &billingDatasets{}}
	}
	return p.billing
}

// datasetPolicy is the apis.DatasetPolicy handed to apis.NewService.
func (p *Platform) datasetPolicy() apis.DatasetPolicy { return p.billingState().Datasets }

// usageRecorder adapts apis metering to contracts.RecordUsage.
type usageRecorder struct{ c *contracts.Service }

// RecordUsage implements apis.UsageRecorder: one usage record per call, keyed
// by the call's fresh use_… id (so each call is recorded exactly once);
// refused calls arrive with Billable false and are recorded, never billed.
func (u usageRecorder) RecordUsage(ctx context.Context, r apis.UsageRecord) error {
	return u.c.RecordUsage(ctx, nil, toContractsUsage(r))
}

func toContractsUsage(r apis.UsageRecord) contracts.UsageRecord {
	out := contracts.UsageRecord{Key: r.Key, PartnerID: r.PartnerID, AppID: r.AppID, Environment: r.Environment,
		Product: r.Product, Kind: r.Kind, Billable: r.Billable, Status: r.Status, At: r.At}
	if r.Kind == apis.KindPayment {
		out.PaymentAmount = r.Amount
	}
	return out
}

// planPolicy adapts partners.Plans to apis.QuotaPolicy.
type planPolicy struct{ plans *partners.Plans }

// AppQuota implements apis.QuotaPolicy.
func (pp planPolicy) AppQuota(ctx context.Context, partnerID, appID string, env environment.Environment) (apis.AppQuota, error) {
	e, err := pp.plans.Resolve(ctx, partnerID, appID, env)
	if err != nil {
		return apis.AppQuota{}, err
	}
	return toAppQuota(e), nil
}

func toAppQuota(e partners.EffectivePlan) apis.AppQuota {
	q := apis.AppQuota{Rates: map[string]quota.Limit{}, Volumes: map[string]int64{}}
	for g, l := range e.Limits {
		q.Rates[g] = quota.Limit{Name: g, Rate: l.Rate, Burst: l.Burst}
	}
	for g, v := range e.Volumes {
		q.Volumes[g] = v
	}
	return q
}

// wireBilling builds this area's services (called from wire, after the core services).
func (p *Platform) wireBilling(ctx context.Context) error {
	b := p.billingState()
	s := &p.Services
	now := func() time.Time { return time.Now().UTC() }
	if s.Webhooks != nil {
		b.Events.Set(s.Events)
	}
	limits, err := contracts.ParseCreditNoteLimits(p.Config.CreditNoteLimits)
	if err != nil {
		return fmt.Errorf("--credit-note-limits: %w", err)
	}
	b.Contracts = contracts.New(p.DB, contracts.Options{Events: b.Events, Partners: s.Partners, Now: now, CreditNoteLimits: limits})
	b.Datasets.mu.Lock()
	b.Datasets.c = b.Contracts
	b.Datasets.mu.Unlock()
	s.Partners.SetContractChecker(b.Contracts)
	b.Plans = partners.NewPlans(partners.PlansConfig{DB: p.DB, Events: b.Events, Now: now})

	qc := apis.QuotaConfig{Policy: planPolicy{b.Plans}, Seed: b.Contracts.MonthlyCount, Thresholds: b.Plans, Logger: p.Log}
	if u := p.Config.RedisURL; u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			return fmt.Errorf("redis url: %w", err)
		}
		rc := redis.NewClient(opt)
		p.closers = append(p.closers, rc.Close)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = rc.Ping(pctx).Err()
		cancel()
		if err != nil {
			return fmt.Errorf("redis %s: %w", opt.Addr, err)
		}
		qc.Limiter, qc.Counter, b.Distributed = quota.NewRedis(rc, "bb:rl:"), quota.NewRedisCounter(rc, "bb:vol:"), true
	} else {
		qc.Limiter, qc.Counter = quota.NewMemory(nil), quota.NewMemoryCounter(nil)
	}
	b.Quota = apis.NewQuota(qc)
	p.bg = append(p.bg, p.contractJobs(now))
	return nil
}

// contractJobs ends contracts whose term is over (renewing auto-renewing ones)
// and records renewal reminders, at start and then hourly. Both are safe on
// several nodes (each change is a conditional update; a reminder is recorded
// once per term).
func (p *Platform) contractJobs(now func() time.Time) func(ctx context.Context) {
	return func(ctx context.Context) {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			p.runContractJobs(ctx, now())
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}

func (p *Platform) runContractJobs(ctx context.Context, at time.Time) {
	c := p.billing.Contracts
	if changed, err := c.ExpireDue(ctx, at); err != nil && ctx.Err() == nil {
		p.Log.Warn("contracts: expire due", "err", err)
	} else if len(changed) > 0 {
		p.Log.Info("contracts: term ended", "contracts", len(changed))
	}
	if due, err := c.RenewalReminders(ctx, at); err != nil && ctx.Err() == nil {
		p.Log.Warn("contracts: renewal reminders", "err", err)
	} else {
		for _, x := range due {
			p.Log.Info("contracts: renewal reminder", "contract", x.ID, "partner", x.PartnerID, "term_end", x.End)
		}
	}
}

// quotaUsage shows an app's monthly usage against its plan in the portal.
type quotaUsage struct{ q *apis.Quota }

func (u quotaUsage) AppUsage(ctx context.Context, partnerID, appID string, env environment.Environment) ([]web.QuotaUsage, error) {
	rows, err := u.q.Usage(ctx, partnerID, appID, env)
	if err != nil {
		return nil, err
	}
	out := make([]web.QuotaUsage, 0, len(rows))
	for _, r := range rows {
		out = append(out, web.QuotaUsage{Product: r.Product, Used: r.Used, Volume: r.Volume, Percent: r.Percent(),
			Rate: r.Rate.Rate, Burst: r.Rate.Burst})
	}
	return out, nil
}

// mountBilling registers this area's routes.
func (p *Platform) mountBilling(r *gin.Engine) {
	s := &p.Services
	b := p.billing
	secure := strings.HasPrefix(p.Issuer, "https://")
	csrf := web.CSRF{Secure: secure}
	sessions := &web.Sessions{DB: p.DB.DB, Secure: secure}
	console := &web.Console{Pages: p.Pages, CSRF: csrf, Sessions: sessions, Partners: s.Partners, DB: p.DB.DB, Log: p.Log}
	(&web.ConsoleBilling{Console: console, Contracts: b.Contracts, Plans: b.Plans}).Register(r)
	portal := &web.Portal{Pages: p.Pages, CSRF: csrf, Sessions: sessions, Partners: s.Partners, DB: p.DB.DB, Log: p.Log}
	(&web.PortalBilling{Portal: portal, Contracts: b.Contracts, Usage: quotaUsage{b.Quota}}).Register(r)
}
