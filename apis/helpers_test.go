package apis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/corrections"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files")

func TestMain(m *testing.M) {
	secrets.PasswordCost = 4 // bcrypt's minimum for the seeded personas: tests check logic, not cost
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

var ctx = context.Background()

// seedNow ends the seeded history; the core's clock and the service's start an
// hour later.
var seedNow = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

const baseURL = "https://api.bank.example"

// clock is a settable test clock.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.t.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.t.Add(int64(d)) }

// fakeVerifier maps "DPoP <token>" to an AccessContext; a request without a
// DPoP header is refused the way the real verifier refuses it.
type fakeVerifier struct {
	mu     sync.Mutex
	tokens map[string]*oauth.AccessContext
}

func (f *fakeVerifier) add(token string, ac *oauth.AccessContext) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[token] = ac
}

const wwwAuthDPoP = `DPoP error="invalid_dpop_proof", error_description="DPoP proof missing", algs="ES256 PS256"`

func (f *fakeVerifier) VerifyRequest(_ context.Context, r *http.Request) (*oauth.AccessContext, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "DPoP ")
	if !ok {
		return nil, &oauth.ResourceError{Status: 401, Code: "invalid_token", Description: "DPoP access token required",
			WWWAuthenticate: `DPoP algs="ES256 PS256"`}
	}
	if r.Header.Get("DPoP") == "" {
		return nil, &oauth.ResourceError{Status: 401, Code: "invalid_dpop_proof", Description: "DPoP proof missing",
			WWWAuthenticate: wwwAuthDPoP, DPoPNonce: "nonce-1"}
	}
	if tok == "broken" { // the verifier's own failure (its database, say)
		return nil, &oauth.ResourceError{Status: 500, Code: "server_error", Description: "token lookup failed"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ac, ok := f.tokens[tok]
	if !ok {
		return nil, &oauth.ResourceError{Status: 401, Code: "invalid_token", Description: "token unknown or expired",
			WWWAuthenticate: `DPoP error="invalid_token", algs="ES256 PS256"`}
	}
	cp := *ac
	return &cp, nil
}

// event is one published event.
type event struct {
	Type, PartnerID, AppID string
	Data                   map[string]any
}

type recPublisher struct {
	mu     sync.Mutex
	events []event
}

func (p *recPublisher) Publish(_ context.Context, tx *gorm.DB, typ, partnerID, appID string, data map[string]any) error {
	if tx == nil {
		panic("publish without tx")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, event{typ, partnerID, appID, data})
	return nil
}

func (p *recPublisher) of(typ, key, value string) []event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []event
	for _, e := range p.events {
		if e.Type == typ && e.Data[key] == value {
			out = append(out, e)
		}
	}
	return out
}

type recRevoker struct {
	mu       sync.Mutex
	consents []string
}

func (r *recRevoker) RevokeConsent(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.consents = append(r.consents, id)
	return nil
}

func (r *recRevoker) RevokeClient(context.Context, string) error { return nil }

type recUsage struct {
	mu   sync.Mutex
	recs []apis.UsageRecord
}

// RecordUsage keeps recs in memory (outside the metering transaction),
// skipping keys it has already.
func (u *recUsage) RecordUsage(_ context.Context, recs []apis.UsageRecord) (int64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	var added int64
next:
	for _, r := range recs {
		for _, x := range u.recs {
			if x.Key == r.Key {
				continue next
			}
		}
		u.recs = append(u.recs, r)
		added++
	}
	return added, nil
}

func (u *recUsage) forApp(appID string) []apis.UsageRecord {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []apis.UsageRecord
	for _, r := range u.recs {
		if r.AppID == appID {
			out = append(out, r)
		}
	}
	return out
}

// env is a running API on one database with a seeded reference core.
type env struct {
	t        testing.TB
	d        *db.DB
	core     *core.Reference
	svc      *apis.Service
	srv      *httptest.Server
	verifier *fakeVerifier
	pub      *recPublisher
	rev      *recRevoker
	usage    *recUsage
	clock    *clock
	policy   apis.StaticDatasetPolicy
	engine   *gin.Engine
	// corrections decides and posts the partners' correction requests.
	corrections *corrections.Service
}

