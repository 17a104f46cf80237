package apis_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/apis/quota"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/partners/plans"
)

// staticQuota gives every app the same plan.
type staticQuota apis.AppQuota

func (s staticQuota) AppQuota(context.Context, string, string, environment.Environment) (apis.AppQuota, error) {
	return apis.AppQuota(s), nil
}

// withQuota serves e's APIs again with the quota step (and metering into
// usage) and points e at the new server.
func withQuota(tb testing.TB, e *env, q *apis.Quota, usage apis.UsageRecorder) {
	h := apis.NewHandler(apis.HandlerConfig{Service: e.svc, Verifier: e.verifier, Usage: usage, BaseURL: baseURL, Quota: q})
	eng := gin.New()
	h.Register(eng)
	srv := httptest.NewServer(eng)
	tb.Cleanup(srv.Close)
	e.srv = srv
}

// plansPublisher records the events plans.Service publishes.
type plansPublisher struct{ events []string }

func (p *plansPublisher) Publish(_ context.Context, _ *gorm.DB, typ, partnerID, appID string, data map[string]any) error {
	p.events = append(p.events, fmt.Sprintf("%s %s %s %v %v", typ, partnerID, appID, data["threshold_bp"], data["used"]))
	return nil
}

func TestQuotaRateLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		lim := quota.NewMemory(e.clock.now) // the clock stands still: no refill
		q := apis.NewQuota(apis.QuotaConfig{Limiter: lim, Now: e.clock.now,
			Policy: staticQuota{Rates: map[string]quota.Limit{apis.ProductConsents: {Name: "consents", Rate: 1, Burst: 2}}}})
		withQuota(t, e, q, e.usage)
		p := e.partner("ptn_rl", environment.Sandbox)
		path := aisp + "/account-access-consents/cns_unknown"
		for i, tc := range []struct {
			name      string
			status    int
			remaining string
		}{{"ok/first", 404, "1"}, {"ok/second", 404, "0"}, {"fail/third", 429, "0"}} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("GET", path, p.token, nil)
				if r.status != tc.status || r.header.Get("RateLimit-Remaining") != tc.remaining || r.header.Get("RateLimit-Limit") != "2" ||
					r.header.Get("RateLimit-Policy") != `"consents";q=2;w=2` {
					t.Fatalf("call %d: %d %v %s", i+1, r.status, r.header, r.body)
				}
				if tc.status == 429 {
					wantProblem(t, r, 429, "rate_limited", "app "+p.app+" exceeded its consents rate limit of 1 requests per second (burst 2); retry after 1 s")
					if r.header.Get("Retry-After") != "1" || r.header.Get("RateLimit") != `"consents";r=0;t=1` {
						t.Fatalf("headers %v", r.header)
					}
				}
			})
		}
		t.Run("ok/refusal-recorded-not-billed", func(t *testing.T) {
			recs := e.usage.forApp(p.app)
			if len(recs) != 3 || recs[2].Status != 429 || recs[2].Billable {
				t.Fatalf("usage %+v", recs)
			}
		})
		t.Run("ok/other-group-unlimited", func(t *testing.T) {
			// accounts has no limit in this plan: no RateLimit fields
			r := e.do("GET", aisp+"/accounts", p.token, nil)
			if r.header.Get("RateLimit-Limit") != "" {
				t.Fatalf("headers %v", r.header)
			}
		})
	})
}

// TestQuotaMonthlyVolume: with a volume of 10 consent calls, the 8th
// billable call announces 80 % and the 10th 100 %, each once; the 11th is
// refused quota_exhausted until the month ends.
func TestQuotaMonthlyVolume(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		pub := &plansPublisher{}
		plans := plans.New(plans.Config{DB: d, Events: pub, Now: e.clock.now})
		cs := contracts.New(d, contracts.Options{Now: e.clock.now})
		q := apis.NewQuota(apis.QuotaConfig{Limiter: quota.NewMemory(e.clock.now), Counter: quota.NewMemoryCounter(e.clock.now),
			Seed: cs.MonthlyCount, Thresholds: plans, Now: e.clock.now,
			Policy: staticQuota{Volumes: map[string]int64{apis.ProductConsents: 10}}})
		withQuota(t, e, q, e.usage)
		p := e.partner("ptn_vol", environment.Sandbox)
		events := func() string { return strings.Join(pub.events, "; ") }
		for i := 1; i <= 10; i++ {
			r := e.do("POST", aisp+"/account-access-consents", p.token, accountConsentBody(apis.PermAccountsBasic))
			wantStatus(t, r, http.StatusCreated)
			want := ""
			switch {
			case i >= 10:
				want = "quota.threshold_reached ptn_vol " + p.app + " 8000 8; quota.threshold_reached ptn_vol " + p.app + " 10000 10"
			case i >= 8:
				want = "quota.threshold_reached ptn_vol " + p.app + " 8000 8"
			}
			if events() != want {
				t.Fatalf("after call %d: events %q, want %q", i, events(), want)
			}
		}
		r := e.do("POST", aisp+"/account-access-consents", p.token, accountConsentBody(apis.PermAccountsBasic))
		period := e.clock.now().Format("2006-01")
		wantProblem(t, r, 429, "quota_exhausted", "app "+p.app+" used its monthly volume of 10 consents calls for "+period)
		if r.header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		if len(pub.events) != 2 {
			t.Fatalf("events %v", pub.events)
		}
		u, err := q.Usage(ctx, "ptn_vol", p.app, environment.Sandbox)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range u {
			if x.Product == apis.ProductConsents && (x.Used != 10 || x.Percent() != 100) {
				t.Fatalf("usage %+v", x)
			}
		}
	})
}

