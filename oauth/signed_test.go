package oauth_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// serverJWKS fetches the server's published keys.
func serverJWKS(t *testing.T, h *harness) jose.JSONWebKeySet {
	t.Helper()
	resp, err := http.Get(h.ts.URL + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set
}

// verifyServerJWT checks raw's signature against the server's JWKS (ES256
// only), its JWS typ, and returns its claims.
func verifyServerJWT(t *testing.T, h *harness, raw, typ string) map[string]any {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	if got := tok.Headers[0].ExtraHeaders[jose.HeaderType]; got != typ {
		t.Fatalf("typ %v, want %s", got, typ)
	}
	set := serverJWKS(t, h)
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS", tok.Headers[0].KeyID)
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// introspectAccept posts an introspection request with an Accept header and
// returns the response and its raw body.
func introspectAccept(t *testing.T, h *harness, c *testClient, token, accept string) (*http.Response, string) {
	t.Helper()
	form := c.withAuth(url.Values{"token": {token}}, h.ts.URL+"/introspect")
	req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/introspect", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// TestSignedIntrospection: RFC 9701 signed introspection responses, whose
// aud is the calling client, verified with go-jose against the JWKS.
func TestSignedIntrospection(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		c := h.client
		code, verifier := h.code(c, nil, nil)
		_, tok := h.exchange(c, code, verifier)
		access := tok["access_token"].(string)

		for _, tc := range []struct {
			name, accept string
			caller       *testClient
			active       bool
		}{
			{"ok/own token", "application/token-introspection+jwt", c, true},
			{"ok/among other types", "application/json;q=0.5, application/token-introspection+jwt", c, true},
			{"ok/another client's token is inactive, aud is the caller", "application/token-introspection+jwt", h.other, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := time.Now().Unix()
				resp, body := introspectAccept(t, h, tc.caller, access, tc.accept)
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/token-introspection+jwt" {
					t.Fatalf("introspect: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
				}
				claims := verifyServerJWT(t, h, body, "token-introspection+jwt")
				ti, _ := claims["token_introspection"].(map[string]any)
				iat, _ := claims["iat"].(float64)
				if claims["iss"] != h.ts.URL || claims["aud"] != tc.caller.id || int64(iat) < before-1 || int64(iat) > time.Now().Unix()+1 || ti == nil {
					t.Fatalf("claims %v", claims)
				}
				if !tc.active {
					if len(ti) != 1 || ti["active"] != false {
						t.Fatalf("token_introspection %v", ti)
					}
					return
				}
				cnf, _ := ti["cnf"].(map[string]any)
				if ti["active"] != true || ti["client_id"] != c.id || ti["scope"] != "openid accounts" || ti["token_type"] != "DPoP" ||
					cnf["jkt"] != c.jkt() || ti["iss"] != h.ts.URL {
					t.Fatalf("token_introspection %v", ti)
				}
			})
		}
		for _, tc := range []struct{ name, accept string }{
			{"ok/no Accept is plain JSON", ""},
			{"ok/Accept json is plain JSON", "application/json"},
			{"ok/q=0 declines the JWT", "application/token-introspection+jwt;q=0, application/json"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := introspectAccept(t, h, c, access, tc.accept)
				var m map[string]any
				if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
					json.Unmarshal([]byte(body), &m) != nil || m["active"] != true {
					t.Fatalf("introspect: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
				}
			})
		}
	})
}

// jarmClaims checks that loc carries only a "response" JWT signed by the
// server and returns its claims.
func jarmClaims(t *testing.T, h *harness, loc *url.URL) map[string]any {
	t.Helper()
	q := loc.Query()
	if loc.Scheme+"://"+loc.Host+loc.Path != redirectURI || len(q) != 1 || q.Get("response") == "" {
		t.Fatalf("redirect %s: want only a response parameter", loc)
	}
	claims := verifyServerJWT(t, h, q.Get("response"), "JWT")
	exp, _ := claims["exp"].(float64)
	iat, _ := claims["iat"].(float64)
	if claims["iss"] != h.ts.URL || claims["aud"] != h.client.id || exp-iat != 120 || int64(exp) < time.Now().Unix() {
		t.Fatalf("JARM claims %v", claims)
	}
	return claims
}

// TestJARM: response_mode=jwt and query.jwt answer with a signed
// authorization response (success and error), verified with go-jose.
func TestJARM(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		c := h.client
		for _, tc := range []struct {
			name, mode, state string
		}{
			{"ok/jwt with state", "jwt", "state-1234567890"},
			{"ok/query.jwt with state", "query.jwt", "state-1234567890"},
			{"ok/jwt without state", "jwt", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				verifier, ch := pkcePair()
				f := parForm(ch)
				f.Set("response_mode", tc.mode)
				f.Del("state")
				if tc.state != "" {
					f.Set("state", tc.state)
				}
				loc := h.decide(c, h.login(c, h.mustPAR(c, f)), "approve", nil)
				claims := jarmClaims(t, h, loc)
				code, _ := claims["code"].(string)
				want := map[string]bool{"iss": true, "aud": true, "exp": true, "iat": true, "code": true, "scope": true}
				if tc.state != "" {
					want["state"] = true
				}
				for k := range claims {
					if !want[k] {
						t.Fatalf("unexpected claim %s in %v", k, claims)
					}
				}
				if code == "" || (tc.state != "" && claims["state"] != tc.state) {
					t.Fatalf("JARM claims %v", claims)
				}
				if resp, tok := h.exchange(c, code, verifier); resp.StatusCode != http.StatusOK || tok["access_token"] == nil {
					t.Fatalf("token: %d %v", resp.StatusCode, tok)
				}
			})
		}
		t.Run("fail/deny is a signed access_denied", func(t *testing.T) {
			_, ch := pkcePair()
			f := parForm(ch)
			f.Set("response_mode", "jwt")
			loc := h.decide(c, h.login(c, h.mustPAR(c, f)), "deny", nil)
			claims := jarmClaims(t, h, loc)
			if claims["error"] != "access_denied" || claims["state"] != "state-1234567890" || claims["code"] != nil ||
				!strings.Contains(claims["error_description"].(string), "The customer denied the request.") {
				t.Fatalf("JARM claims %v", claims)
			}
		})
		t.Run("fail/fragment.jwt is not supported", func(t *testing.T) {
			_, ch := pkcePair()
			f := parForm(ch)
			f.Set("response_mode", "fragment.jwt")
			resp, body := h.par(c, f, "")
			oauthErr(t, resp, body, 400, "unsupported_response_mode", "Request with unsupported response_mode 'fragment.jwt'.")
		})
	})
}