// strict limits apply in "production" so limit and velocity tests are cheap.
var prodLimits = apis.Limits{PerPayment: 100_00, PerConsent: 100_00, PerPartnerDaily: 150_00,
	VelocityCount: 2, VelocityWindow: time.Minute}

// newEnv builds the platform's resource server on d; opts change its
// configuration (e.g. the risk officers' limit rules).
func newEnv(tb testing.TB, d *db.DB, opts ...func(*apis.Config)) *env {
	tb.Helper()
	e := &env{t: tb, d: d, verifier: &fakeVerifier{tokens: map[string]*oauth.AccessContext{}},
		pub: &recPublisher{}, rev: &recRevoker{}, usage: &recUsage{}, clock: &clock{}}
	e.clock.set(seedNow.Add(time.Hour))
	e.core = core.NewReference(d, core.Options{CursorKey: []byte("test-cursor-key"), Now: func() time.Time { return seedNow.Add(time.Hour) }})
	if _, err := e.core.Seed(ctx, core.SeedOptions{Now: seedNow}); err != nil {
		tb.Fatalf("Seed: %v", err)
	}
	e.policy = apis.StaticDatasetPolicy{Default: []string{apis.DatasetTransactionInsights},
		ByPartner: map[string][]string{"ptn_risk": {apis.DatasetTransactionInsights, apis.DatasetRiskSignals}}}
	cfg := apis.Config{DB: d, Core: e.core, Publisher: e.pub, Revoker: e.rev, Datasets: e.policy,
		Limits: map[environment.Environment]apis.Limits{
			environment.Sandbox: {PerPayment: 2_500_000, PerConsent: 2_500_000, PerPartnerDaily: 1_000_000_000,
				VelocityCount: 100000, VelocityWindow: time.Minute},
			environment.Production: prodLimits,
		},
		Now: e.clock.now}
	for _, o := range opts {
		o(&cfg)
	}
	e.svc = apis.NewService(cfg)
	// The partners' corrections, as the platform wires them (no ledger here).
	e.corrections = corrections.New(corrections.Config{Store: corrections.NewGormStore(d), Payments: corrections.APIPayments{Store: apis.NewGormStore(d)},
		Core: e.core, Customers: e.core, Publisher: e.pub, Now: e.clock.now})
	h := apis.NewHandler(apis.HandlerConfig{Service: e.svc, Verifier: e.verifier, Usage: e.usage, BaseURL: baseURL,
		Corrections: corrections.PartnerAPI{Service: e.corrections}})
	e.engine = gin.New()
	h.Register(e.engine)
	e.srv = httptest.NewServer(e.engine)
	tb.Cleanup(e.srv.Close)
	return e
}

// partner is a partner app with a client_credentials token.
type partner struct {
	e     *env
	id    string
	app   string
	envn  environment.Environment
	token string
}

func (e *env) partner(id string, envn environment.Environment) *partner {
	p := &partner{e: e, id: id, app: ids.New("app"), envn: envn, token: "cc-" + ids.Random(12)}
	e.verifier.add(p.token, &oauth.AccessContext{ClientID: p.app, PartnerID: id, Environment: envn,
		Scopes: []string{apis.ScopeAccounts, apis.ScopePayments, apis.ScopeDataSharing}})
	return p
}

func (p *partner) client() *oauth.Client {
	return &oauth.Client{ID: p.app, PartnerID: p.id, Environment: p.envn, Active: true}
}

// response is one HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("response body %q: %v", r.body, err)
	}
	return m
}

// data returns body.Data.
func (r *response) data(tb testing.TB) map[string]any {
	tb.Helper()
	return r.json(tb)["Data"].(map[string]any)
}

// req sends a request with token (and a DPoP header unless noDPoP).
type reqOpt func(*http.Request)

