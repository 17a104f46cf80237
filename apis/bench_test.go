package apis_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth"

	"gorm.io/gorm"
)

// Benchmarks go through the real middleware chain (interaction id, request
// log, fake verifier, scope, consent, idempotency, metering) over real HTTP.
// Run: go test ./apis -run XXX -bench . -benchtime 5s [-cpuprofile cpu.out]
// with BANKBRIDGE_TEST_POSTGRES set for the postgres variants.

func benchDo(b *testing.B, e *env, method, path, token, key string, body []byte) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, _ := http.NewRequest(method, e.srv.URL+path, rd)
	r.Header.Set("Authorization", "DPoP "+token)
	r.Header.Set("DPoP", "proof")
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("x-idempotency-key", key)
	}
	res, err := e.srv.Client().Do(r)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		b.Fatalf("%s %s: %d", method, path, res.StatusCode)
	}
}

func BenchmarkTransactions(b *testing.B) {
	for _, eng := range dbtest.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			e := newEnv(b, eng.Open(b))
			p := e.partner("ptn_bench", environment.Sandbox)
			alice := e.customer("alice")
			cur := alice.account(core.AccountCurrent)
			_, tok := p.accountConsent(alice, allPerms, cur.ID)
			path := aisp + "/accounts/" + cur.ID + "/transactions"
			lat := make([]time.Duration, 0, b.N)
			n := countQueries(b, e.d.DB)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				benchDo(b, e, "GET", path, tok, "", nil)
				lat = append(lat, time.Since(t0))
			}
			reportPercentiles(b, lat)
			b.ReportMetric(float64(n.Load())/float64(b.N), "queries/op")
		})
	}
}

func BenchmarkDomesticPayment(b *testing.B) {
	for _, eng := range dbtest.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			e := newEnv(b, eng.Open(b))
			p := e.partner("ptn_bench", environment.Sandbox)
			alice := e.customer("alice")
			cur := alice.account(core.AccountCurrent)
			cc := &oauth.AccessContext{ClientID: p.app, PartnerID: p.id, Environment: p.envn}
			in := initiation("0.01", externalCreditor, "Acme Ltd", "BENCH")
			raw, _ := json.Marshal(map[string]any{"Data": map[string]any{"Initiation": in}, "Risk": map[string]any{}})
			lat := make([]time.Duration, 0, b.N)
			n := countQueries(b, e.d.DB)
			var setup int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				q0 := n.Load()
				var req apis.OBWriteDomesticConsent4
				if err := json.Unmarshal(raw, &req); err != nil {
					b.Fatal(err)
				}
				c, err := e.svc.CreatePaymentConsent(ctx, cc, &req, apis.Actor{Type: "partner", ID: p.app})
				if err != nil {
					b.Fatal(err)
				}
				det := []oauth.AuthorizationDetail{{Type: apis.TypePaymentInitiation, ConsentID: c.ID}}
				out, err := e.svc.Broker().Decide(ctx, p.client(), alice.id, det, true, map[string][]string{c.ID: {cur.ID}}, nil)
				if err != nil {
					b.Fatal(err)
				}
				tok := fmt.Sprintf("bench-%d", i)
				e.verifier.add(tok, &oauth.AccessContext{ClientID: p.app, PartnerID: p.id, Environment: p.envn,
					CustomerID: alice.id, Scopes: []string{apis.ScopePayments}, AuthorizationDetails: out})
				body, _ := json.Marshal(paymentBody(c.ID, in))
				setup += n.Load() - q0
				b.StartTimer()
				t0 := time.Now()
				benchDo(b, e, "POST", pisp+"/domestic-payments", tok, fmt.Sprintf("k-%d", i), body)
				lat = append(lat, time.Since(t0))
			}
			reportPercentiles(b, lat)
			b.ReportMetric(float64(n.Load()-setup)/float64(b.N), "queries/op")
		})
	}
}

// BenchmarkMeteredParallel is GET transactions from 16 concurrent clients
// with metering into contracts' usage_records, so the group commit of
// request-log rows and usage records shows: calls/commit is how many calls
// one metering transaction held on average.
func BenchmarkMeteredParallel(b *testing.B) {
	for _, eng := range dbtest.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			d := eng.Open(b)
			e := newEnv(b, d)
			withQuota(b, e, nil, usageToContracts{contracts.New(d, contracts.Options{}), d})
			p := e.partner("ptn_bench", environment.Sandbox)
			alice := e.customer("alice")
			cur := alice.account(core.AccountCurrent)
			_, tok := p.accountConsent(alice, allPerms, cur.ID)
			path := aisp + "/accounts/" + cur.ID + "/transactions"
			var commits atomic.Int64
			count := func(g *gorm.DB) {
				if strings.Contains(g.Statement.SQL.String(), "INSERT INTO request_log") {
					commits.Add(1)
				}
			}
			// (Row: PostgreSQL's one-statement group commit reads the claimed keys)
			if err := errors.Join(d.DB.Callback().Raw().After("gorm:raw").Register("bench:count_log_inserts", count),
				d.DB.Callback().Row().After("gorm:row").Register("bench:count_log_inserts", count)); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(8) // 16 clients on 2 cores
			b.ResetTimer()
			commits.Store(0)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					benchDo(b, e, "GET", path, tok, "", nil)
				}
			})
			b.StopTimer()
			if c := commits.Load(); c > 0 {
				b.ReportMetric(float64(b.N)/float64(c), "calls/commit")
			}
		})
	}
}

// reportPercentiles adds p50 and p99 latency (ms) to the benchmark's output.
func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// countQueries counts the SQL statements gorm sends on g from now on (every
// statement of the request: apis, the reference core, the request log).
func countQueries(b *testing.B, g *gorm.DB) *atomic.Int64 {
	n := new(atomic.Int64)
	inc := func(*gorm.DB) { n.Add(1) }
	cb := g.Callback()
	for _, err := range []error{
		cb.Create().After("gorm:create").Register("bench:count_create", inc),
		cb.Query().After("gorm:query").Register("bench:count_query", inc),
		cb.Update().After("gorm:update").Register("bench:count_update", inc),
		cb.Delete().After("gorm:delete").Register("bench:count_delete", inc),
		cb.Row().After("gorm:row").Register("bench:count_row", inc),
		cb.Raw().After("gorm:raw").Register("bench:count_raw", inc),
	} {
		if err != nil {
			b.Fatal(err)
		}
	}
	return n
}
