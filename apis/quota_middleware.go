package apis

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis/quota"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// AppQuota is an app's effective plan as the quota step needs it: a rate limit
// per API group (the groups are the products: accounts, payments,
// data_sharing, consents) and a monthly volume of billable calls per product
// (0 or missing: unlimited).
type AppQuota struct {
	Rates   map[string]quota.Limit
	Volumes map[string]int64
}

// QuotaPolicy resolves an app's effective plan. Implemented by partners'
// plans (adapted in cmd).
type QuotaPolicy interface {
	AppQuota(ctx context.Context, partnerID, appID string, env environment.Environment) (AppQuota, error)
}

// ThresholdNotifier records that an app reached percent (80 or 100) of a
// product's monthly volume and publishes quota.threshold_reached; it must
// announce each app, product, period and percent once however often it is
// told (plans.Service.ThresholdReached).
type ThresholdNotifier interface {
	ThresholdReached(ctx context.Context, partnerID, appID, product, period string, percent int, used, volume int64) (bool, error)
}

// MonthlyCountFunc counts an app's billable calls of product in the month
// containing month (contracts.Service.MonthlyCount): it seeds the counter once
// per app, product and month.
type MonthlyCountFunc func(ctx context.Context, partnerID, appID, product string, month time.Time) (int64, error)

