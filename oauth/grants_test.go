package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/oauth"
)

func TestClientCredentials(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		c := h.client
		resp, tok := h.clientCredentials(c)
		if resp.StatusCode != 200 || tok["token_type"] != "DPoP" || tok["scope"] != "accounts" || tok["refresh_token"] != nil || tok["expires_in"].(float64) < 295 || tok["expires_in"].(float64) > 300 {
			t.Fatalf("%d %v", resp.StatusCode, tok)
		}
		at := tok["access_token"].(string)
		ac, err := h.srv.VerifyRequest(context.Background(), h.resource("POST", "/partner/usage", "DPoP", at, c.proof("POST", h.ts.URL+"/partner/usage", at)))
		if err != nil {
			t.Fatal(err)
		}
		if ac.CustomerID != "" || ac.ClientID != c.id || ac.PartnerID != "ptn_1" || !ac.HasScope("accounts") || ac.JKT != c.jkt() {
			t.Fatalf("%+v", ac)
		}
		// A scope the client may not use.
		form := c.withAuth(url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, h.ts.URL)
		resp, body := c.post("/token", form, c.proof("POST", h.ts.URL+"/token", ""))
		oauthErr(t, resp, body, 400, "invalid_scope", "The OAuth 2.0 Client is not allowed to request scope 'admin'.")
		// RevokeClient kills the client's tokens.
		if err := h.srv.RevokeClient(context.Background(), c.id); err != nil {
			t.Fatal(err)
		}
		_, err = h.srv.VerifyRequest(context.Background(), h.resource("GET", "/x", "DPoP", at, c.proof("GET", h.ts.URL+"/x", at)))
		wantResourceErr(t, err, "The access token is not active.")
	})
}

func TestDiscoveryAndJWKS(t *testing.T) {
	h := newHarness(t, dbtest.MustSQLite(t), nil)
	for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		resp, err := http.Get(h.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		want := map[string]string{
			"issuer":                                           h.ts.URL,
			"pushed_authorization_request_endpoint":            h.ts.URL + "/par",
			"token_endpoint":                                   h.ts.URL + "/token",
			"authorization_endpoint":                           h.ts.URL + "/authorize",
			"jwks_uri":                                         h.ts.URL + "/jwks.json",
			"introspection_endpoint":                           h.ts.URL + "/introspect",
			"revocation_endpoint":                              h.ts.URL + "/revoke",
			"require_pushed_authorization_requests":            "true",
			"authorization_response_iss_parameter_supported":   "true",
			"code_challenge_methods_supported":                 `["S256"]`,
			"token_endpoint_auth_methods_supported":            `["private_key_jwt"]`,
			"token_endpoint_auth_signing_alg_values_supported": `["ES256","PS256"]`,
			"dpop_signing_alg_values_supported":                `["ES256","PS256"]`,
			"response_types_supported":                         `["code"]`,
			"grant_types_supported":                            `["authorization_code","refresh_token","client_credentials"]`,
			"authorization_details_types_supported":            `["account_access","payment_initiation"]`,
			"subject_types_supported":                          `["pairwise"]`,
			"id_token_signing_alg_values_supported":            `["ES256"]`,
			"acr_values_supported":                             `["urn:openbanking:psd2:ca","urn:openbanking:psd2:sca"]`,
			"claims_supported":                                 `["iss","sub","aud","exp","iat","auth_time","nonce","acr","amr"]`,
			"claims_parameter_supported":                       "true",
			"introspection_endpoint_auth_methods_supported":    `["private_key_jwt"]`,
			"revocation_endpoint_auth_methods_supported":       `["private_key_jwt"]`,
		}
		for k, v := range want {
			got := m[k]
			var s string
			if str, ok := got.(string); ok {
				s = str
			} else {
				b, _ := json.Marshal(got)
				s = string(b)
			}
			if s != v {
				t.Errorf("%s %s = %s, want %s", p, k, s, v)
			}
		}
		if _, ok := m["scopes_supported"].([]any); !ok {
			t.Errorf("%s: no scopes_supported", p)
		}
	}
	resp, err := http.Get(h.ts.URL + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	algs := map[any]bool{}
	for _, k := range set.Keys {
		algs[k["alg"]] = true
		if k["d"] != nil {
			t.Fatal("private key in JWKS")
		}
	}
	if !algs["ES256"] || !algs["PS256"] {
		t.Fatalf("JWKS %v", set)
	}
}

func TestNilConsentBroker(t *testing.T) {
	h := newHarness(t, dbtest.MustSQLite(t), func(_ *oauth.Config, d *oauth.Deps) { d.Consents = nil })
	_, ch := pkcePair()
	f := parForm(ch)
	f.Set("authorization_details", `[{"type":"account_access","consent_id":"cns_1"}]`)
	resp, body := h.par(h.client, f, "")
	oauthErr(t, resp, body, 400, "invalid_authorization_details", "authorization_details type 'account_access' is not supported.")
}

func TestRefreshRotation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, func(c *oauth.Config, _ *oauth.Deps) { c.RotateRefreshTokens = true })
		c := h.client
		refresh := func(rt string) (*http.Response, map[string]any) {
			return c.post("/token", c.withAuth(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, h.ts.URL), c.proof("POST", h.ts.URL+"/token", ""))
		}
		code, ver := h.code(c, nil, nil)
		_, tok := h.exchange(c, code, ver)
		rt0 := tok["refresh_token"].(string)
		resp, t1 := refresh(rt0)
		if resp.StatusCode != 200 || t1["refresh_token"] == nil || t1["refresh_token"] == rt0 {
			t.Fatalf("rotation: %d %v", resp.StatusCode, t1)
		}
		// ok/a retry with the previous token inside the grace window.
		h.advance(10 * time.Second)
		if resp, body := refresh(rt0); resp.StatusCode != 200 {
			t.Fatalf("grace retry: %d %v", resp.StatusCode, body)
		}
		// fail/reuse after the window revokes the whole grant.
		h.advance(30 * time.Second)
		resp, body := refresh(rt0)
		oauthErr(t, resp, body, 400, "invalid_grant", "The refresh token was already used; every token of this grant is now revoked.")
		resp, body = refresh(t1["refresh_token"].(string))
		oauthErr(t, resp, body, 400, "invalid_grant", "The refresh token has been revoked.")
	})
}

