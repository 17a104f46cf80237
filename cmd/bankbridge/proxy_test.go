package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/secrets"
)

// backendHeader names, on every answer of roundRobin, the node that
// answered (or, on a 502, the node that failed).
const backendHeader = "X-Test-Backend"

// roundRobin is the reverse proxy of the test: each request goes to the
// next node in turn; nothing is retried; a node whose connection fails is
// taken out of the rotation (a load balancer's passive health check), and
// the request that failed is answered 502.
type roundRobin struct {
	nodes []*rrNode
	next  atomic.Uint64
}

type rrNode struct {
	name  string
	proxy *httputil.ReverseProxy
	down  atomic.Bool
	err   atomic.Value // string: the first error that took it down
}

func newRoundRobin() *roundRobin { return &roundRobin{} }

// add puts the node listening at base into the rotation.
func (rr *roundRobin) add(name, base string) {
	u, _ := url.Parse(base)
	n := &rrNode{name: name}
	n.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 32, ResponseHeaderTimeout: 30 * time.Second},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set(backendHeader, name)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			n.err.CompareAndSwap(nil, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, err))
			n.down.Store(true)
			w.Header().Set(backendHeader, name)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	rr.nodes = append(rr.nodes, n)
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for range len(rr.nodes) {
		n := rr.nodes[rr.next.Add(1)%uint64(len(rr.nodes))]
		if !n.down.Load() {
			n.proxy.ServeHTTP(w, r)
			return
		}
	}
	msg := "no node up:"
	for _, n := range rr.nodes {
		e, _ := n.err.Load().(string)
		msg += fmt.Sprintf(" node %s down after %q;", n.name, e)
	}
	http.Error(w, msg, http.StatusServiceUnavailable)
}

