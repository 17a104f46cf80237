package oauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/dpop"
	"github.com/bankbridge/bankbridge/oauth/keys"
)

// fakeClients is a ClientRegistry over a map (partners is another package).
type fakeClients struct {
	mu sync.Mutex
	m  map[string]oauth.Client
}

func (f *fakeClients) Client(_ context.Context, id string) (*oauth.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.m[id]
	if !ok {
		return nil, oauth.ErrClientNotFound
	}
	return &c, nil
}

func (f *fakeClients) put(c oauth.Client) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[c.ID] = c
}

func (f *fakeClients) setActive(id string, active bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.m[id]
	c.Active = active
	f.m[id] = c
}

// fakeCustomers is a CustomerAuthenticator over a map: alice, bob, carol
// (locked) and dave are sandbox customers; production has its own alice ("production horse").
type fakeCustomers struct{}

func (fakeCustomers) Authenticate(_ context.Context, env environment.Environment, username, password string) (string, error) {
	switch {
	case env == environment.Production && username == "alice" && password == "production horse":
		return "cus_prod_alice", nil
	case env != environment.Sandbox:
		return "", oauth.ErrBadCredentials
	case username == "alice" && password == "correct horse":
		return "cus_alice", nil
	case username == "bob" && password == "battery staple":
		return "cus_bob", nil
	case username == "dave" && password == "correct horse battery":
		return "cus_dave", nil
	case username == "carol":
		return "", oauth.ErrCustomerLocked
	}
	return "", oauth.ErrBadCredentials
}

func (fakeCustomers) DisplayName(_ context.Context, id string) (string, error) {
	switch id {
	case "cus_alice":
		return "Alice Example", nil
	case "cus_bob":
		return "Bob Example", nil
	case "cus_dave":
		return "Dave Example", nil
	case "cus_prod_alice":
		return "Alice Production", nil
	}
	return "", oauth.ErrCustomerUnknown
}

// fakeConsents is a ConsentBroker over a map of consent ids to status.
type fakeConsents struct {
	mu      sync.Mutex
	status  map[string]string // awaiting, authorised, rejected, revoked
	decided map[string][]string
	// how is how each approved consent was authorised.
	how map[string]oauth.ConsentAuthorisation
	// payments are the amount and payee of payment consents (Describe's
	// PaymentSummary); nil for none.
	payments map[string]oauth.PaymentSummary
}

func (f *fakeConsents) Types() []string { return []string{"account_access", "payment_initiation"} }

func (f *fakeConsents) CheckPushed(_ context.Context, _ *oauth.Client, details []oauth.AuthorizationDetail) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range details {
		if st := f.status[d.ConsentID]; st != "awaiting" && st != "bank-rejects" {
			return fmt.Errorf("%w: consent '%s' does not exist or does not await authorisation", oauth.ErrInvalidAuthorizationDetails, d.ConsentID)
		}
	}
	return nil
}

func (f *fakeConsents) Describe(_ context.Context, _ *oauth.Client, _ string, details []oauth.AuthorizationDetail) ([]oauth.ConsentDescription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []oauth.ConsentDescription
	for _, d := range details {
		cd := oauth.ConsentDescription{Type: d.Type, ConsentID: d.ConsentID, ExpiresAt: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)}
		if d.Type == "payment_initiation" {
			cd.Title, cd.SelectMode = "Make a payment of £12.50 to Corner Shop", "single"
			cd.Lines = []string{"Amount: £12.50", "To: Corner Shop"}
		} else {
			cd.Title, cd.SelectMode = "Read your account information", "multi"
			cd.Lines = []string{"Your account names and numbers", "Your balances", "Your transactions"}
		}
		if p, ok := f.payments[d.ConsentID]; ok {
			cd.Payment = &p
		}
		cd.Accounts = []oauth.SelectableAccount{
			{ID: "acc_1", Label: "Current account", Masked: "•••• 1234"},
			{ID: "acc_2", Label: "Savings account", Masked: "•••• 9876"},
		}
		out = append(out, cd)
	}
	return out, nil
}