func TestRevokeConsent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		c := h.client
		h.consents.add("cns_9")
		code, ver := h.code(c, url.Values{"authorization_details": {`[{"type":"payment_initiation","consent_id":"cns_9"}]`}},
			url.Values{"accounts.cns_9": {"acc_2"}})
		resp, tok := h.exchange(c, code, ver)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %v", resp.StatusCode, tok)
		}
		at := tok["access_token"].(string)
		if _, err := h.srv.VerifyRequest(context.Background(), h.resource("GET", "/p", "DPoP", at, c.proof("GET", h.ts.URL+"/p", at))); err != nil {
			t.Fatal(err)
		}
		if err := h.srv.RevokeConsent(context.Background(), "cns_9"); err != nil {
			t.Fatal(err)
		}
		_, err := h.srv.VerifyRequest(context.Background(), h.resource("GET", "/p", "DPoP", at, c.proof("GET", h.ts.URL+"/p", at)))
		wantResourceErr(t, err, "The access token is not active.")
		resp, body := c.post("/token", c.withAuth(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, h.ts.URL), c.proof("POST", h.ts.URL+"/token", ""))
		oauthErr(t, resp, body, 400, "invalid_grant", "The refresh token has been revoked.")
	})
}

func TestConsentAccountChoice(t *testing.T) {
	h := newHarness(t, dbtest.MustSQLite(t), nil)
	c := h.client
	h.consents.add("cns_p")
	_, ch := pkcePair()
	f := parForm(ch)
	f.Set("authorization_details", `[{"type":"payment_initiation","consent_id":"cns_p"}]`)
	page := h.login(c, h.mustPAR(c, f))
	if !contains(page, `type="radio" name="accounts.cns_p" value="acc_1"`) {
		t.Fatalf("single choice not radios:\n%s", page)
	}
	in, csrf := formFields(t, page)
	// fail/no account chosen: the page comes back with a message.
	resp, body := c.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"consent"}, "decision": {"approve"}})
	if resp.StatusCode != http.StatusBadRequest || !contains(body, "Please choose one account for") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// fail/an account not offered.
	resp, body = c.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"consent"}, "decision": {"approve"}, "accounts.cns_p": {"acc_999"}})
	if resp.StatusCode != http.StatusBadRequest || !contains(body, "Please choose only from the accounts shown.") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// ok/one account.
	loc := h.decide(c, body, "approve", url.Values{"accounts.cns_p": {"acc_2"}})
	if loc.Query().Get("code") == "" || h.consents.decided["cns_p"][0] != "acc_2" {
		t.Fatalf("%s %v", loc, h.consents.decided)
	}
	// fail/the interaction is single use.
	resp, body = c.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"consent"}, "decision": {"approve"}, "accounts.cns_p": {"acc_2"}})
	if resp.StatusCode != http.StatusBadRequest || !contains(body, "This page has expired") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestDPoPNonce(t *testing.T) {
	h := newHarness(t, dbtest.MustSQLite(t), func(c *oauth.Config, _ *oauth.Deps) { c.DPoPRequireNonce = true })
	c := h.client
	tokenURL := h.ts.URL + "/token"
	form := url.Values{"grant_type": {"client_credentials"}}
	resp, body := c.post("/token", c.withAuth(form, h.ts.URL), c.proof("POST", tokenURL, ""))
	oauthErr(t, resp, body, 400, "use_dpop_nonce", "DPoP proof has no nonce; use the DPoP-Nonce the server sent.")
	nonce := resp.Header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("no DPoP-Nonce header")
	}
	resp, tok := c.post("/token", c.withAuth(form, h.ts.URL), proofWith(t, c.dpopKey, "POST", tokenURL, "", nonce, h.now()))
	if resp.StatusCode != 200 || resp.Header.Get("DPoP-Nonce") == "" {
		t.Fatalf("%d %v", resp.StatusCode, tok)
	}
	at := tok["access_token"].(string)
	_, err := h.srv.VerifyRequest(context.Background(), h.resource("GET", "/a", "DPoP", at, c.proof("GET", h.ts.URL+"/a", at)))
	re := wantResourceErrCode(t, err, "use_dpop_nonce", "DPoP proof has no nonce; use the DPoP-Nonce the server sent.")
	if re.(*oauth.ResourceError).DPoPNonce == "" {
		t.Fatal("resource error without nonce")
	}
	if _, err := h.srv.VerifyRequest(context.Background(), h.resource("GET", "/a", "DPoP", at, proofWith(t, c.dpopKey, "GET", h.ts.URL+"/a", at, nonce, h.now()))); err != nil {
		t.Fatal(err)
	}
}