// TestTwoNodesBehindProxyLoseOne (issue 15): two nodes of the real binary
// on one PostgreSQL and one Redis, behind a round-robin reverse proxy that
// retries nothing, serve two partner apps' token requests and resource calls;
// node B is SIGKILLed in the middle of the traffic. Then: the only failures
// are 502s of requests on node B after the kill (those in flight on it, or
// sent to it before the proxy saw it was gone); every resource call answered
// has its request-log row, and the usage records count every 200; every
// token issued is active on the survivor; node A kept serving; and the
// second app's rate limit (2/s, burst 10) held across both nodes and the
// kill, as one limit in Redis, not one per node.
func TestTwoNodesBehindProxyLoseOne(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills real processes")
	}
	dbURL := dbtest.PostgresURL(t) // skips without BANKBRIDGE_TEST_POSTGRES
	redisURL := testRedis(t)
	bin := buildBinary(t)
	key := testKey(t)
	t.Setenv(secrets.KeyEnv, key) // the operator commands run in-process
	rr := newRoundRobin()
	lb := httptest.NewServer(rr)
	defer lb.Close()
	issuer := lb.URL
	env := childEnv(map[string]string{secrets.KeyEnv: key, "DATABASE_URL": dbURL, "REDIS_URL": redisURL})
	nodes := map[string]*process{}
	for _, name := range []string{"A", "B"} {
		addr := freeAddr(t)
		nodes[name] = spawn(t, bin, t.TempDir(), env, "serve", "--addr", addr, "--issuer", issuer, "--log-level", "warn", "--webhook-dispatchers", "0")
		rr.add(name, "http://"+addr)
	}
	for _, n := range nodes {
		n.awaitReady(t)
	}
	store, err := db.Open(context.Background(), db.Options{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	// Two partner apps: "free" with a limit the traffic never reaches, and
	// "limited" whose accounts calls are limited to 2/s, burst 10 (both set
	// before their first call: a node caches an app's plan for 5 s). Their
	// code flows run through the proxy: any step on any node.
	const rate, burstSize = 2, 10
	operator := &Server{URL: issuer, Issuer: issuer, DataDir: t.TempDir(), DatabaseURL: dbURL}
	type app struct {
		p     *flowPartner
		token string
		path  string
	}
	apps := map[string]*app{}
	var start time.Time
	for _, name := range []string{"free", "limited"} {
		p := newFlowPartner(t, operator, issuer)
		limits := `{"accounts":{"rate":100000,"burst":100000}}`
		if name == "limited" {
			limits = `{"accounts":{"rate":2,"burst":10}}`
		}
		if err := store.Exec("INSERT INTO plan_assignments (scope, subject_id, limit_overrides, updated_by, updated_at) VALUES ('app', ?, ?, 'test', ?)",
			p.id, limits, time.Now().UTC()).Error; err != nil {
			t.Fatal(err)
		}
		token := p.codeFlow(issuer, p.accountConsent(issuer), nil)
		if name == "limited" {
			start = time.Now() // the limited app's window opens with its first accounts call
		}
		apps[name] = &app{p: p, token: token, path: transactionsPath(p.firstAccount(issuer, token))}
	}

	// The traffic, built beforehand: token requests (client_credentials)
	// of the free app and resource calls of both apps, in turn; each names
	// its own interaction id.
	const total, workers, killAfter = 300, 8, 100
	type call struct {
		kind        string // token, free, limited
		req         *http.Request
		interaction string
		// the answer
		status      int
		backend     string
		afterKill   bool
		answeredAt  time.Time
		accessToken string
		problemCode string
		body        string
		err         error
	}
	calls := make([]*call, total)
	for i := range calls {
		c := &call{kind: []string{"token", "free", "limited"}[i%3], interaction: uuid.NewString()}
		if c.kind == "token" {
			p := apps["free"].p
			form := p.authenticated(url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}})
			c.req, _ = http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(form.Encode()))
			c.req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			c.req.Header.Set("DPoP", p.proof(http.MethodPost, "/token", ""))
		} else {
			a := apps[c.kind]
			c.req, _ = http.NewRequest(http.MethodGet, issuer+a.path, nil)
			c.req.Header.Set("Authorization", "DPoP "+a.token)
			c.req.Header.Set("DPoP", a.p.proof(http.MethodGet, a.path, a.token))
		}
		c.req.Header.Set("x-fapi-interaction-id", c.interaction)
		calls[i] = c
	}
	var (
		killed   atomic.Bool
		answered atomic.Int64
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	hc := &http.Client{Timeout: 60 * time.Second}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				c := calls[i]
				resp, err := hc.Do(c.req)
				if err != nil {
					c.err, c.afterKill = err, killed.Load()
				} else {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					c.afterKill = killed.Load()
					c.status, c.backend, c.answeredAt = resp.StatusCode, resp.Header.Get(backendHeader), time.Now()
					var body map[string]any
					json.Unmarshal(b, &body)
					c.body = string(b)
					c.accessToken, _ = body["access_token"].(string)
					c.problemCode, _ = body["code"].(string)
				}
				if answered.Add(1) == killAfter {
					// Flag first: an answer read after the flag may still
					// come from node B alive, never a failure before it.
					killed.Store(true)
					nodes["B"].cmd.Process.Kill() // SIGKILL
				}
			}
		}()
	}
	wg.Wait()
	<-nodes["B"].exited

	// Every failure is a 502 of node B after the kill; every other answer
	// is 200, or 429 for the limited app beyond its limit.
	var (
		failed, failedFree, free, limitedOK, limitedRefused, beforeKillB, afterKillA int
		issued                                                                       []string
		end                                                                          time.Time
	)
	for i, c := range calls {
		switch {
		case c.err != nil:
			t.Fatalf("call %d: %v (the proxy stays up: every request is answered)", i, c.err)
		case c.status == http.StatusBadGateway:
			if c.backend != "B" || !c.afterKill {
				t.Fatalf("call %d (%s): 502 from node %s, after the kill %v; want failures only on node B after its kill", i, c.kind, c.backend, c.afterKill)
			}
			failed++
			if c.kind == "free" {
				failedFree++
			}
			continue
		case c.kind == "token" && c.status == http.StatusOK && c.accessToken != "":
			issued = append(issued, c.accessToken)
		case c.kind == "free" && c.status == http.StatusOK:
			free++
		case c.kind == "limited" && c.status == http.StatusOK:
			limitedOK++
		case c.kind == "limited" && c.status == http.StatusTooManyRequests && c.problemCode == "rate_limited":
			limitedRefused++
		default:
			t.Fatalf("call %d (%s) answered %d %q by node %s: %s", i, c.kind, c.status, c.problemCode, c.backend, c.body)
		}
		if c.kind == "limited" && c.answeredAt.After(end) {
			end = c.answeredAt
		}
		if c.backend == "B" && !c.afterKill {
			beforeKillB++
		}
		if c.backend == "A" && c.afterKill {
			afterKillA++
		}
	}
	t.Logf("%d calls: %d tokens issued, %d free resource calls answered, limited app %d admitted and %d refused; %d failed on node B; node B answered %d before its kill, node A %d after",
		total, len(issued), free, limitedOK, limitedRefused, failed, beforeKillB, afterKillA)
	if beforeKillB == 0 || afterKillA == 0 {
		t.Fatalf("node B answered %d calls before its kill and node A %d after: the kill was not in the middle of the traffic", beforeKillB, afterKillA)
	}

	// The survivor serves: a fresh token, through the proxy.
	apps["free"].p.clientCredentials(issuer)

	// Nothing answered was lost: each resource call answered has its
	// request-log row; the free app's usage records count its 200s (plus,
	// at most, the calls node B completed but never answered).
	for i, c := range calls {
		if c.kind == "token" || c.status == http.StatusBadGateway {
			continue
		}
		var n int64
		if err := store.Raw("SELECT count(*) FROM request_log WHERE interaction_id = ? AND status = ?", c.interaction, c.status).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("call %d (%s) answered %d by node %s (after the kill %v): %d request-log rows, want 1", i, c.kind, c.status, c.backend, c.afterKill, n)
		}
	}
	var metered int64
	if err := store.Raw("SELECT count(*) FROM usage_records WHERE app_id = ? AND product = 'accounts' AND status = 200", apps["free"].p.id).Scan(&metered).Error; err != nil {
		t.Fatal(err)
	}
	if answered200 := int64(free + 1); metered < answered200 || metered > answered200+int64(failedFree) {
		t.Fatalf("%d usage records for %d accounts calls answered 200 (and %d failed on node B)", metered, answered200, failedFree)
	}
	// Every token issued is active, asked of the survivor.
	for i, tok := range issued {
		st, _, body := apps["free"].p.post(issuer, "/introspect", apps["free"].p.authenticated(url.Values{"token": {tok}}), "")
		if st != http.StatusOK || body["active"] != true {
			t.Fatalf("token %d: introspection %d %v", i, st, body)
		}
	}

	// One limit across both nodes and the kill: the GCRA admits the burst
	// at once and one call per 1/rate since; a limit kept per node would
	// admit about twice that.
	admitted := limitedOK + 1
	window := end.Sub(start)
	max := burstSize + int(window.Seconds()*rate) + 1
	t.Logf("limited app: %d accounts calls admitted in %s (%d/s, burst %d: at most %d)", admitted, window.Round(time.Millisecond), rate, burstSize, max)
	if limitedRefused == 0 || admitted > max {
		t.Fatalf("limited app: %d accounts calls admitted and %d refused in %s; want at most %d admitted, the rest refused", admitted, limitedRefused, window, max)
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	if n, err := rc.Exists(t.Context(), "rate:bb:rl:app:"+apps["limited"].p.id+":accounts").Result(); err != nil || n != 1 {
		t.Fatalf("no shared limiter key in Redis: %d %v", n, err)
	}
}
