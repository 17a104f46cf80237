package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/quota"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/monitoring"
	"github.com/bankbridge/bankbridge/partners/plans"
	"github.com/bankbridge/bankbridge/web"
)

// billing is the commercial area: plans and quotas, metering, contracts,
// settlement. It is built by wireBilling and stored on Platform.billing.
type billing struct {
	Contracts *contracts.Service
	Plans     *plans.Service
	Quota     *apis.Quota
	// Distributed is true when rate limits and monthly counts live in Redis.
	Distributed bool
}

// usageRecorder adapts apis metering to contracts.RecordUsages, in the
// metering transaction the context carries on the platform database.
type usageRecorder struct {
	c  *contracts.Service
	db *db.DB
}

// RecordUsage implements apis.UsageRecorder: one usage record per call, keyed
// by the call's fresh use_… id (so each call is recorded exactly once);
// refused calls arrive with Billable false and are recorded, never billed.
func (u usageRecorder) RecordUsage(ctx context.Context, rs []apis.UsageRecord) (int64, error) {
	out := make([]contracts.UsageRecord, len(rs))
	for i, r := range rs {
		out[i] = toContractsUsage(r)
	}
	return u.c.RecordUsages(ctx, u.db.Conn(ctx), out)
}

// UsageRows implements apis.UsageRowser: the records as contracts' rows
// (contracts.UsageRows, RecordUsages' ON CONFLICT), for the metering
// statement the apis store composes on PostgreSQL.
func (u usageRecorder) UsageRows(rs []apis.UsageRecord) (db.Rows, error) {
	out := make([]contracts.UsageRecord, len(rs))
	for i, r := range rs {
		out[i] = toContractsUsage(r)
	}
	return contracts.UsageRows(out)
}

func toContractsUsage(r apis.UsageRecord) contracts.UsageRecord {
	out := contracts.UsageRecord{Key: r.Key, PartnerID: r.PartnerID, AppID: r.AppID, Environment: r.Environment,
		Product: r.Product, Kind: r.Kind, Billable: r.Billable, Status: r.Status, At: r.At}
	if r.Kind == apis.KindPayment {
		out.PaymentAmount = r.Amount
	}
	return out
}

// serviceLevels adapts monitoring to contracts.ServiceLevelSource: a
// partner's month of production calls (request_log) as monitoring's Summary
// counts them; failed are the 5xx and unanswered calls.
type serviceLevels struct{ m *monitoring.Service }

// MonthServiceLevel implements contracts.ServiceLevelSource.
func (a serviceLevels) MonthServiceLevel(ctx context.Context, partnerID string, from, to time.Time) (contracts.ServiceMeasure, error) {
	s, err := a.m.Summary(ctx, monitoring.Scope{PartnerID: partnerID, Environment: environment.Production}, from, to)
	if err != nil {
		return contracts.ServiceMeasure{}, err
	}
	return contracts.ServiceMeasure{Requests: s.Total.Requests, Failed: s.Total.ServerErrors + s.Total.Unanswered, P95US: s.Total.P95}, nil
}

// planPolicy adapts plans.Service to apis.QuotaPolicy.
type planPolicy struct{ plans *plans.Service }

// AppQuota implements apis.QuotaPolicy.
func (pp planPolicy) AppQuota(ctx context.Context, partnerID, appID string, env environment.Environment) (apis.AppQuota, error) {
	e, err := pp.plans.Resolve(ctx, partnerID, appID, env)
	if err != nil {
		return apis.AppQuota{}, err
	}
	return toAppQuota(e), nil
}

func toAppQuota(e plans.Effective) apis.AppQuota {
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
	b := &billing{}
	p.billing = b
	s := &p.Services
	now := func() time.Time { return time.Now().UTC() }
	limits, err := contracts.ParseCreditNoteLimits(p.Config.CreditNoteLimits)
	if err != nil {
		return fmt.Errorf("--credit-note-limits: %w", err)
	}
	// The signed agreement is required before approval; service credits
	// come from monitoring's figures of the partner's production calls.
	b.Contracts = contracts.New(p.DB, contracts.Options{Events: s.Events, Partners: s.Partners, Now: now, CreditNoteLimits: limits,
		ServiceLevels: serviceLevels{monitoring.New(monitoring.NewGormStore(p.DB), now)}, RequireSignedAgreement: true})
	b.Plans = plans.New(plans.Config{DB: p.DB, Events: s.Events, Now: now})

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
		p.redis = rc
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