func TestJWKSURI(t *testing.T) {
	h := newHarness(t, dbtest.MustSQLite(t), nil)
	c := h.client
	var fetches atomic.Int32
	keysrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(c.jwks())
	}))
	defer keysrv.Close()
	cl, _ := h.clients.Client(context.Background(), c.id)
	cl.JWKS, cl.JWKSURI = nil, keysrv.URL
	h.clients.put(*cl)
	for i := 0; i < 3; i++ {
		if resp, body := h.clientCredentials(c); resp.StatusCode != 200 {
			t.Fatalf("%d %v", resp.StatusCode, body)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("jwks_uri fetched %d times, want 1 (cached)", n)
	}
	// ok/a new key (unknown kid) is picked up by a refetch after the cache's
	// minimum refetch interval.
	c.key, c.kid = mustEC(t), "k-rotated"
	h.advance(11 * time.Second)
	if resp, body := h.clientCredentials(c); resp.StatusCode != 200 {
		t.Fatalf("after rotation: %d %v", resp.StatusCode, body)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestConcurrentCodeRedemption: of two simultaneous redemptions of one code,
// exactly one gets tokens, and the loser's refusal revokes them (a code
// redeemed twice may have leaked, whichever request came first).
func TestConcurrentCodeRedemption(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		for round := 0; round < 3; round++ {
			code, ver := h.code(h.client, nil, nil)
			type result struct {
				status int
				body   map[string]any
			}
			results := make(chan result, 2)
			for i := 0; i < 2; i++ {
				go func() {
					resp, body := h.exchange(h.client, code, ver)
					results <- result{resp.StatusCode, body}
				}()
			}
			a, b := <-results, <-results
			if a.status == 400 {
				a, b = b, a
			}
			if a.status != 200 || b.status != 400 {
				t.Fatalf("round %d: statuses %d and %d, want one 200 and one 400", round, a.status, b.status)
			}
			if b.body["error"] != "invalid_grant" || b.body["error_description"] == nil {
				t.Fatalf("round %d: loser got %v", round, b.body)
			}
			at := a.body["access_token"].(string)
			_, err := h.srv.VerifyRequest(context.Background(), h.resource("GET", "/accounts", "DPoP", at, h.client.proof("GET", h.ts.URL+"/accounts", at)))
			wantResourceErr(t, err, "The access token is not active.")
		}
	})
}

// TestJWKSURIDestinationPolicy: without JWKSAllowLoopback (production) a
// jwks_uri is fetched only over https from a global address, checked on the
// address dialled, and redirects are not followed.
func TestJWKSURIDestinationPolicy(t *testing.T) {
	redirecting := httptest.NewServer(http.RedirectHandler("https://wallet.example/jwks.json", http.StatusFound))
	defer redirecting.Close()
	tlsKeys := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a forbidden destination was reached")
	}))
	defer tlsKeys.Close()
	strict := func(cfg *oauth.Config, _ *oauth.Deps) { cfg.JWKSAllowLoopback = false }
	for _, tc := range []struct {
		name   string
		mut    func(*oauth.Config, *oauth.Deps)
		uri    string
		detail string
	}{
		{"fail/http", strict, "http://127.0.0.1:1/jwks.json", "jwks_uri must use https"},
		{"fail/loopback", strict, tlsKeys.URL + "/jwks.json", "destination refused: 127.0.0.1 is a loopback address"},
		{"fail/private", strict, "https://10.0.0.1/jwks.json", "destination refused: 10.0.0.1 is a private address"},
		{"fail/cloud metadata", strict, "https://169.254.169.254/latest", "destination refused: 169.254.169.254 is a link-local address"},
		{"fail/carrier-grade NAT", strict, "https://100.64.0.1/jwks.json", "destination refused: 100.64.0.1 is in 100.64.0.0/10 (shared address space, RFC 6598)"},
		{"fail/redirect not followed", nil, redirecting.URL + "/jwks.json", "status 302"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, dbtest.MustSQLite(t), tc.mut)
			c := h.client
			cl, _ := h.clients.Client(context.Background(), c.id)
			cl.JWKS, cl.JWKSURI = nil, tc.uri
			h.clients.put(*cl)
			resp, body := h.clientCredentials(c)
			oauthErr(t, resp, body, 401, "invalid_client", "The client's jwks_uri could not be fetched: "+tc.detail+".")
		})
	}
}
