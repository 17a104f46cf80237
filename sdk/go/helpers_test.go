package bankbridge

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/bankbridge/bankbridge/oauth/dpop"
)

// The unit tests run the SDK against fakeBank: an httptest authorization
// and resource server that checks what the SDK sends with independent code
// (go-jose for client assertions and request objects, the platform's own
// RFC 9449 verifier, oauth/dpop, for DPoP proofs).

// testKey is an app key pair: the private JWK JSON for Config and the public key.
type testKey struct {
	jwk    []byte
	public jose.JSONWebKey
}

func mustECKey(t testing.TB, kid string) *testKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv := jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: "ES256", Use: "sig"}
	b, err := json.Marshal(priv)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{jwk: b, public: priv.Public()}
}

// parEntry is one pushed authorization request, then its code.
type parEntry struct {
	form url.Values
	jkt  string // from the PAR's DPoP proof
}

// recorded is one resource request as the fake bank saw it.
type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

type fakeBank struct {
	t         *testing.T
	srv       *httptest.Server
	clientID  string
	clientKey jose.JSONWebKey
	replay    dpop.ReplayStore
	nonces    *dpop.NonceSource

	mu sync.Mutex
	// Settings a test changes.
	requireNonce   bool   // AS and RS refuse proofs without a valid nonce
	alwaysNonce    bool   // answer use_dpop_nonce whatever the proof carries
	metadataIssuer string // "" means the server's URL
	tokenType      string // "" means DPoP
	noRefresh      bool   // token answers carry no refresh_token
	parError       string // PAR answers this OAuth error
	// What it saw.
	hits      map[string]int
	pars      map[string]*parEntry // request_uri →
	codes     map[string]*parEntry // code →
	tokens    map[string]string    // access token → jkt
	lastForm  url.Values           // last PAR or token form
	requests  []recorded
	resources map[string]func(w http.ResponseWriter, r *http.Request, body []byte)
	seq       int
}

func newFakeBank(t *testing.T, key *testKey) *fakeBank {
	b := &fakeBank{t: t, clientID: "app_test", clientKey: key.public, replay: dpop.NewMemoryReplayStore(),
		nonces: dpop.NewNonceSource([]byte("0123456789abcdef0123456789abcdef"), time.Minute, nil),
		hits:   map[string]int{}, pars: map[string]*parEntry{}, codes: map[string]*parEntry{}, tokens: map[string]string{},
		resources: map[string]func(http.ResponseWriter, *http.Request, []byte){}}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

// client makes an SDK client for this bank.
func (b *fakeBank) client(t *testing.T, key *testKey, mod ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{Issuer: b.srv.URL, ClientID: b.clientID, PrivateJWK: key.jwk}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (b *fakeBank) next(prefix string) string {
	b.seq++
	return fmt.Sprintf("%s_%d", prefix, b.seq)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func oauthErr(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (b *fakeBank) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hits[r.URL.Path]++
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		iss := b.metadataIssuer
		if iss == "" {
			iss = b.srv.URL
		}
		writeJSON(w, 200, map[string]any{"issuer": iss, "authorization_endpoint": b.srv.URL + "/authorize",
			"token_endpoint": b.srv.URL + "/token", "pushed_authorization_request_endpoint": b.srv.URL + "/par",
			"require_pushed_authorization_requests": true, "authorization_response_iss_parameter_supported": true,
			"dpop_signing_alg_values_supported": []string{"ES256", "PS256"}})
	case "/par":
		b.par(w, r)
	case "/token":
		b.token(w, r)
	default:
		b.resource(w, r)
	}
}

// proof verifies the request's DPoP proof with the platform's verifier.
func (b *fakeBank) proof(r *http.Request, opts dpop.VerifyOptions) (*dpop.Proof, error) {
	if b.alwaysNonce {
		return nil, &dpop.Error{Code: dpop.CodeUseNonce, Description: "always"}
	}
	v := &dpop.Verifier{Replay: b.replay, Nonces: b.nonces, RequireNonce: b.requireNonce}
	h, err := dpop.FromHeader(r.Header)
	if err != nil {
		return nil, err
	}
	return v.Verify(r.Context(), h, r.Method, b.srv.URL+r.URL.Path, opts)
}

// asProofError answers a proof refusal at the token or PAR endpoint.
func (b *fakeBank) asProofError(w http.ResponseWriter, err error) {
	var de *dpop.Error
	if errors.As(err, &de) && de.Code == dpop.CodeUseNonce {
		w.Header().Set("DPoP-Nonce", b.nonces.Nonce())
	}
	code := dpop.CodeInvalidProof
	if de != nil {
		code = de.Code
	}
	oauthErr(w, 400, code, err.Error())
}

// clientAuth checks the private_key_jwt assertion with go-jose.
func (b *fakeBank) clientAuth(f url.Values) error {
	if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return errors.New("client_assertion_type")
	}
	tok, err := jwt.ParseSigned(f.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256, jose.PS256})
	if err != nil {
		return err
	}
	if tok.Headers[0].KeyID != b.clientKey.KeyID {
		return fmt.Errorf("kid %q", tok.Headers[0].KeyID)
	}
	var cl jwt.Claims
	if err := tok.Claims(b.clientKey.Key, &cl); err != nil {
		return err
	}
	if err := cl.ValidateWithLeeway(jwt.Expected{Issuer: b.clientID, Subject: b.clientID, AnyAudience: jwt.Audience{b.srv.URL}, Time: time.Now()}, 0); err != nil {
		return err
	}
	if cl.ID == "" || cl.Expiry == nil || cl.IssuedAt == nil || f.Get("client_id") != b.clientID {
		return errors.New("jti, exp, iat and client_id required")
	}
	return nil
}