// usageToContracts is the cmd adapter (apis → contracts): it writes in the
// metering transaction that ctx carries on d.
type usageToContracts struct {
	c *contracts.Service
	d *db.DB
}

func (u usageToContracts) RecordUsage(ctx context.Context, rs []apis.UsageRecord) (int64, error) {
	return u.c.RecordUsages(ctx, u.d.Conn(ctx), toContracts(rs))
}

// UsageRows implements apis.UsageRowser (as cmd's recorder does), so the
// metering writes a batch as one statement on PostgreSQL.
func (u usageToContracts) UsageRows(rs []apis.UsageRecord) (db.Rows, error) {
	return contracts.UsageRows(toContracts(rs))
}

func toContracts(rs []apis.UsageRecord) []contracts.UsageRecord {
	out := make([]contracts.UsageRecord, len(rs))
	for i, r := range rs {
		out[i] = contracts.UsageRecord{Key: r.Key, PartnerID: r.PartnerID, AppID: r.AppID, Environment: r.Environment,
			Product: r.Product, Kind: r.Kind, Billable: r.Billable, Status: r.Status, At: r.At}
		if r.Kind == apis.KindPayment {
			out[i].PaymentAmount = r.Amount
		}
	}
	return out
}

// BenchmarkQuotaOverhead compares one GET of the transactions of an account
// through the chain without quota and metering, with the quota step only
// (in-process GCRA, cached plan, in-memory monthly counter), and with quota
// plus metering into contracts' usage_records (one INSERT per call).
func BenchmarkQuotaOverhead(b *testing.B) {
	for _, eng := range dbtest.Engines() {
		for _, mode := range []string{"bare", "quota", "quota+metering"} {
			b.Run(eng.Name+"/"+mode, func(b *testing.B) {
				d := eng.Open(b)
				e := newEnv(b, d)
				var q *apis.Quota
				var usage apis.UsageRecorder
				if mode != "bare" {
					cs := contracts.New(d, contracts.Options{})
					q = apis.NewQuota(apis.QuotaConfig{Limiter: quota.NewMemory(nil), Counter: quota.NewMemoryCounter(nil), Seed: cs.MonthlyCount,
						Policy: staticQuota{Rates: map[string]quota.Limit{apis.ProductAccounts: {Name: "accounts", Rate: 1_000_000, Burst: 1_000_000}},
							Volumes: map[string]int64{apis.ProductAccounts: 1 << 40}}})
					if mode == "quota+metering" {
						usage = usageToContracts{cs, d}
					}
				}
				withQuota(b, e, q, usage)
				p := e.partner("ptn_bench", environment.Sandbox)
				alice := e.customer("alice")
				cur := alice.account(core.AccountCurrent)
				_, tok := p.accountConsent(alice, allPerms, cur.ID)
				path := aisp + "/accounts/" + cur.ID + "/transactions"
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					benchDo(b, e, "GET", path, tok, "", nil)
				}
			})
		}
	}
}

// BenchmarkQuotaDecision is the quota work one call adds, without HTTP and
// the rest of the chain: the cached plan, one GCRA decision and the monthly
// counter's read (quota step) and increment (metering step), in process and,
// with BANKBRIDGE_TEST_REDIS, in Redis.
func BenchmarkQuotaDecision(b *testing.B) {
	type backend struct {
		lim quota.Limiter
		ctr quota.Counter
	}
	backends := map[string]backend{"memory": {quota.NewMemory(nil), quota.NewMemoryCounter(nil)}}
	if u := os.Getenv("BANKBRIDGE_TEST_REDIS"); u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			b.Fatal(err)
		}
		c := redis.NewClient(opt)
		b.Cleanup(func() { c.Close() })
		p := "bench:" + ids.Random(6) + ":"
		backends["redis"] = backend{quota.NewRedis(c, p), quota.NewRedisCounter(c, p)}
	}
	for name, be := range backends {
		b.Run(name, func(b *testing.B) {
			lim := quota.Limit{Name: "accounts", Rate: 1_000_000, Burst: 1_000_000}
			q := apis.NewQuota(apis.QuotaConfig{Limiter: be.lim, Counter: be.ctr,
				Policy: staticQuota{Rates: map[string]quota.Limit{apis.ProductAccounts: lim}, Volumes: map[string]int64{apis.ProductAccounts: 1 << 40}}})
			ctx := context.Background()
			be.ctr.Seed(ctx, "app_b:accounts:"+time.Now().UTC().Format("2006-01"), 0, time.Hour)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				aq, err := q.Effective(ctx, "ptn_b", "app_b", environment.Sandbox)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := be.lim.Allow(ctx, "app:app_b:accounts", aq.Rates[apis.ProductAccounts]); err != nil {
					b.Fatal(err)
				}
				key := "app_b:accounts:" + time.Now().UTC().Format("2006-01")
				if _, _, err := be.ctr.Get(ctx, key); err != nil {
					b.Fatal(err)
				}
				if _, err := be.ctr.Incr(ctx, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMeteringInsert is the usage part of the metering step's database
// work for one call alone: one contracts.RecordUsages (INSERT … ON CONFLICT
// DO NOTHING).
func BenchmarkMeteringInsert(b *testing.B) {
	for _, eng := range dbtest.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			d := eng.Open(b)
			cs := contracts.New(d, contracts.Options{})
			rec := usageToContracts{cs, d}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := rec.RecordUsage(ctx, []apis.UsageRecord{{Key: ids.New("use"), PartnerID: "ptn_b", AppID: "app_b",
					Environment: environment.Sandbox, Product: apis.ProductAccounts, Kind: apis.KindCall, Billable: true, Status: 200, At: time.Now().UTC()}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