func withKey(k string) reqOpt { return func(r *http.Request) { r.Header.Set("x-idempotency-key", k) } }
func noDPoP() reqOpt          { return func(r *http.Request) { r.Header.Del("DPoP") } }
func withHeader(k, v string) reqOpt {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

func (e *env) do(method, path, token string, body any, opts ...reqOpt) *response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	r, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		r.Header.Set("Authorization", "DPoP "+token)
		r.Header.Set("DPoP", "proof-"+token)
	}
	if rd != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if method == http.MethodPost {
		r.Header.Set("x-idempotency-key", ids.Random(20))
	}
	for _, o := range opts {
		o(r)
	}
	res, err := e.srv.Client().Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

// wantProblem asserts a problem+json answer with exact status, code and detail.
func wantProblem(tb testing.TB, r *response, status int, code, detail string) {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		tb.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	m := r.json(tb)
	if m["code"] != code {
		tb.Fatalf("code = %v, want %s; body %s", m["code"], code, r.body)
	}
	if detail != "" && m["detail"] != detail {
		tb.Fatalf("detail = %q\n want %q", m["detail"], detail)
	}
	if want := problem.Code(code).Title(); m["title"] != want {
		tb.Fatalf("title = %v, want %q", m["title"], want)
	}
	if r.header.Get("x-fapi-interaction-id") == "" {
		tb.Fatal("no x-fapi-interaction-id on a problem response")
	}
}

func wantStatus(tb testing.TB, r *response, status int) {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
}

// customer is a seeded persona.
type customer struct {
	id       string
	accounts []core.Account
}

// customer is a sandbox customer (a seeded persona, or one made with
// CreateCustomer in the sandbox).
func (e *env) customer(username string) *customer {
	e.t.Helper()
	return e.customerIn(environment.Sandbox, username)
}

// productionPassword is the password of every production customer tests make.
const productionPassword = "production-password-1"

// productionCustomer returns the production customer with that username,
// creating it (one current account, as `bankbridge customers create --env
// production` does) the first time: the personas are sandbox customers that
// production apps cannot reach.
func (e *env) productionCustomer(username string) *customer {
	e.t.Helper()
	if _, err := e.core.CustomerByUsername(ctx, environment.Production, username); errors.Is(err, core.ErrNotFound) {
		if _, err := e.core.CreateCustomer(ctx, environment.Production, username, productionPassword, "Real "+username); err != nil {
			e.t.Fatalf("CreateCustomer(production %s): %v", username, err)
		}
		// The simulated ninety days of history may end overdrawn: give the
		// test customer enough for the payments the tests make.
		if err := e.d.Exec(`UPDATE core_accounts SET balance_minor = balance_minor + 1000000 WHERE customer_id IN
			(SELECT id FROM core_customers WHERE environment = ? AND username = ?)`, environment.Production, username).Error; err != nil {
			e.t.Fatal(err)
		}
	}
	return e.customerIn(environment.Production, username)
}