func (f *fakeConsents) Decide(_ context.Context, _ *oauth.Client, _ string, details []oauth.AuthorizationDetail, approve bool, selected map[string][]string, how map[string]oauth.ConsentAuthorisation) ([]oauth.AuthorizationDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []oauth.AuthorizationDetail
	for _, d := range details {
		if f.status[d.ConsentID] == "bank-rejects" {
			f.status[d.ConsentID] = "rejected"
			return nil, fmt.Errorf("%w: scripted", oauth.ErrConsentRejected)
		}
		if !approve {
			f.status[d.ConsentID] = "rejected"
			continue
		}
		f.status[d.ConsentID] = "authorised"
		f.decided[d.ConsentID] = selected[d.ConsentID]
		f.how[d.ConsentID] = how[d.ConsentID]
		e := d
		e.Extra = map[string]any{"accounts": selected[d.ConsentID]}
		out = append(out, e)
	}
	return out, nil
}

func (f *fakeConsents) Active(_ context.Context, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status[id] == "authorised", nil
}

func (f *fakeConsents) add(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[id] = "awaiting"
}

// harness is a running authorization server on a real HTTP test server.
type harness struct {
	tb       testing.TB
	srv      *oauth.Server
	ts       *httptest.Server
	db       *db.DB
	clients  *fakeClients
	consents *fakeConsents
	offset   atomic.Int64 // added to the wall clock (nanoseconds)
	client   *testClient  // registered, active client app_one of partner ptn_one
	other    *testClient  // app_two of partner ptn_two
}

const redirectURI = "https://wallet.example/cb"

func (h *harness) now() time.Time { return time.Now().UTC().Add(time.Duration(h.offset.Load())) }

// advance moves the server's clock forward.
func (h *harness) advance(d time.Duration) { h.offset.Add(int64(d)) }

func newHarness(tb testing.TB, d *db.DB, mut func(*oauth.Config, *oauth.Deps)) *harness {
	tb.Helper()
	gin.SetMode(gin.ReleaseMode)
	h := &harness{tb: tb, db: d,
		clients:  &fakeClients{m: map[string]oauth.Client{}},
		consents: &fakeConsents{status: map[string]string{}, decided: map[string][]string{}, how: map[string]oauth.ConsentAuthorisation{}, payments: map[string]oauth.PaymentSummary{}},
	}
	e := gin.New()
	h.ts = httptest.NewServer(e)
	tb.Cleanup(h.ts.Close)
	box, err := secrets.NewBox(make([]byte, 32))
	if err != nil {
		tb.Fatal(err)
	}
	km := keys.NewManager(d.DB, box, h.now)
	if err := km.EnsureKeys(context.Background(), "ES256", "PS256"); err != nil {
		tb.Fatal(err)
	}
	replay := dpop.NewGormReplayStore(d.DB)
	replay.(*dpop.GormReplayStore).Now = h.now
	cfg := oauth.Config{
		Issuer:            h.ts.URL,
		GlobalSecret:      []byte("0123456789abcdef0123456789abcdef"),
		PairwiseSecret:    []byte("pairwise-secret-for-tests"),
		JWKSAllowLoopback: true, // jwks_uri test servers are httptest servers
	}
	deps := oauth.Deps{
		DB: d, Keys: km, Clients: h.clients, Customers: fakeCustomers{}, Consents: h.consents,
		Pages: testPages{}, DPoPReplay: replay, Now: h.now,
	}
	if mut != nil {
		mut(&cfg, &deps)
	}
	h.srv, err = oauth.New(cfg, deps)
	if err != nil {
		tb.Fatal(err)
	}
	h.srv.Register(e)
	h.client = newTestClient(tb, "app_one", h.ts.URL, h.now)
	h.other = newTestClient(tb, "app_two", h.ts.URL, h.now)
	for i, c := range []*testClient{h.client, h.other} {
		h.clients.put(oauth.Client{
			ID: c.id, Name: "Wallet " + fmt.Sprint(i+1), PartnerID: fmt.Sprintf("ptn_%d", i+1), PartnerName: "Acme Payments",
			Environment: environment.Sandbox, RedirectURIs: []string{redirectURI},
			Scopes: []string{"openid", "accounts", "payments"}, JWKS: c.jwks(), Active: true,
		})
	}
	return h
}

