package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

// flowPartner is a sandbox app driving real servers over HTTP the way a
// partner does (private_key_jwt, DPoP, PAR), without a browser: the
// customer's login and consent pages are posted as forms. Proofs and
// assertions name issuer (htu, aud), so with several nodes started with
// one --issuer (behind one load balancer) a request may go to any node.
type flowPartner struct {
	tb     testing.TB
	issuer string
	id     string
	key    *TestClientKey
	dpop   *ecdsa.PrivateKey
	hc     *http.Client
}

// newFlowPartner creates a partner and a sandbox app (scope accounts) on s
// through the operator CLI.
func newFlowPartner(t *testing.T, s *Server, issuer string) *flowPartner {
	t.Helper()
	return newFlowPartnerScope(t, s, issuer, "accounts")
}

// newFlowPartnerScope is newFlowPartner with the app's scope.
func newFlowPartnerScope(t *testing.T, s *Server, issuer, scope string) *flowPartner {
	t.Helper()
	redirect := "https://wallet.example/cb"
	cid, key := sandboxApp(t, s, redirect, scope)
	d, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &flowPartner{tb: t, issuer: issuer, id: cid, key: key, dpop: d, hc: &http.Client{Timeout: 30 * time.Second}}
}

// proof is a fresh DPoP proof for method and the issuer's path, with ath
// when token is set.
func (p *flowPartner) proof(method, path, token string) string {
	return p.proofJTI(method, path, token, uuid.NewString())
}

// proofJTI is proof with the given jti.
func (p *flowPartner) proofJTI(method, path, token, jti string) string {
	claims := map[string]any{"jti": jti, "htm": method, "htu": p.issuer + path, "iat": time.Now().Unix()}
	if token != "" {
		h := sha256.Sum256([]byte(token))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(h[:])
	}
	return signClaims(p.tb, jose.SigningKey{Algorithm: jose.ES256, Key: p.dpop},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), claims)
}

// authenticated adds a fresh private_key_jwt client assertion to form.
func (p *flowPartner) authenticated(form url.Values) url.Values {
	now := time.Now()
	form.Set("client_id", p.id)
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", signClaims(p.tb, jose.SigningKey{Algorithm: jose.ES256, Key: p.key.Private}, &jose.SignerOptions{},
		map[string]any{"iss": p.id, "sub": p.id, "aud": p.issuer, "jti": uuid.NewString(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}))
	return form
}

// post sends form to base+path with the DPoP proof (none when empty) and
// returns the status, the headers and the JSON body.
func (p *flowPartner) post(base, path string, form url.Values, proof string) (int, http.Header, map[string]any) {
	p.tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	return p.do(req)
}

// call makes a resource request to base+path with token and proof (a fresh
// one when proof is empty).
func (p *flowPartner) call(base, method, path, token, proof string, body any) (int, http.Header, map[string]any) {
	p.tb.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-idempotency-key", uuid.NewString())
	}
	if proof == "" {
		proof = p.proof(method, path, token)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "DPoP "+token)
	req.Header.Set("DPoP", proof)
	return p.do(req)
}

func (p *flowPartner) do(req *http.Request) (int, http.Header, map[string]any) {
	p.tb.Helper()
	resp, err := p.hc.Do(req)
	if err != nil {
		p.tb.Fatal(err)
	}
	defer resp.Body.Close()
	// Read to the end: the handler has returned (and written what it
	// writes after the response) once the last byte is sent.
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.tb.Fatal(err)
	}
	var out map[string]any
	json.Unmarshal(b, &out)
	return resp.StatusCode, resp.Header, out
}

// clientCredentials gets a client_credentials token (scope accounts) at base.
func (p *flowPartner) clientCredentials(base string) string {
	p.tb.Helper()
	st, _, body := p.post(base, "/token", p.authenticated(url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}}),
		p.proof(http.MethodPost, "/token", ""))
	tok, _ := body["access_token"].(string)
	if st != http.StatusOK || tok == "" {
		p.tb.Fatalf("client_credentials: %d %v", st, body)
	}
	return tok
}

// accountConsent creates an account-access consent at base.
func (p *flowPartner) accountConsent(base string) string {
	p.tb.Helper()
	cc := p.clientCredentials(base)
	st, _, body := p.call(base, http.MethodPost, "/open-banking/v3.1/aisp/account-access-consents", cc, "", map[string]any{
		"Data": map[string]any{"Permissions": []string{"ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail",
			"ReadTransactionsCredits", "ReadTransactionsDebits"}}, "Risk": map[string]any{}})
	data, _ := body["Data"].(map[string]any)
	id, _ := data["ConsentId"].(string)
	if st != http.StatusCreated || id == "" {
		p.tb.Fatalf("create consent: %d %v", st, body)
	}
	return id
}

var (
	formField    = regexp.MustCompile(`name="(csrf_token|interaction)" value="([^"]*)"`)
	accountField = regexp.MustCompile(`<input type="(?:checkbox|radio)" name="(accounts\.[^"]+)" value="([^"]+)"([^>]*)>`)
)

