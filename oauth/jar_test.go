package oauth_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth"
)

// requestObject is a valid request object of c for form's parameters.
func requestObject(h *harness, c *testClient, form url.Values) map[string]any {
	now := h.now()
	claims := map[string]any{
		"iss": c.id, "aud": h.ts.URL, "client_id": c.id,
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": randID(),
	}
	for k := range form {
		claims[k] = form.Get(k)
	}
	return claims
}

// jarForm is the outer PAR form carrying only the request object.
func jarForm(c *testClient, request string) url.Values {
	return url.Values{"client_id": {c.id}, "request": {request}}
}

// TestJAR: signed request objects (RFC 9101) through PAR; their claims
// replace the form parameters; every refusal is invalid_request_object.
func TestJAR(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		c := h.client
		h.consents.add("cns_jar")
		rsaClient := newTestClient(t, "app_rsa", h.ts.URL, h.now)
		rk := rsaKey(t)
		rsaJWKS, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &rk.PublicKey, KeyID: "rsa-1", Use: "sig", Algorithm: "PS256"}}})
		strict := newTestClient(t, "app_strict", h.ts.URL, h.now)
		for _, tc := range []struct {
			cl      *testClient
			jwks    json.RawMessage
			require bool
		}{{rsaClient, rsaJWKS, false}, {strict, strict.jwks(), true}} {
			h.clients.put(oauth.Client{ID: tc.cl.id, Name: "Wallet", PartnerID: "ptn_1", PartnerName: "Acme Payments",
				Environment: environment.Sandbox, RedirectURIs: []string{redirectURI}, Scopes: []string{"openid", "accounts", "payments"},
				JWKS: tc.jwks, Active: true, RequireSignedRequestObject: tc.require})
		}

		t.Run("ok/ES256 request object replaces the form", func(t *testing.T) {
			verifier, ch := pkcePair()
			inner := parForm(ch)
			inner.Set("state", "jar-state-1")
			claims := requestObject(h, c, inner)
			claims["authorization_details"] = []any{map[string]any{"type": "account_access", "consent_id": "cns_jar"}}
			outer := jarForm(c, signJWT(t, jose.ES256, c.key, c.kid, "oauth-authz-req+jwt", claims))
			outer.Set("state", "outer-state-ignored")
			outer.Set("scope", "payments")
			resp, body := h.par(c, outer, "")
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("PAR: %d %v", resp.StatusCode, body)
			}
			loc := h.decide(c, h.login(c, body["request_uri"].(string)), "approve", url.Values{"accounts.cns_jar": {"acc_1"}})
			q := loc.Query()
			if q.Get("state") != "jar-state-1" || q.Get("scope") != "openid accounts" || q.Get("code") == "" {
				t.Fatalf("redirect %s", loc)
			}
			resp, tok := h.exchange(c, q.Get("code"), verifier)
			details, _ := json.Marshal(tok["authorization_details"])
			if resp.StatusCode != http.StatusOK || string(details) != `[{"accounts":["acc_1"],"consent_id":"cns_jar","type":"account_access"}]` {
				t.Fatalf("token: %d %v", resp.StatusCode, tok)
			}
		})
		t.Run("ok/PS256 request object", func(t *testing.T) {
			_, ch := pkcePair()
			f := parForm(ch)
			f.Set("client_id", rsaClient.id)
			ro := signJWT(t, jose.PS256, rk, "rsa-1", "oauth-authz-req+jwt", requestObject(h, rsaClient, f))
			// The client authenticates with its (only) RSA key.
			form := url.Values{"request": {ro}, "client_id": {rsaClient.id},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion": {signJWT(t, jose.PS256, rk, "rsa-1", "", map[string]any{
					"iss": rsaClient.id, "sub": rsaClient.id, "aud": h.ts.URL + "/par", "jti": randID(),
					"iat": h.now().Unix(), "exp": h.now().Add(time.Minute).Unix()})}}
			resp, body := rsaClient.post("/par", form, "")
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("PAR: %d %v", resp.StatusCode, body)
			}
		})
		t.Run("ok/client requiring request objects sends one", func(t *testing.T) {
			_, ch := pkcePair()
			f := parForm(ch)
			f.Set("client_id", strict.id)
			resp, body := h.par(strict, jarForm(strict, signJWT(t, jose.ES256, strict.key, strict.kid, "", requestObject(h, strict, f))), "")
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("PAR: %d %v", resp.StatusCode, body)
			}
		})

		otherKey := mustEC(t)
		for _, tc := range []struct {
			name, hint string
			mut        func(map[string]any)
			sign       func(map[string]any) string
		}{
			{"fail/bad signature", "The request object signature does not verify with the client's registered keys.", nil,
				func(cl map[string]any) string { return signJWT(t, jose.ES256, otherKey, c.kid, "", cl) }},
			{"fail/alg none", "The request object must be a compact JWS signed with one of [ES256 PS256] ('none' is not accepted).", nil,
				func(cl map[string]any) string { return unsignedJWT(cl) }},
			{"fail/HS256", "The request object must be a compact JWS signed with one of [ES256 PS256] ('none' is not accepted).", nil,
				func(cl map[string]any) string {
					return signJWT(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), "", "", cl)
				}},
			{"fail/wrong aud", "Claim 'aud' of the request object must be the issuer '" + h.ts.URL + "'.",
				func(cl map[string]any) { cl["aud"] = h.ts.URL + "/par" }, nil},
			{"fail/no aud", "Claim 'aud' of the request object must be the issuer '" + h.ts.URL + "'.",
				func(cl map[string]any) { delete(cl, "aud") }, nil},
			{"fail/expired", "The request object has expired.",
				func(cl map[string]any) { cl["exp"] = h.now().Add(-time.Second).Unix() }, nil},
			{"fail/no exp", "Claim 'exp' of the request object is missing.",
				func(cl map[string]any) { delete(cl, "exp") }, nil},
			{"fail/no nbf", "Claim 'nbf' of the request object is missing.",
				func(cl map[string]any) { delete(cl, "nbf") }, nil},
			{"fail/lifetime over 60 minutes", "The request object's lifetime (exp - nbf) is longer than 60 minutes.",
				func(cl map[string]any) { cl["exp"] = h.now().Add(61 * time.Minute).Unix() }, nil},
			{"fail/nbf in the future", "The request object is not valid yet (claim 'nbf').",
				func(cl map[string]any) { cl["nbf"] = h.now().Add(time.Minute).Unix() }, nil},
			{"fail/nbf over 60 minutes ago", "Claim 'nbf' of the request object is more than 60 minutes in the past.",
				func(cl map[string]any) { cl["nbf"] = h.now().Add(-61 * time.Minute).Unix() }, nil},
			{"fail/iss another client", "Claim 'iss' of the request object must be the client_id.",
				func(cl map[string]any) { cl["iss"] = h.other.id }, nil},
			{"fail/client_id claim another client", "Claim 'client_id' of the request object must be the client_id.",
				func(cl map[string]any) { cl["client_id"] = h.other.id }, nil},
			{"fail/nested request", "The request object must not contain a 'request' claim.",
				func(cl map[string]any) { cl["request"] = "x" }, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, ch := pkcePair()
				claims := requestObject(h, c, parForm(ch))
				if tc.mut != nil {
					tc.mut(claims)
				}
				sign := tc.sign
				if sign == nil {
					sign = func(cl map[string]any) string { return signJWT(t, jose.ES256, c.key, c.kid, "", cl) }
				}
				resp, body := h.par(c, jarForm(c, sign(claims)), "")
				oauthErr(t, resp, body, 400, "invalid_request_object", tc.hint)
			})
		}
		t.Run("fail/client requiring request objects sends plain parameters", func(t *testing.T) {
			_, ch := pkcePair()
			f := parForm(ch)
			f.Set("client_id", strict.id)
			resp, body := h.par(strict, f, "")
			oauthErr(t, resp, body, 400, "invalid_request", "The client requires signed request objects (require_signed_request_object): push the authorization parameters in a 'request' JWT.")
		})
	})
}