func (e *env) customerIn(env environment.Environment, username string) *customer {
	e.t.Helper()
	c, err := e.core.CustomerByUsername(ctx, env, username)
	if err != nil {
		e.t.Fatal(err)
	}
	accs, err := e.core.Accounts(ctx, c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return &customer{id: c.ID, accounts: accs}
}

func (c *customer) account(typ string) core.Account {
	for _, a := range c.accounts {
		if a.Type == typ && a.Status == core.AccountEnabled {
			return a
		}
	}
	panic("no " + typ + " account")
}

// authorise approves consentID of typ for cust with accounts and returns a
// customer token for it (registered with the fake verifier).
func (p *partner) authorise(typ, consentID string, cust *customer, accounts ...string) string {
	e := p.e
	e.t.Helper()
	details := []oauth.AuthorizationDetail{{Type: typ, ConsentID: consentID}}
	b := e.svc.Broker()
	if err := b.CheckPushed(ctx, p.client(), details); err != nil {
		e.t.Fatalf("CheckPushed: %v", err)
	}
	out, err := b.Decide(ctx, p.client(), cust.id, details, true, map[string][]string{consentID: accounts}, nil)
	if err != nil {
		e.t.Fatalf("Decide: %v", err)
	}
	tok := "cu-" + ids.Random(12)
	scope := map[string]string{apis.TypeAccountAccess: apis.ScopeAccounts, apis.TypePaymentInitiation: apis.ScopePayments,
		apis.TypeDataSharing: apis.ScopeDataSharing}[typ]
	e.verifier.add(tok, &oauth.AccessContext{ClientID: p.app, PartnerID: p.id, Environment: p.envn, CustomerID: cust.id,
		Scopes: []string{scope}, AuthorizationDetails: out})
	return tok
}

const aisp = apis.BasePath + "/aisp"
const pisp = apis.BasePath + "/pisp"
const dataPath = apis.BasePath + "/data"

func accountConsentBody(perms ...string) map[string]any {
	return map[string]any{"Data": map[string]any{"Permissions": perms}, "Risk": map[string]any{}}
}

var allPerms = []string{apis.PermAccountsDetail, apis.PermBalances, apis.PermTransactionsDetail,
	apis.PermTransactionsCredits, apis.PermTransactionsDebits}

// accountConsent creates and authorises an account-access consent.
func (p *partner) accountConsent(cust *customer, perms []string, accounts ...string) (consentID, token string) {
	p.e.t.Helper()
	r := p.e.do("POST", aisp+"/account-access-consents", p.token, accountConsentBody(perms...))
	wantStatus(p.e.t, r, 201)
	id := r.data(p.e.t)["ConsentId"].(string)
	return id, p.authorise(apis.TypeAccountAccess, id, cust, accounts...)
}

func initiation(amount, creditorID, name, ref string) map[string]any {
	return map[string]any{
		"InstructionIdentification": "instr-1",
		"EndToEndIdentification":    "e2e-1",
		"InstructedAmount":          map[string]any{"Amount": amount, "Currency": "GBP"},
		"CreditorAccount":           map[string]any{"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": creditorID, "Name": name},
		"RemittanceInformation":     map[string]any{"Reference": ref},
	}
}

const externalCreditor = "20000012345678"

// paymentConsent creates and authorises a payment consent from debtor.
func (p *partner) paymentConsent(cust *customer, debtor string, in map[string]any) (consentID, token string) {
	p.e.t.Helper()
	r := p.e.do("POST", pisp+"/domestic-payment-consents", p.token,
		map[string]any{"Data": map[string]any{"Initiation": in}, "Risk": map[string]any{"PaymentContextCode": "PartyToParty"}})
	wantStatus(p.e.t, r, 201)
	id := r.data(p.e.t)["ConsentId"].(string)
	return id, p.authorise(apis.TypePaymentInitiation, id, cust, debtor)
}

func paymentBody(consentID string, in map[string]any) map[string]any {
	return map[string]any{"Data": map[string]any{"ConsentId": consentID, "Initiation": in},
		"Risk": map[string]any{"PaymentContextCode": "PartyToParty"}}
}

// ---- golden files ----

var (
	idRE = regexp.MustCompile(`\b(cns|pcn|dsc|pay|acc|txn|app|ptn)_[0-9a-z]{26}\b`)
)

// golden compares body (ids normalised, re-indented) with testdata/golden/name.json.
func golden(tb testing.TB, name string, body []byte) {
	tb.Helper()
	seen := map[string]string{}
	count := map[string]int{}
	norm := idRE.ReplaceAllStringFunc(string(body), func(s string) string {
		if v, ok := seen[s]; ok {
			return v
		}
		prefix := s[:strings.IndexByte(s, '_')]
		count[prefix]++
		v := prefix + "_" + strings.Repeat("x", 20) + string(rune('0'+count[prefix]/100%10)) +
			string(rune('0'+count[prefix]/10%10)) + string(rune('0'+count[prefix]%10)) + "xxx"
		seen[s] = v
		return v
	})
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(norm), "", "  "); err != nil {
		tb.Fatalf("golden %s: %v", name, err)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("golden %s: %v (run with -update)", name, err)
	}
	if !bytes.Equal(want, buf.Bytes()) {
		tb.Fatalf("golden %s differs (run with -update to accept):\n got %s\nwant %s", name, buf.Bytes(), want)
	}
}
