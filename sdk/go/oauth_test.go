package bankbridge

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/bankbridge/bankbridge/oauth/dpop"
)

var ctx = context.Background()

func TestDiscovery(t *testing.T) {
	key := mustECKey(t, "k1")
	t.Run("ok/cached", func(t *testing.T) {
		b := newFakeBank(t, key)
		c := b.client(t, key)
		for range 3 {
			md, err := c.Discover(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if md.PushedAuthorizationRequestEndpoint != b.srv.URL+"/par" || !md.AuthorizationResponseISSParameter {
				t.Fatalf("metadata %+v", md)
			}
		}
		if n := b.hitCount("/.well-known/openid-configuration"); n != 1 {
			t.Fatalf("discovery fetched %d times, want once", n)
		}
	})
	t.Run("fail/issuer-mismatch", func(t *testing.T) {
		b := newFakeBank(t, key)
		b.set(func(b *fakeBank) { b.metadataIssuer = "https://evil.example" })
		c := b.client(t, key)
		_, err := c.Discover(ctx)
		if !errors.Is(err, ErrIssuerMismatch) || !strings.Contains(err.Error(), `discovery names issuer "https://evil.example"`) {
			t.Fatalf("err %v, want ErrIssuerMismatch", err)
		}
		// A failure is not cached: once the document is right, it works.
		b.set(func(b *fakeBank) { b.metadataIssuer = "" })
		if _, err := c.Discover(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// parForm runs PushAuthorization and returns the pending authorization and
// the form the bank received.
func parForm(t *testing.T, b *fakeBank, c *Client, ar AuthorizationRequest) (*PendingAuthorization, url.Values) {
	t.Helper()
	p, err := c.PushAuthorization(ctx, ar)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return p, b.pars[p.RequestURI].form
}

func TestPushAuthorization(t *testing.T) {
	key := mustECKey(t, "k1")
	b := newFakeBank(t, key)
	c := b.client(t, key)
	details := []AuthorizationDetail{{Type: DetailAccountAccess, ConsentID: "cns_1"}}
	ar := AuthorizationRequest{RedirectURI: "https://wallet.example/cb", Scope: "openid accounts", AuthorizationDetails: details}

	t.Run("ok/body", func(t *testing.T) {
		p, f := parForm(t, b, c, ar)
		want := map[string]string{"response_type": "code", "client_id": "app_test", "redirect_uri": "https://wallet.example/cb",
			"scope": "openid accounts", "code_challenge_method": "S256", "code_challenge": CodeChallengeS256(p.CodeVerifier),
			"authorization_details": `[{"consent_id":"cns_1","type":"account_access"}]`, "state": p.State}
		for k, v := range want {
			if got := f.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(p.CodeVerifier) {
			t.Errorf("code verifier %q: want 43 base64url characters (RFC 7636 §4.1)", p.CodeVerifier)
		}
		if len(p.State) < 32 {
			t.Errorf("state %q: want a long random value", p.State)
		}
		if f.Has("request") || f.Has("nonce") {
			t.Errorf("unexpected parameters: %v", f)
		}
		// The code is bound to the DPoP key (proof at PAR, RFC 9449 §10).
		b.mu.Lock()
		jkt := b.pars[p.RequestURI].jkt
		b.mu.Unlock()
		if jkt != c.DPoPThumbprint() || p.DPoPJKT != jkt {
			t.Errorf("PAR proof jkt %q, client %q, pending %q", jkt, c.DPoPThumbprint(), p.DPoPJKT)
		}
		u, _ := url.Parse(p.URL)
		if u.Path != "/authorize" || u.Query().Get("client_id") != "app_test" || u.Query().Get("request_uri") != p.RequestURI || len(u.Query()) != 2 {
			t.Errorf("authorization URL %s", p.URL)
		}
		if d := time.Until(p.ExpiresAt); d < 80*time.Second || d > 91*time.Second {
			t.Errorf("expires at %v, want in 90s", p.ExpiresAt)
		}
	})
	t.Run("ok/omit-state", func(t *testing.T) {
		a := ar
		a.OmitState = true
		p, f := parForm(t, b, c, a)
		if f.Has("state") || p.State != "" {
			t.Fatalf("state sent: %v", f)
		}
	})
	t.Run("ok/given-state-and-nonce", func(t *testing.T) {
		a := ar
		a.State, a.Nonce = "my-state-123", "n-456"
		a.Extra = url.Values{"prompt": {"login"}}
		p, f := parForm(t, b, c, a)
		if f.Get("state") != "my-state-123" || p.State != "my-state-123" || f.Get("nonce") != "n-456" || f.Get("prompt") != "login" {
			t.Fatalf("form %v", f)
		}
	})
	t.Run("fail/refused", func(t *testing.T) {
		b.set(func(b *fakeBank) { b.parError = "invalid_authorization_details" })
		defer b.set(func(b *fakeBank) { b.parError = "" })
		_, err := c.PushAuthorization(ctx, ar)
		var oe *OAuthError
		if !errors.As(err, &oe) || oe.Code != "invalid_authorization_details" || oe.Description != "refused by the test" || oe.StatusCode != 400 {
			t.Fatalf("err %#v", err)
		}
	})
	t.Run("fail/no-redirect-uri", func(t *testing.T) {
		_, err := c.PushAuthorization(ctx, AuthorizationRequest{Scope: "accounts"})
		if err == nil || err.Error() != "bankbridge: AuthorizationRequest.RedirectURI is required" {
			t.Fatalf("err %v", err)
		}
	})
}

// TestJAR: with SignedRequestObjects the parameters travel in a request
// object, checked here with go-jose (cmd/bankbridge TestSDKEndToEnd sends it to the real platform).
func TestJAR(t *testing.T) {
	key := mustECKey(t, "k-jar")
	b := newFakeBank(t, key)
	c := b.client(t, key, func(cfg *Config) { cfg.SignedRequestObjects = true })
	p, f := parForm(t, b, c, AuthorizationRequest{RedirectURI: "https://wallet.example/cb", Scope: "openid payments",
		AuthorizationDetails: []AuthorizationDetail{{Type: DetailPaymentInitiation, ConsentID: "pcn_1"}}})
	for k := range f {
		switch k {
		case "request", "client_id", "client_assertion", "client_assertion_type":
		default:
			t.Errorf("parameter %q outside the request object", k)
		}
	}
	obj, err := jwt.ParseSigned(f.Get("request"), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if typ := obj.Headers[0].ExtraHeaders["typ"]; typ != "oauth-authz-req+jwt" || obj.Headers[0].KeyID != "k-jar" {
		t.Fatalf("header typ %v kid %q", typ, obj.Headers[0].KeyID)
	}
	var std jwt.Claims
	var cl struct {
		ResponseType         string                `json:"response_type"`
		ClientID             string                `json:"client_id"`
		RedirectURI          string                `json:"redirect_uri"`
		Scope                string                `json:"scope"`
		State                string                `json:"state"`
		CodeChallenge        string                `json:"code_challenge"`
		CodeChallengeMethod  string                `json:"code_challenge_method"`
		AuthorizationDetails []AuthorizationDetail `json:"authorization_details"`
	}
	if err := obj.Claims(key.public.Key, &std, &cl); err != nil {
		t.Fatal(err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: "app_test", AnyAudience: jwt.Audience{b.srv.URL}, Time: time.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	if std.ID == "" || std.NotBefore == nil || std.Expiry.Time().Sub(std.NotBefore.Time()) > time.Hour {
		t.Fatalf("jti %q nbf %v exp %v: FAPI 2.0 Message Signing wants exp - nbf ≤ 60 min", std.ID, std.NotBefore, std.Expiry)
	}
	if cl.ResponseType != "code" || cl.ClientID != "app_test" || cl.RedirectURI != "https://wallet.example/cb" || cl.Scope != "openid payments" ||
		cl.State != p.State || cl.CodeChallenge != CodeChallengeS256(p.CodeVerifier) || cl.CodeChallengeMethod != "S256" ||
		len(cl.AuthorizationDetails) != 1 || cl.AuthorizationDetails[0].ConsentID != "pcn_1" {
		t.Fatalf("claims %+v", cl)
	}
	// A tampered request object does not verify.
	parts := strings.Split(f.Get("request"), ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "pcn_1", "pcn_2", 1)))
	bad, err := jwt.ParseSigned(strings.Join(parts, "."), []jose.SignatureAlgorithm{jose.ES256})
	if err == nil {
		err = bad.Claims(key.public.Key, &std)
	}
	if err == nil {
		t.Fatal("tampered request object verified")
	}
}

func TestExchangeCode(t *testing.T) {
	key := mustECKey(t, "k1")
	b := newFakeBank(t, key)
	c := b.client(t, key)
	ar := AuthorizationRequest{RedirectURI: "https://wallet.example/cb", Scope: "openid accounts",
		AuthorizationDetails: []AuthorizationDetail{{Type: DetailAccountAccess, ConsentID: "cns_9"}}}
	cases := []struct {
		name   string
		mutate func(q url.Values)
		want   error
	}{
		{"ok/code", nil, nil},
		{"fail/no-iss", func(q url.Values) { q.Del("iss") }, ErrIssuerMismatch},
		{"fail/other-iss", func(q url.Values) { q.Set("iss", "https://evil.example") }, ErrIssuerMismatch},
		{"fail/other-state", func(q url.Values) { q.Set("state", "forged") }, ErrStateMismatch},
		{"fail/no-state", func(q url.Values) { q.Del("state") }, ErrStateMismatch},
		{"fail/no-code", func(q url.Values) { q.Del("code") }, ErrMissingCode},
		{"fail/denied", func(q url.Values) {
			q.Del("code")
			q.Set("error", "access_denied")
			q.Set("error_description", "The customer declined.")
		}, &OAuthError{Code: "access_denied"}},
		// RFC 9207: iss is checked before the error is believed.
		{"fail/denied-other-iss", func(q url.Values) {
			q.Del("code")
			q.Set("error", "access_denied")
			q.Set("iss", "https://evil.example")
		}, ErrIssuerMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := c.PushAuthorization(ctx, ar)
			if err != nil {
				t.Fatal(err)
			}
			q := b.authorize(p.RequestURI)
			if tc.mutate != nil {
				tc.mutate(q)
			}
			tok, err := c.ExchangeCode(ctx, p, q)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				var oe *OAuthError
				if errors.As(err, &oe) && (oe.Description != "The customer declined." || oe.StatusCode != 0) {
					t.Fatalf("oauth error %+v", oe)
				}
				if n := len(b.codes); n == 0 {
					t.Fatal("the code was redeemed although the response was refused")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "DPoP" || tok.RefreshToken == "" || tok.Scope != "openid accounts" || tok.ConsentID(DetailAccountAccess) != "cns_9" {
				t.Fatalf("token %+v", tok)
			}
			if got := string(tok.AuthorizationDetails[0].Extra["accounts"]); got != `["acc_1"]` {
				t.Fatalf("authorization detail extra %q", got)
			}
			f := b.lastForm
			if f.Get("grant_type") != "authorization_code" || f.Get("code_verifier") != p.CodeVerifier || f.Get("redirect_uri") != p.RedirectURI {
				t.Fatalf("token form %v", f)
			}
		})
	}
	t.Run("fail/omitted-state-is-fine-without-one", func(t *testing.T) {
		a := ar
		a.OmitState = true
		p, err := c.PushAuthorization(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		q := b.authorize(p.RequestURI)
		q.Set("state", "injected")
		if _, err := c.ExchangeCode(ctx, p, q); !errors.Is(err, ErrStateMismatch) {
			t.Fatalf("a state where none was sent: err %v", err)
		}
		q.Del("state")
		if _, err := c.ExchangeCode(ctx, p, q); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fail/other-dpop-key", func(t *testing.T) {
		p, err := c.PushAuthorization(ctx, ar)
		if err != nil {
			t.Fatal(err)
		}
		other := b.client(t, key) // a fresh DPoP key
		_, err = other.ExchangeCode(ctx, p, b.authorize(p.RequestURI))
		var oe *OAuthError
		if !errors.As(err, &oe) || oe.Code != "invalid_dpop_proof" || oe.StatusCode != 400 {
			t.Fatalf("err %v", err)
		}
	})
}

func TestTokenGrants(t *testing.T) {
	key := mustECKey(t, "k1")
	b := newFakeBank(t, key)
	c := b.client(t, key)
	t.Run("ok/client-credentials", func(t *testing.T) {
		tok, err := c.ClientCredentials(ctx, "accounts payments")
		if err != nil {
			t.Fatal(err)
		}
		if b.lastForm.Get("scope") != "accounts payments" || b.lastForm.Get("grant_type") != "client_credentials" || tok.RefreshToken != "" {
			t.Fatalf("form %v token %+v", b.lastForm, tok)
		}
		if d := time.Until(tok.ExpiresAt); d < 290*time.Second || d > 301*time.Second || tok.Expired(time.Now()) || !tok.Expired(time.Now().Add(295*time.Second)) {
			t.Fatalf("expires at %v", tok.ExpiresAt)
		}
	})
	t.Run("ok/refresh", func(t *testing.T) {
		tok, err := c.Refresh(ctx, "rt_old")
		if err != nil || tok.RefreshToken == "rt_old" || tok.RefreshToken == "" {
			t.Fatalf("rotated: %+v %v", tok, err)
		}
		b.set(func(b *fakeBank) { b.noRefresh = true })
		defer b.set(func(b *fakeBank) { b.noRefresh = false })
		tok, err = c.Refresh(ctx, "rt_old")
		if err != nil || tok.RefreshToken != "rt_old" {
			t.Fatalf("not rotated: %+v %v", tok, err)
		}
	})
	t.Run("fail/refresh-invalid", func(t *testing.T) {
		_, err := c.Refresh(ctx, "bogus")
		if !errors.Is(err, &OAuthError{Code: "invalid_grant"}) || err.Error() != "bankbridge: oauth error invalid_grant: The refresh token is not valid." {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("fail/bearer", func(t *testing.T) {
		b.set(func(b *fakeBank) { b.tokenType = "Bearer" })
		defer b.set(func(b *fakeBank) { b.tokenType = "" })
		if _, err := c.ClientCredentials(ctx, "accounts"); !errors.Is(err, ErrNotDPoPBound) {
			t.Fatalf("err %v", err)
		}
	})
}

// TestDPoPProof: the proofs the SDK makes pass the platform's RFC 9449
// verifier (in fakeBank) and have the documented shape.
func TestDPoPProof(t *testing.T) {
	key := mustECKey(t, "k1")
	b := newFakeBank(t, key)
	c := b.client(t, key)
	u, _ := url.Parse(b.srv.URL + "/open-banking/v3.1/aisp/accounts?x=1#frag")
	proof, err := c.dpopProof("GET", u, "at_1.sig")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(proof, ".")
	var hdr map[string]any
	var claims map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(hb, &hdr)
	json.Unmarshal(cb, &claims)
	jwk, _ := hdr["jwk"].(map[string]any)
	if hdr["typ"] != "dpop+jwt" || hdr["alg"] != "ES256" || jwk["kty"] != "EC" || jwk["d"] != nil || len(hdr) != 3 {
		t.Fatalf("header %v", hdr)
	}
	if claims["htm"] != "GET" || claims["htu"] != b.srv.URL+"/open-banking/v3.1/aisp/accounts" || claims["ath"] != dpop.AccessTokenHash("at_1.sig") ||
		claims["jti"] == "" || claims["iat"] == nil || claims["nonce"] != nil {
		t.Fatalf("claims %v", claims)
	}
	// The thumbprint the platform computes is the SDK's.
	var pub jose.JSONWebKey
	jb, _ := json.Marshal(jwk)
	if err := pub.UnmarshalJSON(jb); err != nil {
		t.Fatal(err)
	}
	tp, _ := pub.Thumbprint(crypto.SHA256)
	if base64.RawURLEncoding.EncodeToString(tp) != c.DPoPThumbprint() {
		t.Fatal("thumbprint differs from go-jose's")
	}
	// Two proofs never share a jti.
	p2, _ := c.dpopProof("GET", u, "at_1.sig")
	if p2 == proof {
		t.Fatal("proof reused")
	}
}

func TestDPoPNonceRetry(t *testing.T) {
	key := mustECKey(t, "k1")
	t.Run("ok/token-endpoint", func(t *testing.T) {
		b := newFakeBank(t, key)
		b.set(func(b *fakeBank) { b.requireNonce = true })
		c := b.client(t, key)
		if _, err := c.ClientCredentials(ctx, "accounts"); err != nil {
			t.Fatal(err)
		}
		if n := b.hitCount("/token"); n != 2 {
			t.Fatalf("token endpoint hit %d times, want 2 (use_dpop_nonce, then success)", n)
		}
		// The nonce is remembered: the next call needs one attempt.
		if _, err := c.ClientCredentials(ctx, "accounts"); err != nil || b.hitCount("/token") != 3 {
			t.Fatalf("second call: %v, hits %d", err, b.hitCount("/token"))
		}
	})
	t.Run("ok/par", func(t *testing.T) {
		b := newFakeBank(t, key)
		b.set(func(b *fakeBank) { b.requireNonce = true })
		c := b.client(t, key)
		if _, err := c.PushAuthorization(ctx, AuthorizationRequest{RedirectURI: "https://w.example/cb", Scope: "accounts"}); err != nil {
			t.Fatal(err)
		}
		if n := b.hitCount("/par"); n != 2 {
			t.Fatalf("PAR hit %d times, want 2", n)
		}
	})
	t.Run("ok/resource-server", func(t *testing.T) {
		b := newFakeBank(t, key)
		c := b.client(t, key)
		tok := appToken(t, c)
		b.handle("POST /open-banking/v3.1/pisp/domestic-payment-consents", func(w http.ResponseWriter, r *http.Request, body []byte) {
			writeJSON(w, 201, map[string]any{"Data": map[string]any{"ConsentId": "pcn_1", "Status": "AwaitingAuthorisation"}})
		})
		// The resource server starts asking for nonces (its own, RFC 9449 §9).
		b.set(func(b *fakeBank) { b.requireNonce = true })
		res, err := c.API(tok).CreateDomesticPaymentConsent(ctx, OBWriteDomesticConsent4{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Data.ConsentId != "pcn_1" {
			t.Fatalf("%+v", res)
		}
		if n := b.hitCount("/open-banking/v3.1/pisp/domestic-payment-consents"); n != 2 {
			t.Fatalf("hit %d times, want 2", n)
		}
	})
	t.Run("fail/asked-twice", func(t *testing.T) {
		b := newFakeBank(t, key)
		c := b.client(t, key)
		tok := appToken(t, c)
		b.set(func(b *fakeBank) { b.alwaysNonce = true })
		_, err := c.ClientCredentials(ctx, "accounts")
		var oe *OAuthError
		if !errors.As(err, &oe) || oe.Code != "use_dpop_nonce" || b.hitCount("/token") != 3 {
			t.Fatalf("token: err %v, hits %d (want 1 + 2 attempts)", err, b.hitCount("/token"))
		}
		_, err = c.API(tok).Accounts(ctx)
		var p *Problem
		if !errors.As(err, &p) || p.Status != 401 || p.Challenge != "use_dpop_nonce" || b.hitCount("/open-banking/v3.1/aisp/accounts") != 2 {
			t.Fatalf("resource: err %v, hits %d", err, b.hitCount("/open-banking/v3.1/aisp/accounts"))
		}
	})
}