// QuotaConfig wires the quota step.
type QuotaConfig struct {
	Policy QuotaPolicy
	// Limiter enforces the rate limits: quota.NewMemory on one node,
	// quota.NewRedis when several nodes share the limits.
	Limiter quota.Limiter
	// Counter keeps monthly counts (quota.NewMemoryCounter or
	// quota.NewRedisCounter); nil disables monthly volumes.
	Counter quota.Counter
	// Seed gives a counter its starting value from the usage records.
	Seed MonthlyCountFunc
	// Thresholds is told when 80 % and 100 % of a volume are reached (nil: nobody).
	Thresholds ThresholdNotifier
	// CacheTTL is how long an app's plan is cached per node (default 5 s).
	CacheTTL time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// Quota enforces plans: the per-group rate limit (GCRA) and the monthly volume
// of each product. It fails open (logs and lets the call through) when the
// limiter's or counter's store is unreachable, so a Redis outage does not take
// the APIs down.
type Quota struct {
	cfg QuotaConfig

	mu    sync.Mutex
	cache map[string]quotaEntry
	// announced remembers thresholds this node already reported, so the
	// database is asked once per node and threshold.
	announced map[string]bool
}

type quotaEntry struct {
	q   AppQuota
	exp time.Time
}

// ThresholdPercents are the monthly-volume thresholds announced.
var ThresholdPercents = []int{80, 100}

// NewQuota returns the quota step's state (pass it as HandlerConfig.Quota).
func NewQuota(cfg QuotaConfig) *Quota {
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Quota{cfg: cfg, cache: map[string]quotaEntry{}, announced: map[string]bool{}}
}

// Effective returns an app's quota from the per-node cache, resolving it at
// most once per CacheTTL.
func (q *Quota) Effective(ctx context.Context, partnerID, appID string, env environment.Environment) (AppQuota, error) {
	now := q.cfg.Now()
	q.mu.Lock()
	e, ok := q.cache[appID]
	q.mu.Unlock()
	if ok && now.Before(e.exp) {
		return e.q, nil
	}
	aq, err := q.cfg.Policy.AppQuota(ctx, partnerID, appID, env)
	if err != nil {
		return AppQuota{}, err
	}
	q.mu.Lock()
	if len(q.cache) > 100_000 {
		q.cache = map[string]quotaEntry{}
	}
	q.cache[appID] = quotaEntry{q: aq, exp: now.Add(q.cfg.CacheTTL)}
	q.mu.Unlock()
	return aq, nil
}

func monthKey(appID, product, period string) string { return appID + ":" + product + ":" + period }

func nextMonth(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
}

// used returns the month's count of an app's product, seeding the counter
// from the usage records the first time.
func (q *Quota) used(ctx context.Context, partnerID, appID, product string, now time.Time) (int64, error) {
	key := monthKey(appID, product, now.UTC().Format("2006-01"))
	n, ok, err := q.cfg.Counter.Get(ctx, key)
	if err != nil || ok {
		return n, err
	}
	if q.cfg.Seed != nil {
		if n, err = q.cfg.Seed(ctx, partnerID, appID, product, now); err != nil {
			return 0, err
		}
	}
	// keep the key a little past the month's end
	if err := q.cfg.Counter.Seed(ctx, key, n, nextMonth(now).Sub(now)+48*time.Hour); err != nil {
		return 0, err
	}
	n, _, err = q.cfg.Counter.Get(ctx, key)
	return n, err
}

// ProductUsage is an app's use of one product this month against its volume.
type ProductUsage struct {
	Product string
	Used    int64
	Volume  int64 // 0: unlimited
	Rate    quota.Limit
}

// Percent is Used as a percentage of Volume (0 when unlimited), capped at 100.
func (u ProductUsage) Percent() int {
	if u.Volume <= 0 {
		return 0
	}
	p := u.Used * 100 / u.Volume
	if p > 100 {
		p = 100
	}
	return int(p)
}

// Usage returns an app's usage of every product this month (for the portal).
func (q *Quota) Usage(ctx context.Context, partnerID, appID string, env environment.Environment) ([]ProductUsage, error) {
	aq, err := q.Effective(ctx, partnerID, appID, env)
	if err != nil {
		return nil, err
	}
	now := q.cfg.Now()
	var out []ProductUsage
	for _, p := range []string{ProductAccounts, ProductPayments, ProductDataSharing, ProductConsents} {
		u := ProductUsage{Product: p, Volume: aq.Volumes[p], Rate: aq.Rates[p]}
		if q.cfg.Counter != nil {
			if u.Used, err = q.used(ctx, partnerID, appID, p, now); err != nil {
				return nil, err
			}
		}
		out = append(out, u)
	}
	return out, nil
}

// step is the middleware: after the scope check it refuses a call over the
// app's rate limit (CodeRateLimited) or monthly volume (CodeQuotaExhausted),
// both 429 with Retry-After; every answer carries the RateLimit fields.
func (q *Quota) step() gin.HandlerFunc {
	return func(c *gin.Context) {
		ac := accessOf(c)
		product := c.GetString(keyProduct)
		ctx := c.Request.Context()
		aq, err := q.Effective(ctx, ac.PartnerID, ac.ClientID, ac.Environment)
		if err != nil {
			q.cfg.Logger.ErrorContext(ctx, "apis: quota plan", "err", err, "app_id", ac.ClientID)
			return // fail open
		}
		if l, ok := aq.Rates[product]; ok {
			res, err := q.cfg.Limiter.Allow(ctx, "app:"+ac.ClientID+":"+product, l)
			if err != nil {
				q.cfg.Logger.ErrorContext(ctx, "apis: rate limiter", "err", err)
			} else {
				quota.WriteHeaders(c.Writer.Header(), res)
				if !res.Allowed {
					abort(c, problem.New(problem.CodeRateLimited, "app %s exceeded its %s rate limit of %d requests per second (burst %d); retry after %s",
						ac.ClientID, product, l.Rate, l.Burst, retryText(res.RetryAfter)))
					return
				}
			}
		}
		vol := aq.Volumes[product]
		if vol <= 0 || q.cfg.Counter == nil {
			return
		}
		now := q.cfg.Now()
		n, err := q.used(ctx, ac.PartnerID, ac.ClientID, product, now)
		if err != nil {
			q.cfg.Logger.ErrorContext(ctx, "apis: quota counter", "err", err)
			return
		}
		if n >= vol {
			wait := nextMonth(now).Sub(now)
			c.Header("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
			abort(c, problem.New(problem.CodeQuotaExhausted, "app %s used its monthly volume of %d %s calls for %s",
				ac.ClientID, vol, product, now.UTC().Format("2006-01")))
		}
	}
}

func retryText(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return fmt.Sprintf("%d s", s)
}

// count adds a billable call to its app's monthly count and announces the 80 %
// and 100 % thresholds (called by the metering step, before the usage record
// is written, so the seed does not include the call itself).
func (q *Quota) count(ctx context.Context, rec UsageRecord) {
	if q.cfg.Counter == nil || !rec.Billable || rec.Product == "" {
		return
	}
	now := q.cfg.Now() // the quota step's clock, so both agree on the month
	if _, err := q.used(ctx, rec.PartnerID, rec.AppID, rec.Product, now); err != nil {
		q.cfg.Logger.ErrorContext(ctx, "apis: quota counter", "err", err)
		return
	}
	period := now.UTC().Format("2006-01")
	n, err := q.cfg.Counter.Incr(ctx, monthKey(rec.AppID, rec.Product, period))
	if err != nil {
		q.cfg.Logger.ErrorContext(ctx, "apis: quota counter", "err", err)
		return
	}
	if q.cfg.Thresholds == nil {
		return
	}
	aq, err := q.Effective(ctx, rec.PartnerID, rec.AppID, rec.Environment)
	if err != nil {
		return
	}
	vol := aq.Volumes[rec.Product]
	if vol <= 0 {
		return
	}
	for _, pct := range ThresholdPercents {
		if n < ThresholdCount(vol, pct) {
			continue
		}
		key := monthKey(rec.AppID, rec.Product, period) + ":" + strconv.Itoa(pct)
		q.mu.Lock()
		done := q.announced[key]
		q.mu.Unlock()
		if done {
			continue
		}
		if _, err := q.cfg.Thresholds.ThresholdReached(ctx, rec.PartnerID, rec.AppID, rec.Product, period, pct, n, vol); err != nil {
			q.cfg.Logger.ErrorContext(ctx, "apis: quota threshold", "err", err)
			continue
		}
		q.mu.Lock()
		q.announced[key] = true
		q.mu.Unlock()
	}
}

// ThresholdCount is the call count at which percent of volume is reached
// (rounded up: 80 % of 10 is 8, 80 % of 11 is 9).
func ThresholdCount(volume int64, percent int) int64 {
	return (volume*int64(percent) + 99) / 100
}