func (b *fakeBank) par(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	b.lastForm = r.PostForm
	p, err := b.proof(r, dpop.VerifyOptions{})
	if err != nil {
		b.asProofError(w, err)
		return
	}
	if err := b.clientAuth(r.PostForm); err != nil {
		oauthErr(w, 401, "invalid_client", err.Error())
		return
	}
	if b.parError != "" {
		oauthErr(w, 400, b.parError, "refused by the test")
		return
	}
	uri := "urn:ietf:params:oauth:request_uri:" + b.next("req")
	b.pars[uri] = &parEntry{form: r.PostForm, jkt: p.JKT}
	writeJSON(w, 201, map[string]any{"request_uri": uri, "expires_in": 90})
}

// authorize plays the customer's consent: the authorization response for
// request_uri (code, state, iss) as the browser would bring it back.
func (b *fakeBank) authorize(requestURI string) url.Values {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.pars[requestURI]
	if e == nil {
		b.t.Fatalf("unknown request_uri %q", requestURI)
	}
	code := b.next("code")
	b.codes[code] = e
	q := url.Values{"code": {code}, "iss": {b.srv.URL}}
	if st := e.form.Get("state"); st != "" {
		q.Set("state", st)
	}
	return q
}

func (b *fakeBank) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	b.lastForm = r.PostForm
	p, err := b.proof(r, dpop.VerifyOptions{})
	if err != nil {
		b.asProofError(w, err)
		return
	}
	if err := b.clientAuth(r.PostForm); err != nil {
		oauthErr(w, 401, "invalid_client", err.Error())
		return
	}
	f := r.PostForm
	resp := map[string]any{"expires_in": 300, "token_type": "DPoP"}
	if b.tokenType != "" {
		resp["token_type"] = b.tokenType
	}
	switch f.Get("grant_type") {
	case "authorization_code":
		e := b.codes[f.Get("code")]
		if e == nil {
			oauthErr(w, 400, "invalid_grant", "The authorization code is not valid.")
			return
		}
		delete(b.codes, f.Get("code"))
		if CodeChallengeS256(f.Get("code_verifier")) != e.form.Get("code_challenge") {
			oauthErr(w, 400, "invalid_grant", "PKCE verification failed.")
			return
		}
		if e.jkt != p.JKT {
			oauthErr(w, 400, "invalid_dpop_proof", "The DPoP key is not the one of the authorization request.")
			return
		}
		if f.Get("redirect_uri") != e.form.Get("redirect_uri") {
			oauthErr(w, 400, "invalid_grant", "redirect_uri differs.")
			return
		}
		resp["scope"] = e.form.Get("scope")
		var details []map[string]any
		json.Unmarshal([]byte(e.form.Get("authorization_details")), &details)
		for _, d := range details {
			d["accounts"] = []string{"acc_1"}
		}
		resp["authorization_details"] = details
	case "refresh_token":
		if !strings.HasPrefix(f.Get("refresh_token"), "rt_") {
			oauthErr(w, 400, "invalid_grant", "The refresh token is not valid.")
			return
		}
	case "client_credentials":
		resp["scope"] = f.Get("scope")
	default:
		oauthErr(w, 400, "unsupported_grant_type", f.Get("grant_type"))
		return
	}
	at := b.next("at") + ".sig"
	b.tokens[at] = p.JKT
	resp["access_token"] = at
	if !b.noRefresh && f.Get("grant_type") != "client_credentials" {
		resp["refresh_token"] = b.next("rt")
	}
	writeJSON(w, 200, resp)
}

// resource checks Authorization: DPoP and the proof (ath, cnf.jkt), then
// records the request and runs the test's handler for the path.
func (b *fakeBank) resource(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set(HeaderInteractionID, r.Header.Get(HeaderInteractionID))
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	jkt, ok := b.tokens[tok]
	if scheme != "DPoP" || !ok {
		w.Header().Set("WWW-Authenticate", `DPoP error="invalid_token", error_description="The access token is not active."`)
		writeProblem(w, 401, "invalid_token", "The access token is not active.")
		return
	}
	if _, err := b.proof(r, dpop.VerifyOptions{AccessToken: tok, ExpectedJKT: jkt}); err != nil {
		var de *dpop.Error
		if !errors.As(err, &de) {
			de = &dpop.Error{Code: dpop.CodeInvalidProof, Description: err.Error()}
		}
		if de.Code == dpop.CodeUseNonce {
			w.Header().Set("DPoP-Nonce", b.nonces.Nonce())
		}
		w.Header().Set("WWW-Authenticate", `DPoP error="`+de.Code+`", error_description="`+de.Description+`", algs="ES256 PS256"`)
		writeProblem(w, 401, "invalid_dpop_proof", de.Description)
		return
	}
	b.requests = append(b.requests, recorded{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
	if h := b.resources[r.Method+" "+r.URL.Path]; h != nil {
		h(w, r, body)
		return
	}
	writeProblem(w, 404, "not_found", "no route "+r.Method+" "+r.URL.Path)
}

func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "urn:bankbridge:problem:" + code, "title": code, "status": status, "code": code, "detail": detail})
}

// handle sets the handler of a resource route ("GET /path").
func (b *fakeBank) handle(route string, h func(w http.ResponseWriter, r *http.Request, body []byte)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.resources[route] = h
}

func (b *fakeBank) set(f func(b *fakeBank)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

func (b *fakeBank) recordedRequests() []recorded {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]recorded(nil), b.requests...)
}

func (b *fakeBank) hitCount(path string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hits[path]
}

// appToken gets a client_credentials token from the bank.
func appToken(t *testing.T, c *Client) *Token {
	t.Helper()
	tok, err := c.ClientCredentials(context.Background(), "accounts payments")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