// parForm is a valid pushed authorization request.
func parForm(challenge string) url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {"app_one"},
		"redirect_uri":          {redirectURI},
		"scope":                 {"openid accounts"},
		"state":                 {"state-1234567890"},
		"nonce":                 {"nonce-abc"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
}

// par pushes form (client auth added) and returns the response.
func (h *harness) par(c *testClient, form url.Values, proof string) (*http.Response, map[string]any) {
	return c.post("/par", c.withAuth(form, h.ts.URL), proof)
}

// mustPAR pushes form and returns the request_uri.
func (h *harness) mustPAR(c *testClient, form url.Values) string {
	h.tb.Helper()
	resp, body := h.par(c, form, "")
	if resp.StatusCode != http.StatusCreated {
		h.tb.Fatalf("PAR: %d %v", resp.StatusCode, body)
	}
	return body["request_uri"].(string)
}

// login opens the authorization endpoint and logs alice in; it returns the
// consent page body.
func (h *harness) login(c *testClient, requestURI string) string {
	h.tb.Helper()
	resp, body := c.get("/authorize?" + url.Values{"client_id": {c.id}, "request_uri": {requestURI}}.Encode())
	if resp.StatusCode != http.StatusOK {
		h.tb.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	in, csrf := formFields(h.tb, body)
	resp, body = c.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"login"},
		"username": {"alice"}, "password": {"correct horse"}})
	if resp.StatusCode != http.StatusOK {
		h.tb.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	return body
}

// decide posts the consent form and returns the redirect location.
func (h *harness) decide(c *testClient, consentPage, decision string, extra url.Values) *url.URL {
	h.tb.Helper()
	in, csrf := formFields(h.tb, consentPage)
	form := url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"consent"}, "decision": {decision}}
	for k, v := range extra {
		form[k] = v
	}
	resp, body := c.postPage("/authorize", form)
	if resp.StatusCode != http.StatusSeeOther {
		h.tb.Fatalf("consent: %d %s", resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		h.tb.Fatal(err)
	}
	return u
}

// code runs PAR → authorize → login → consent and returns the code and the
// PKCE verifier.
func (h *harness) code(c *testClient, form url.Values, extra url.Values) (code, verifier string) {
	h.tb.Helper()
	verifier, challenge := pkcePair()
	f := parForm(challenge)
	f.Set("client_id", c.id)
	for k, v := range form {
		f[k] = v
	}
	page := h.login(c, h.mustPAR(c, f))
	loc := h.decide(c, page, "approve", extra)
	code = loc.Query().Get("code")
	if code == "" {
		h.tb.Fatalf("no code in %s", loc)
	}
	return code, verifier
}

// exchange redeems a code at the token endpoint with c's DPoP key.
func (h *harness) exchange(c *testClient, code, verifier string) (*http.Response, map[string]any) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirectURI}}
	return c.post("/token", c.withAuth(form, h.ts.URL+"/token"), c.proof("POST", h.ts.URL+"/token", ""))
}

// clientCredentials gets a client_credentials token.
func (h *harness) clientCredentials(c *testClient) (*http.Response, map[string]any) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}}
	return c.post("/token", c.withAuth(form, h.ts.URL), c.proof("POST", h.ts.URL+"/token", ""))
}

// resource builds a resource request carrying token and a proof by key.
func (h *harness) resource(method, path, scheme, token, proof string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	if token != "" {
		r.Header.Set("Authorization", scheme+" "+token)
	}
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	return r
}