// fields returns the hidden csrf_token and interaction of a page.
func fields(tb testing.TB, page string) url.Values {
	tb.Helper()
	out := url.Values{}
	for _, m := range formField.FindAllStringSubmatch(page, -1) {
		out.Set(m[1], m[2])
	}
	if out.Get("csrf_token") == "" || out.Get("interaction") == "" {
		tb.Fatalf("no csrf_token/interaction in\n%s", page)
	}
	return out
}

// codeFlow runs the authorization code flow for consentID at base as the
// sandbox customer alice: PAR (DPoP-bound), authorize GET (login page), login
// POST (consent page), consent POST (every account ticked) and the code
// exchange. mark, when set, is called before each of those steps with its
// name (par, authorize, login, consent, token).
func (p *flowPartner) codeFlow(base, consentID string, mark func(step string)) string {
	p.tb.Helper()
	return p.codeFlowFor(base, "accounts", "account_access", consentID, mark)
}

// codeFlowFor is codeFlow for a consent of detailType (account_access,
// payment_initiation) under scope; of a radio group (a payment's debtor
// account) the first enabled choice is taken.
func (p *flowPartner) codeFlowFor(base, scope, detailType, consentID string, mark func(step string)) string {
	p.tb.Helper()
	redirect := "https://wallet.example/cb"
	ver := make([]byte, 32)
	rand.Read(ver)
	verifier := base64.RawURLEncoding.EncodeToString(ver)
	sum := sha256.Sum256([]byte(verifier))
	details, _ := json.Marshal([]map[string]any{{"type": detailType, "consent_id": consentID}})
	form := p.authenticated(url.Values{"response_type": {"code"}, "redirect_uri": {redirect}, "scope": {scope},
		"state": {"st-" + uuid.NewString()}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}, "authorization_details": {string(details)}})
	parProof := p.proof(http.MethodPost, "/par", "")
	if mark == nil {
		mark = func(string) {}
	}
	mark("par")
	st, _, par := p.post(base, "/par", form, parProof)
	requestURI, _ := par["request_uri"].(string)
	if st != http.StatusCreated || requestURI == "" {
		p.tb.Fatalf("PAR: %d %v", st, par)
	}
	loc := formConsent(p.tb, base+"/authorize?"+url.Values{"client_id": {p.id}, "request_uri": {requestURI}}.Encode(),
		"alice", "sandbox-password-1", mark)
	cb, _ := url.Parse(loc)
	code := ""
	if cb != nil {
		code = cb.Query().Get("code")
	}
	if code == "" {
		p.tb.Fatalf("consent: no code in %s", loc)
	}
	tokenForm := p.authenticated(url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirect}, "code_verifier": {verifier}})
	tokenProof := p.proof(http.MethodPost, "/token", "")
	mark("token")
	st, _, tok := p.post(base, "/token", tokenForm, tokenProof)
	at, _ := tok["access_token"].(string)
	if st != http.StatusOK || at == "" {
		p.tb.Fatalf("code exchange: %d %v", st, tok)
	}
	return at
}

// formConsent is the customer at authURL (the authorization endpoint with
// a pushed request) without a browser: the login page's form posted with
// username and password, then the consent page's with every enabled account
// ticked (the first of radio buttons) and "approve". It returns the redirect back to the partner. mark,
// when set, is called before each step (authorize, login, consent).
func formConsent(tb testing.TB, authURL, username, password string, mark func(step string)) string {
	tb.Helper()
	if mark == nil {
		mark = func(string) {}
	}
	base := authURL[:strings.Index(authURL, "/authorize")]
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := func(resp *http.Response, err error) (int, string, string) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	mark("authorize")
	st, _, login := page(browser.Get(authURL))
	if st != http.StatusOK {
		tb.Fatalf("authorize: %d\n%s", st, login)
	}
	lf := fields(tb, login)
	lf.Set("step", "login")
	lf.Set("username", username)
	lf.Set("password", password)
	mark("login")
	st, _, consent := page(browser.PostForm(base+"/authorize", lf))
	if st != http.StatusOK || !strings.Contains(consent, ">Authorise</button>") {
		tb.Fatalf("login: %d\n%s", st, consent)
	}
	cf := fields(tb, consent)
	cf.Set("step", "consent")
	cf.Set("decision", "approve")
	for _, m := range accountField.FindAllStringSubmatch(consent, -1) {
		radioChosen := strings.Contains(m[0], `type="radio"`) && cf.Has(m[1]) // one account per payment: the first
		if !strings.Contains(m[3], "disabled") && !radioChosen {
			cf.Add(m[1], m[2])
		}
	}
	mark("consent")
	st, loc, body := page(browser.PostForm(base+"/authorize", cf))
	if st != http.StatusSeeOther || loc == "" {
		tb.Fatalf("consent: %d %s\n%s", st, loc, body)
	}
	return loc
}

// firstAccount lists the consented accounts at base and returns the first id.
func (p *flowPartner) firstAccount(base, token string) string {
	p.tb.Helper()
	st, _, body := p.call(base, http.MethodGet, "/open-banking/v3.1/aisp/accounts", token, "", nil)
	data, _ := body["Data"].(map[string]any)
	accts, _ := data["Account"].([]any)
	if st != http.StatusOK || len(accts) == 0 {
		p.tb.Fatalf("accounts: %d %v", st, body)
	}
	id, _ := accts[0].(map[string]any)["AccountId"].(string)
	return id
}
