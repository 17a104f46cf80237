package oauth_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/oauth"
)

// TestRefusals: every refusal answers the exact OAuth error and hint.
func TestRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		c := h.client
		tokenURL := h.ts.URL + "/token"
		// reset puts the clock back after a case moved it.
		reset := func(t *testing.T) { t.Cleanup(func() { h.offset.Store(0) }) }

		cases := []struct {
			name string
			run  func(t *testing.T)
		}{
			{"fail/authorize without PAR", func(t *testing.T) {
				_, challenge := pkcePair()
				q := parForm(challenge)
				resp, body := c.get("/authorize?" + q.Encode())
				errorPage(t, resp, body, http.StatusBadRequest, "invalid_request", "Pushed Authorization Requests are enforced but no such request was sent.")
			}},
			{"fail/PKCE plain", func(t *testing.T) {
				f := parForm("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
				f.Set("code_challenge_method", "plain")
				resp, body := h.par(c, f, "")
				oauthErr(t, resp, body, 400, "invalid_request", "Clients must use code_challenge_method=S256, plain is not allowed.")
			}},
			{"fail/PKCE missing", func(t *testing.T) {
				f := parForm("")
				f.Del("code_challenge")
				f.Del("code_challenge_method")
				resp, body := h.par(c, f, "")
				oauthErr(t, resp, body, 400, "invalid_request", "Clients must include a code_challenge when performing the authorize code flow, but it is missing.")
			}},
			{"fail/response_type token", func(t *testing.T) {
				_, ch := pkcePair()
				f := parForm(ch)
				f.Set("response_type", "token")
				resp, body := h.par(c, f, "")
				oauthErr(t, resp, body, 400, "unsupported_response_type", "")
			}},
			{"fail/wrong redirect URI at PAR", func(t *testing.T) {
				_, ch := pkcePair()
				f := parForm(ch)
				f.Set("redirect_uri", "https://wallet.example/cb/other")
				resp, body := h.par(c, f, "")
				oauthErr(t, resp, body, 400, "invalid_request", "The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect urls.")
			}},
			{"fail/wrong redirect URI at token", func(t *testing.T) {
				code, ver := h.code(c, nil, nil)
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {ver}, "redirect_uri": {redirectURI + "/x"}}
				resp, body := c.post("/token", c.withAuth(form, tokenURL), c.proof("POST", tokenURL, ""))
				oauthErr(t, resp, body, 400, "invalid_grant", "The 'redirect_uri' from this request does not match the one from the authorize request.")
			}},
			{"fail/wrong PKCE verifier", func(t *testing.T) {
				code, _ := h.code(c, nil, nil)
				other, _ := pkcePair()
				resp, body := h.exchange(c, code, other)
				oauthErr(t, resp, body, 400, "invalid_grant", "The PKCE code challenge did not match the code verifier.")
			}},
			{"fail/wrong htu", func(t *testing.T) {
				resp, body := c.post("/token", c.withAuth(url.Values{"grant_type": {"client_credentials"}}, h.ts.URL), c.proof("POST", h.ts.URL+"/other", ""))
				oauthErr(t, resp, body, 400, "invalid_dpop_proof", "htu does not match the request URL.")
			}},
			{"fail/wrong htm", func(t *testing.T) {
				resp, body := c.post("/token", c.withAuth(url.Values{"grant_type": {"client_credentials"}}, h.ts.URL), c.proof("GET", tokenURL, ""))
				oauthErr(t, resp, body, 400, "invalid_dpop_proof", "htm does not match the request method.")
			}},
			{"fail/missing DPoP proof", func(t *testing.T) {
				resp, body := c.post("/token", c.withAuth(url.Values{"grant_type": {"client_credentials"}}, h.ts.URL), "")
				oauthErr(t, resp, body, 400, "invalid_dpop_proof", "missing DPoP header.")
			}},
			{"fail/replayed DPoP proof", func(t *testing.T) {
				p := c.proof("POST", tokenURL, "")
				if resp, body := c.post("/token", c.withAuth(url.Values{"grant_type": {"client_credentials"}}, h.ts.URL), p); resp.StatusCode != 200 {
					t.Fatalf("first use: %d %v", resp.StatusCode, body)
				}
				resp, body := c.post("/token", c.withAuth(url.Values{"grant_type": {"client_credentials"}}, h.ts.URL), p)
				oauthErr(t, resp, body, 400, "invalid_dpop_proof", "DPoP proof jti has been used before.")
			}},
			{"fail/access token with another key's proof", func(t *testing.T) {
				_, tok := h.clientCredentials(c)
				at := tok["access_token"].(string)
				p := proofWith(t, mustEC(t), "GET", h.ts.URL+"/accounts", at, "", h.now())
				_, err := h.srv.VerifyRequest(context.Background(), h.resource("GET", "/accounts", "DPoP", at, p))
				re := wantResourceErrCode(t, err, "invalid_dpop_proof", "DPoP proof key does not match the key the access token is bound to.")
				_ = re
			}},
			{"fail/wrong ath", func(t *testing.T) {
				_, tok := h.clientCredentials(c)
				at := tok["access_token"].(string)
				p := c.proof("GET", h.ts.URL+"/accounts", "some-other-token")
				_, err := h.srv.VerifyRequest(context.Background(), h.resource("GET", "/accounts", "DPoP", at, p))
				wantResourceErrCode(t, err, "invalid_dpop_proof", "ath does not match the access token.")
			}},
			{"fail/resource wrong htu", func(t *testing.T) {
				_, tok := h.clientCredentials(c)
				at := tok["access_token"].(string)
				p := c.proof("GET", h.ts.URL+"/payments", at)
				_, err := h.srv.VerifyRequest(context.Background(), h.resource("GET", "/accounts", "DPoP", at, p))
				wantResourceErrCode(t, err, "invalid_dpop_proof", "htu does not match the request URL.")
			}},
			{"fail/Bearer scheme for a DPoP token", func(t *testing.T) {
				_, tok := h.clientCredentials(c)
				at := tok["access_token"].(string)
				_, err := h.srv.VerifyRequest(context.Background(), h.resource("GET", "/accounts", "Bearer", at, c.proof("GET", h.ts.URL+"/accounts", at)))
				wantResourceErr(t, err, "The access token is DPoP-bound: use the DPoP authorization scheme, not Bearer.")
			}},
			{"fail/forged access token", func(t *testing.T) {
				at := "AAAA.BBBB"
				_, err := h.srv.VerifyRequest(context.Background(), h.resource("GET", "/accounts", "DPoP", at, c.proof("GET", h.ts.URL+"/accounts", at)))
				wantResourceErr(t, err, "The access token is not valid.")
			}},
			{"fail/expired access token", func(t *testing.T) {
				reset(t)
				_, tok := h.clientCredentials(c)
				at := tok["access_token"].(string)
				h.advance(5*time.Minute + time.Second)
				_, err := h.srv.VerifyRequest(context.Background(), h.resource("GET", "/accounts", "DPoP", at, c.proof("GET", h.ts.URL+"/accounts", at)))
				wantResourceErr(t, err, "The access token has expired.")
			}},
			{"fail/replayed client assertion", func(t *testing.T) {
				form := c.withAuth(url.Values{"grant_type": {"client_credentials"}}, h.ts.URL)
				if resp, body := c.post("/token", form, c.proof("POST", tokenURL, "")); resp.StatusCode != 200 {
					t.Fatalf("first use: %d %v", resp.StatusCode, body)
				}
				resp, body := c.post("/token", form, c.proof("POST", tokenURL, ""))
				oauthErr(t, resp, body, 401, "invalid_client", "Claim 'jti' of the client_assertion was already used; every assertion must be used once only.")
			}},
			{"fail/assertion alg none", func(t *testing.T) {
				a := unsignedJWT(map[string]any{"iss": c.id, "sub": c.id, "aud": h.ts.URL, "jti": randID(), "exp": h.now().Add(time.Minute).Unix()})
				assertRefused(t, h, c, a, "The client_assertion uses signing algorithm 'none'; only ES256 and PS256 are accepted.")
			}},
			{"fail/assertion alg HS256", func(t *testing.T) {
				a := signJWT(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), c.kid, "", map[string]any{"iss": c.id, "sub": c.id, "aud": h.ts.URL, "jti": randID(), "exp": h.now().Add(time.Minute).Unix()})
				assertRefused(t, h, c, a, "The client_assertion uses signing algorithm 'HS256'; only ES256 and PS256 are accepted.")
			}},
			{"fail/assertion alg RS256", func(t *testing.T) {
				a := signJWT(t, jose.RS256, rsaKey(t), c.kid, "", map[string]any{"iss": c.id, "sub": c.id, "aud": h.ts.URL, "jti": randID(), "exp": h.now().Add(time.Minute).Unix()})
				assertRefused(t, h, c, a, "The client_assertion uses signing algorithm 'RS256'; only ES256 and PS256 are accepted.")
			}},
			{"fail/assertion signed by another key", func(t *testing.T) {
				a := signJWT(t, jose.ES256, mustEC(t), c.kid, "", map[string]any{"iss": c.id, "sub": c.id, "aud": h.ts.URL, "jti": randID(), "exp": h.now().Add(time.Minute).Unix()})
				assertRefused(t, h, c, a, "The client_assertion signature does not verify with the client's registered keys.")
			}},
			{"fail/assertion wrong aud", func(t *testing.T) {
				a := c.assertion("https://elsewhere.example", nil)
				assertRefused(t, h, c, a, "Claim 'aud' of the client_assertion must be the issuer '"+h.ts.URL+"' or the URL of the endpoint called.")
			}},
			{"fail/assertion iat too far in the future", func(t *testing.T) {
				a := c.assertion(h.ts.URL, func(m map[string]any) { m["iat"] = h.now().Add(20 * time.Second).Unix() })
				assertRefused(t, h, c, a, "Claim 'iat' of the client_assertion is in the future.")
			}},
			{"ok/assertion iat 5 s in the future, aud token endpoint", func(t *testing.T) {
				a := c.assertion(tokenURL, func(m map[string]any) {
					m["iat"] = h.now().Add(5 * time.Second).Unix()
					m["nbf"] = h.now().Add(5 * time.Second).Unix()
				})
				form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
				if resp, body := c.post("/token", form, c.proof("POST", tokenURL, "")); resp.StatusCode != 200 {
					t.Fatalf("%d %v", resp.StatusCode, body)
				}
			}},
			{"ok/assertion PS256", func(t *testing.T) {
				rk := rsaKey(t)
				set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: rk.Public(), KeyID: "rsa-1", Use: "sig", Algorithm: "PS256"}}})
				h.clients.put(oauth.Client{ID: "app_rsa", PartnerID: "ptn_9", RedirectURIs: []string{redirectURI}, Scopes: []string{"accounts"}, JWKS: set, Active: true})
				a := signJWT(t, jose.PS256, rk, "rsa-1", "", map[string]any{"iss": "app_rsa", "sub": "app_rsa", "aud": h.ts.URL, "jti": randID(), "exp": h.now().Add(time.Minute).Unix()})
				form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
				if resp, body := c.post("/token", form, c.proof("POST", tokenURL, "")); resp.StatusCode != 200 {
					t.Fatalf("%d %v", resp.StatusCode, body)
				}
			}},
			{"fail/client secret", func(t *testing.T) {
				form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.id}, "client_secret": {"s3cret"}}
				resp, body := c.post("/token", form, c.proof("POST", tokenURL, ""))
				oauthErr(t, resp, body, 401, "invalid_client", "Only private_key_jwt client authentication is accepted; client secrets are not.")
			}},
			{"fail/password grant", func(t *testing.T) {
				form := c.withAuth(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"x"}}, h.ts.URL)
				resp, body := c.post("/token", form, c.proof("POST", tokenURL, ""))
				oauthErr(t, resp, body, 400, "unsupported_grant_type", "The grant_type 'password' is not supported; use authorization_code, refresh_token or client_credentials.")
			}},
			{"fail/reused code revokes the first tokens", func(t *testing.T) {
				code, ver := h.code(c, nil, nil)
				resp, first := h.exchange(c, code, ver)
				if resp.StatusCode != 200 {
					t.Fatalf("first: %d %v", resp.StatusCode, first)
				}
				resp, body := h.exchange(c, code, ver)
				oauthErr(t, resp, body, 400, "invalid_grant", "The authorization code has already been used.")
				at := first["access_token"].(string)
				_, err := h.srv.VerifyRequest(context.Background(), h.resource("GET", "/accounts", "DPoP", at, c.proof("GET", h.ts.URL+"/accounts", at)))
				wantResourceErr(t, err, "The access token is not active.")
				rform := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)}}
				resp, body = c.post("/token", c.withAuth(rform, h.ts.URL), c.proof("POST", tokenURL, ""))
				oauthErr(t, resp, body, 400, "invalid_grant", "The refresh token has been revoked.")
			}},
			{"fail/code used after 60 s", func(t *testing.T) {
				reset(t)
				code, ver := h.code(c, nil, nil)
				h.advance(61 * time.Second)
				resp, body := h.exchange(c, code, ver)
				oauthErr(t, resp, body, 400, "invalid_grant", "The authorization code has expired.")
			}},
			{"fail/expired request_uri", func(t *testing.T) {
				reset(t)
				_, ch := pkcePair()
				ru := h.mustPAR(c, parForm(ch))
				h.advance(61 * time.Second)
				resp, body := c.get("/authorize?" + url.Values{"client_id": {c.id}, "request_uri": {ru}}.Encode())
				errorPage(t, resp, body, http.StatusBadRequest, "invalid_request_uri", "Invalid PAR session")
			}},
			{"fail/request_uri used twice", func(t *testing.T) {
				_, ch := pkcePair()
				ru := h.mustPAR(c, parForm(ch))
				q := "/authorize?" + url.Values{"client_id": {c.id}, "request_uri": {ru}}.Encode()
				if resp, body := c.get(q); resp.StatusCode != 200 {
					t.Fatalf("first: %d %s", resp.StatusCode, body)
				}
				resp, body := c.get(q)
				errorPage(t, resp, body, http.StatusBadRequest, "invalid_request_uri", "Invalid PAR session")
			}},
			{"fail/request_uri of another client", func(t *testing.T) {
				_, ch := pkcePair()
				ru := h.mustPAR(c, parForm(ch))
				resp, body := c.get("/authorize?" + url.Values{"client_id": {"app_two"}, "request_uri": {ru}}.Encode())
				errorPage(t, resp, body, http.StatusBadRequest, "invalid_request", "The 'client_id' must match the one sent in the pushed authorization request.")
			}},
			{"fail/dpop_jkt mismatch at token", func(t *testing.T) {
				code, ver := h.code(c, url.Values{"dpop_jkt": {thumb(t, mustEC(t))}}, nil)
				resp, body := h.exchange(c, code, ver)
				oauthErr(t, resp, body, 400, "invalid_dpop_proof", "The DPoP proof key is not the key the authorization code is bound to (dpop_jkt).")
			}},
			{"ok/dpop_jkt match", func(t *testing.T) {
				code, ver := h.code(c, url.Values{"dpop_jkt": {c.jkt()}}, nil)
				if resp, body := h.exchange(c, code, ver); resp.StatusCode != 200 {
					t.Fatalf("%d %v", resp.StatusCode, body)
				}
			}},
			{"fail/dpop_jkt differs from the PAR proof", func(t *testing.T) {
				_, ch := pkcePair()
				f := parForm(ch)
				f.Set("dpop_jkt", thumb(t, mustEC(t)))
				resp, body := h.par(c, f, c.proof("POST", h.ts.URL+"/par", ""))
				oauthErr(t, resp, body, 400, "invalid_dpop_proof", "The dpop_jkt parameter does not match the key of the DPoP proof.")
			}},
			{"fail/refresh token presented by another client", func(t *testing.T) {
				code, ver := h.code(c, nil, nil)
				_, tok := h.exchange(c, code, ver)
				o := h.other
				rform := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}
				resp, body := o.post("/token", o.withAuth(rform, h.ts.URL), o.proof("POST", tokenURL, ""))
				oauthErr(t, resp, body, 400, "invalid_grant", "The refresh token was issued to another client.")
			}},
			{"fail/refresh with another DPoP key", func(t *testing.T) {
				code, ver := h.code(c, nil, nil)
				_, tok := h.exchange(c, code, ver)
				rform := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}
				resp, body := c.post("/token", c.withAuth(rform, h.ts.URL), proofWith(t, mustEC(t), "POST", tokenURL, "", "", h.now()))
				oauthErr(t, resp, body, 400, "invalid_dpop_proof", "The DPoP proof key is not the key the refresh token is bound to.")
			}},
			{"fail/inactive client", func(t *testing.T) {
				_, tok := h.clientCredentials(c)
				at := tok["access_token"].(string)
				h.clients.setActive(c.id, false)
				defer h.clients.setActive(c.id, true)
				_, ch := pkcePair()
				resp, body := h.par(c, parForm(ch), "")
				oauthErr(t, resp, body, 401, "invalid_client", "The client is not active.")
				resp, body = h.clientCredentials(c)
				oauthErr(t, resp, body, 401, "invalid_client", "The client is not active.")
				_, err := h.srv.VerifyRequest(context.Background(), h.resource("GET", "/accounts", "DPoP", at, c.proof("GET", h.ts.URL+"/accounts", at)))
				wantResourceErr(t, err, "The client the access token was issued to is no longer active.")
			}},
			{"fail/deny gives access_denied", func(t *testing.T) {
				_, ch := pkcePair()
				page := h.login(c, h.mustPAR(c, parForm(ch)))
				loc := h.decide(c, page, "deny", nil)
				q := loc.Query()
				if q.Get("error") != "access_denied" || q.Get("state") != "state-1234567890" || q.Get("iss") != h.ts.URL ||
					!strings.Contains(q.Get("error_description"), "The customer denied the request.") || q.Get("code") != "" {
					t.Fatalf("redirect %s", loc)
				}
			}},
			{"fail/consent the bank rejects gives access_denied", func(t *testing.T) {
				h.consents.mu.Lock()
				h.consents.status["cns_rejects"] = "bank-rejects"
				h.consents.mu.Unlock()
				_, ch := pkcePair()
				f := parForm(ch)
				f.Set("authorization_details", `[{"type":"account_access","consent_id":"cns_rejects"}]`)
				page := h.login(c, h.mustPAR(c, f))
				loc := h.decide(c, page, "approve", url.Values{"accounts.cns_rejects": {"acc_1"}})
				q := loc.Query()
				if q.Get("error") != "access_denied" || q.Get("iss") != h.ts.URL || q.Get("code") != "" ||
					!strings.Contains(q.Get("error_description"), "The bank rejected the consent.") {
					t.Fatalf("redirect %s", loc)
				}
			}},
			{"fail/unknown consent in authorization_details", func(t *testing.T) {
				_, ch := pkcePair()
				f := parForm(ch)
				f.Set("authorization_details", `[{"type":"account_access","consent_id":"cns_nope"}]`)
				resp, body := h.par(c, f, "")
				oauthErr(t, resp, body, 400, "invalid_authorization_details", "consent 'cns_nope' does not exist or does not await authorisation")
			}},
			{"fail/unsupported authorization_details type", func(t *testing.T) {
				_, ch := pkcePair()
				f := parForm(ch)
				f.Set("authorization_details", `[{"type":"crypto_trading"}]`)
				resp, body := h.par(c, f, "")
				oauthErr(t, resp, body, 400, "invalid_authorization_details", "authorization_details type 'crypto_trading' is not supported.")
			}},
			{"fail/malformed authorization_details", func(t *testing.T) {
				_, ch := pkcePair()
				f := parForm(ch)
				f.Set("authorization_details", `{"type":"account_access"}`)
				resp, body := h.par(c, f, "")
				oauthErr(t, resp, body, 400, "invalid_authorization_details", "authorization_details must be a JSON array of objects.")
			}},
			{"fail/request object", func(t *testing.T) {
				_, ch := pkcePair()
				f := parForm(ch)
				f.Set("request", "eyJ.eyJ.sig")
				resp, body := h.par(c, f, "")
				oauthErr(t, resp, body, 400, "invalid_request_object", "The request object must be a compact JWS signed with one of [ES256 PS256] ('none' is not accepted).")
			}},
			{"fail/login CSRF missing", func(t *testing.T) {
				_, ch := pkcePair()
				ru := h.mustPAR(c, parForm(ch))
				_, page := c.get("/authorize?" + url.Values{"client_id": {c.id}, "request_uri": {ru}}.Encode())
				in, _ := formFields(t, page)
				resp, body := c.postPage("/authorize", url.Values{"interaction": {in}, "step": {"login"}, "username": {"alice"}, "password": {"correct horse"}})
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "This page has expired") {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
			}},
			{"fail/login throttled after 5 failures", func(t *testing.T) {
				_, ch := pkcePair()
				ru := h.mustPAR(c, parForm(ch))
				_, page := c.get("/authorize?" + url.Values{"client_id": {c.id}, "request_uri": {ru}}.Encode())
				in, csrf := formFields(t, page)
				try := func(pw string) (*http.Response, string) {
					return c.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"login"}, "username": {"Bob"}, "password": {pw}})
				}
				for i := 0; i < 4; i++ {
					resp, body := try("wrong")
					if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "The username or password is not right.") {
						t.Fatalf("attempt %d: %d %s", i+1, resp.StatusCode, body)
					}
				}
				for _, pw := range []string{"wrong", "battery staple"} {
					resp, body := try(pw)
					if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "blocked for 15 minutes") {
						t.Fatalf("%s: %d %s", pw, resp.StatusCode, body)
					}
				}
			}},
			{"fail/customer locked by the bank", func(t *testing.T) {
				_, ch := pkcePair()
				ru := h.mustPAR(c, parForm(ch))
				_, page := c.get("/authorize?" + url.Values{"client_id": {c.id}, "request_uri": {ru}}.Encode())
				in, csrf := formFields(t, page)
				resp, body := c.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"login"}, "username": {"carol"}, "password": {"x"}})
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Your online banking access is blocked. Please contact the bank.") {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				h.tb, c.tb, h.other.tb = t, t, t
				tc.run(t)
			})
		}
	})
}

func assertRefused(t *testing.T, h *harness, c *testClient, assertion, hint string) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	resp, body := c.post("/token", form, c.proof("POST", h.ts.URL+"/token", ""))
	oauthErr(t, resp, body, 401, "invalid_client", hint)
}

func errorPage(t *testing.T, resp *http.Response, body string, status int, code, hint string) {
	t.Helper()
	body = html.UnescapeString(body)
	if resp.StatusCode != status || !strings.Contains(body, `<p id="code">`+code+`</p>`) || !strings.Contains(body, hint) {
		t.Fatalf("got %d %s, want %d %s %q", resp.StatusCode, body, status, code, hint)
	}
}

func wantResourceErrCode(t *testing.T, err error, code, desc string) error {
	t.Helper()
	re := wantResourceErr(t, err, desc)
	if re.Code != code || !strings.HasPrefix(re.WWWAuthenticate, `DPoP error="`+code+`"`) {
		t.Fatalf("code %q header %q, want %s", re.Code, re.WWWAuthenticate, code)
	}
	return re
}
