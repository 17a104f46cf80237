package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/redis/go-redis/v9"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/partners"
)

// dpopClient is a sandbox app calling the APIs with a client_credentials,
// DPoP-bound access token (private_key_jwt client authentication).
type dpopClient struct {
	tb     testing.TB
	id     string
	key    *TestClientKey
	dpop   *ecdsa.PrivateKey
	token  string
	client *http.Client
}

func randJTI() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func signClaims(tb testing.TB, sk jose.SigningKey, opts *jose.SignerOptions, claims map[string]any) string {
	tb.Helper()
	s, err := jose.NewSigner(sk, opts)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func (c *dpopClient) proof(method, u string) string {
	claims := map[string]any{"jti": randJTI(), "htm": method, "htu": u, "iat": time.Now().Unix()}
	if c.token != "" {
		h := sha256.Sum256([]byte(c.token))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(h[:])
	}
	return signClaims(c.tb, jose.SigningKey{Algorithm: jose.ES256, Key: c.dpop},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), claims)
}

// mustToken gets a client_credentials token from the server at issuer.
func (c *dpopClient) mustToken(issuer, scope string) {
	c.tb.Helper()
	now := time.Now()
	assertion := signClaims(c.tb, jose.SigningKey{Algorithm: jose.ES256, Key: c.key.Private}, &jose.SignerOptions{},
		map[string]any{"iss": c.id, "sub": c.id, "aud": issuer, "jti": randJTI(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", c.proof(http.MethodPost, issuer+"/token"))
	resp, err := c.client.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	tok, _ := body["access_token"].(string)
	if resp.StatusCode != http.StatusOK || tok == "" {
		c.tb.Fatalf("token: %d %v", resp.StatusCode, body)
	}
	c.token = tok
}

// mustSandboxApp creates a partner and a sandbox app with a fresh key.
func mustSandboxApp(t *testing.T, s *Server) *dpopClient {
	t.Helper()
	p := runCLI(t, s, "partners", "create", "--name", "Quota Test Ltd", "--json")
	k := MustClientKey(t)
	a := runCLI(t, s, "apps", "create", "--partner", p["id"].(string), "--env", "sandbox", "--name", "Quota app",
		"--redirect-uri", "https://app.example/cb", "--jwks", k.WriteJWKS(t), "--scope", "accounts", "--json")
	d, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopClient{tb: t, id: a["id"].(string), key: k, dpop: d, client: &http.Client{Timeout: 30 * time.Second}}
}

// burst sends n calls at once, alternating between the servers, and returns
// how many passed, the first refusal and how long the burst took.
func burst(c *dpopClient, servers []*Server, n int) (allowed int, refused *http.Response, body map[string]any, took time.Duration) {
	type result struct {
		resp *http.Response
		body map[string]any
	}
	// proofs are made first so the calls leave together
	reqs := make([]*http.Request, n)
	for i := range reqs {
		u := servers[i%len(servers)].URL + "/open-banking/v3.1/aisp/account-access-consents/cns_doesnotexist"
		reqs[i], _ = http.NewRequest(http.MethodGet, u, nil)
		reqs[i].Header.Set("Authorization", "DPoP "+c.token)
		reqs[i].Header.Set("DPoP", c.proof(http.MethodGet, u))
	}
	out := make(chan result, n)
	start := time.Now()
	for _, r := range reqs {
		go func() {
			resp, err := c.client.Do(r)
			if err != nil {
				out <- result{}
				return
			}
			defer resp.Body.Close()
			var b map[string]any
			json.NewDecoder(resp.Body).Decode(&b)
			out <- result{resp, b}
		}()
	}
	for range reqs {
		r := <-out
		if r.resp == nil {
			continue
		}
		if r.resp.StatusCode == http.StatusTooManyRequests {
			if refused == nil {
				refused, body = r.resp, r.body
			}
			continue
		}
		allowed++
	}
	return allowed, refused, body, time.Since(start)
}

// assertRateLimited checks a burst of 40 calls against the sandbox plan
// (10/s, burst 20): 20 pass at once and at most one more per 100 ms the burst
// took (GCRA refills one call every 100 ms), so a limit kept per node (40
// calls allowed) fails; refusals are 429 rate_limited with Retry-After and
// the RateLimit fields.
func assertRateLimited(t *testing.T, allowed int, refused *http.Response, body map[string]any, took time.Duration) {
	t.Helper()
	max := 20 + int(took/(100*time.Millisecond)) + 1
	if refused == nil || allowed < 20 || allowed > max {
		t.Fatalf("%d of 40 calls allowed in %s: want 20 to %d, the rest refused", allowed, took, max)
	}
	h := refused.Header
	if h.Get("Retry-After") == "" || h.Get("RateLimit-Limit") != "20" || h.Get("RateLimit-Remaining") != "0" ||
		h.Get("RateLimit-Reset") == "" || !strings.HasPrefix(h.Get("RateLimit-Policy"), `"consents";q=20`) || h.Get("RateLimit") == "" {
		t.Fatalf("headers %v", h)
	}
	if body["code"] != "rate_limited" {
		t.Fatalf("body %v", body)
	}
	t.Logf("%d of 40 allowed in %s", allowed, took)
}

func sharedMasterKey(t *testing.T) {
	k := make([]byte, 32)
	rand.Read(k)
	t.Setenv(secrets.KeyEnv, base64.StdEncoding.EncodeToString(k))
}

// TestQuotaAcrossNodes: two servers sharing PostgreSQL and Redis enforce one
// sandbox limit (10/s, burst 20) for an app whose calls alternate between them.
func TestQuotaAcrossNodes(t *testing.T) {
	if os.Getenv(dbtest.PostgresEnv) == "" || os.Getenv("BANKBRIDGE_TEST_REDIS") == "" {
		t.Skip("needs BANKBRIDGE_TEST_POSTGRES and BANKBRIDGE_TEST_REDIS")
	}
	opt, err := redis.ParseURL(os.Getenv("BANKBRIDGE_TEST_REDIS"))
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	if err := rc.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("BANKBRIDGE_TEST_REDIS set but Redis unreachable: %v", err)
	}
	sharedMasterKey(t)
	dbURL := dbtest.PostgresURL(t)
	redisURL := os.Getenv("BANKBRIDGE_TEST_REDIS")
	a := MustStart(t, dbURL, "--redis-url", redisURL)
	b := MustStart(t, dbURL, "--redis-url", redisURL)
	c := mustSandboxApp(t, a)
	c.mustToken(a.URL, "accounts")
	n, r, body, took := burst(c, []*Server{a, b}, 40)
	assertRateLimited(t, n, r, body, took)
	// the limit lives in Redis (redis_rate prefixes keys with "rate:"), not per node
	if n, err := rc.Exists(t.Context(), "rate:bb:rl:app:"+c.id+":consents").Result(); err != nil || n != 1 {
		t.Fatalf("no shared limiter key in Redis: %d %v", n, err)
	}
}

// TestQuotaOneNodeInProcess: without Redis the in-process limiter applies.
func TestQuotaOneNodeInProcess(t *testing.T) {
	s := MustStart(t, "")
	if s.Main.Platform.billing.Distributed {
		t.Fatal("limiter is distributed without --redis-url")
	}
	c := mustSandboxApp(t, s)
	c.mustToken(s.URL, "accounts")
	n, r, body, took := burst(c, []*Server{s}, 40)
	assertRateLimited(t, n, r, body, took)
}

// TestSettleCommand: `bankbridge settle --period` settles once; a re-run
// changes nothing.
func TestSettleCommand(t *testing.T) {
	s := MustStart(t, "")
	first := runCLI(t, s, "settle", "--period", "2026-10", "--json")
	if first["period"] != "2026-10" || first["already_settled"] != false {
		t.Fatalf("first run %v", first)
	}
	again := runCLI(t, s, "settle", "--period", "2026-10", "--json")
	if again["id"] != first["id"] || again["already_settled"] != true {
		t.Fatalf("second run %v (first %v)", again, first)
	}
	out, err := runCLIErr(t, s, "settle", "--period", "2026-13")
	if err == nil || !strings.Contains(err.Error(), "2026-13") {
		t.Fatalf("bad period: %v\n%s", err, out)
	}
}

// TestBillingBrowser: staff A drafts a contract in the console and attaches
// the signed agreement, staff B
// approves it and runs the settlement, and the partner downloads the
// statement CSV from the portal (e2e/billing-flow.mjs in chromium).
func TestBillingBrowser(t *testing.T) {
	requireE2E(t, true)
	s := MustStart(t, "")
	a := runCLI(t, s, "staff", "create", "--email", "fiona.finance@bank.example", "--role", "finance", "--json")
	b := runCLI(t, s, "staff", "create", "--email", "adam.admin@bank.example", "--role", "admin", "--json")
	ps, err := s.Main.Platform.Services.Partners.ListPartners(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	partnerID := ""
	for _, p := range ps {
		if p.Name() == partners.SeedPartnerName {
			partnerID = p.ID
		}
	}
	if partnerID == "" {
		t.Fatal("demo partner not seeded")
	}
	apps, err := s.Main.Platform.Services.Partners.PartnerApps(t.Context(), partnerID)
	if err != nil || len(apps) == 0 {
		t.Fatalf("demo apps %v %v", apps, err)
	}
	res := runNode(t, "billing-flow.mjs", map[string]string{
		"BASE": s.URL, "PARTNER_ID": partnerID, "DEMO_APP_ID": apps[0].ID, "PERIOD": "2026-10", "TERM_START": "2026-10-01", "TERM_END": "2027-10-01",
		"STAFF_A_EMAIL": a["email"].(string), "STAFF_A_PASSWORD": a["one_time_password"].(string), "STAFF_A_TOTP": a["totp_secret"].(string),
		"STAFF_B_EMAIL": b["email"].(string), "STAFF_B_PASSWORD": b["one_time_password"].(string), "STAFF_B_TOTP": b["totp_secret"].(string),
		"PORTAL_EMAIL": "demo@wallet.example", "PORTAL_PASSWORD": "demo-wallet-sandbox",
		"ARTIFACTS": artifactsDir(t), "CHROMIUM": chromiumPath(),
	})
	if res.Error != nil {
		t.Fatalf("flow failed: %+v\nsteps %v", *res.Error, res.Steps)
	}
	if st := res.Step("submitted"); st == nil || st["status"] != "pending_approval" {
		t.Fatalf("submitted: %v", st)
	}
	// sha256 of SIGNED_PDF in billing-flow.mjs
	sum := sha256.Sum256([]byte("%PDF-1.4\n% signed by the bank and the partner\n%%EOF\n"))
	hash := hex.EncodeToString(sum[:])
	if st := res.Step("agreement"); st == nil || st["flash"] != "Signed agreement attached." || st["hash"] != hash {
		t.Fatalf("agreement: %v (want hash %s)", st, hash)
	}
	if st := res.Step("portal_agreement"); st == nil || st["hash"] != hash {
		t.Fatalf("portal agreement: %v", st)
	}
	if st := res.Step("self_approval"); st == nil || st["status"] != "pending_approval" ||
		!strings.HasSuffix(st["error"].(string), "who cannot also approve it.") {
		t.Fatalf("self approval: %v", st)
	}
	if st := res.Step("approved"); st == nil || st["status"] != "active" {
		t.Fatalf("approved: %v", st)
	}
	if st := res.Step("settled"); st == nil || !strings.Contains(st["flash"].(string), "Settlement of 2026-10 complete: 1 statement(s).") {
		t.Fatalf("settled: %v", st)
	}
	if st := res.Step("plan_assigned"); st == nil || st["flash"] != "Plan assignment saved." {
		t.Fatalf("plan assigned: %v", st)
	}
	if st := res.Step("usage"); st == nil || !strings.HasPrefix(st["accounts"].(string), "accounts\t2/s, burst 3\t0\t100\t") {
		t.Fatalf("usage row: %q", st["accounts"])
	}
	csv := res.Step("csv")
	if csv == nil {
		t.Fatalf("no csv step: %v", res.Steps)
	}
	body := csv["body"].(string)
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) < 3 || lines[0] != strings.Join(contracts.CSVHeader, ",") ||
		!strings.Contains(body, ",minimum_topup,") || !strings.Contains(body, "500.00") ||
		!strings.Contains(lines[len(lines)-1], "net") || !strings.Contains(lines[1], partnerID+",2026-10,EUR") {
		t.Fatalf("statement csv:\n%s", body)
	}
	if pr := res.Step("printable"); pr == nil || pr["net"] != "500.00" || pr["printTableVisible"] != true || pr["pdfHeader"] != "%PDF-" ||
		fmt.Sprint(pr["printHidden"]) != "map[actions:true topbar:true]" {
		t.Fatalf("printable: %v", pr)
	}
	t.Logf("self-approval refusal shown: %q", res.Step("self_approval")["error"])
}

func TestUsageAdapter(t *testing.T) {
	at := time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		in   apis.UsageRecord
		want contracts.UsageRecord
	}{
		{"ok/call", apis.UsageRecord{Key: "use_1", PartnerID: "ptn_a", AppID: "app_a", Environment: "production", Product: "accounts",
			Kind: apis.KindCall, Billable: true, Status: 200, At: at},
			contracts.UsageRecord{Key: "use_1", PartnerID: "ptn_a", AppID: "app_a", Environment: "production", Product: "accounts",
				Kind: contracts.KindCall, Billable: true, Status: 200, At: at}},
		{"ok/refused-call", apis.UsageRecord{Key: "use_2", PartnerID: "ptn_a", AppID: "app_a", Environment: "sandbox", Product: "consents",
			Kind: apis.KindCall, Status: 429, At: at},
			contracts.UsageRecord{Key: "use_2", PartnerID: "ptn_a", AppID: "app_a", Environment: "sandbox", Product: "consents",
				Kind: contracts.KindCall, Status: 429, At: at}},
		{"ok/payment", apis.UsageRecord{Key: "use_3", PartnerID: "ptn_a", AppID: "app_a", Environment: "production", Product: "payments",
			Kind: apis.KindPayment, Billable: true, Status: 201, Amount: money.Money{Minor: 1050, Currency: "EUR"}, At: at},
			contracts.UsageRecord{Key: "use_3", PartnerID: "ptn_a", AppID: "app_a", Environment: "production", Product: "payments",
				Kind: contracts.KindPayment, Billable: true, Status: 201, PaymentAmount: money.Money{Minor: 1050, Currency: "EUR"}, At: at}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := toContractsUsage(tc.in)
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
