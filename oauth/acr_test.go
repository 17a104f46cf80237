package oauth_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/oauth"
)

// accessDeniedDescription is fosite's error_description of access_denied
// before the hint.
const accessDeniedDescription = "The resource owner or authorization server denied the request. "

// claimsACR is a claims parameter asking for acr in the id_token.
func claimsACR(essential bool, values ...string) string {
	acr := map[string]any{"essential": essential}
	if len(values) > 0 {
		acr["values"] = values
	}
	b, _ := json.Marshal(map[string]any{"id_token": map[string]any{"acr": acr}})
	return string(b)
}

// TestACR: the id_token says how the customer authenticated (acr, amr);
// acr_values is voluntary; an essential acr request that the customer's
// authentication does not meet ends in access_denied at the redirect, in
// the form and in a signed request object alike.
func TestACR(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		c := h.client
		n := 0
		// run pushes the parameters (in a signed request object when signed;
		// there the claims parameter is a JSON object), with a consent, logs
		// alice in and approves; it returns the redirect, the verifier and
		// the consent id.
		run := func(t *testing.T, params url.Values, signed bool) (*url.URL, string, string) {
			t.Helper()
			n++
			consent := fmt.Sprintf("cns_acr_%d", n)
			h.consents.add(consent)
			verifier, ch := pkcePair()
			f := parForm(ch)
			f.Set("authorization_details", `[{"type":"account_access","consent_id":"`+consent+`"}]`)
			for k, v := range params {
				f[k] = v
			}
			if signed {
				ro := requestObject(h, c, f)
				if cl := f.Get("claims"); cl != "" {
					var obj any
					if err := json.Unmarshal([]byte(cl), &obj); err != nil {
						t.Fatal(err)
					}
					ro["claims"] = obj
				}
				ro["authorization_details"] = []any{map[string]any{"type": "account_access", "consent_id": consent}}
				f = jarForm(c, signJWT(t, jose.ES256, c.key, c.kid, "oauth-authz-req+jwt", ro))
			}
			page := h.login(c, h.mustPAR(c, f))
			return h.decide(c, page, "approve", url.Values{"accounts." + consent: {"acc_1"}}), verifier, consent
		}

		for _, tc := range []struct {
			name   string
			params url.Values
			signed bool
		}{
			{"ok/no acr request", nil, false},
			{"ok/voluntary acr_values sca still succeeds with acr ca", url.Values{"acr_values": {oauth.ACRStrong}}, false},
			{"ok/voluntary acr_values sca ca", url.Values{"acr_values": {oauth.ACRStrong + " " + oauth.ACRPassword}}, false},
			{"ok/voluntary claims acr sca", url.Values{"claims": {claimsACR(false, oauth.ACRStrong)}}, false},
			{"ok/essential claims acr ca", url.Values{"claims": {`{"id_token":{"acr":{"essential":true,"value":"urn:openbanking:psd2:ca"}}}`}}, false},
			{"ok/essential claims acr sca or ca", url.Values{"claims": {claimsACR(true, oauth.ACRStrong, oauth.ACRPassword)}}, false},
			{"ok/essential claims acr without values", url.Values{"claims": {claimsACR(true)}}, false},
			{"ok/essential claims with acr_values ca", url.Values{"claims": {claimsACR(true)}, "acr_values": {oauth.ACRPassword}}, false},
			{"ok/claims for other claims only", url.Values{"claims": {`{"userinfo":{"email":null},"id_token":{"auth_time":{"essential":true},"acr":null}}`}}, false},
			{"ok/signed request object with essential acr ca", url.Values{"claims": {claimsACR(true, oauth.ACRPassword)}}, true},
			{"ok/signed request object with voluntary acr_values sca", url.Values{"acr_values": {oauth.ACRStrong}}, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				loc, verifier, _ := run(t, tc.params, tc.signed)
				q := loc.Query()
				if q.Get("code") == "" || q.Get("error") != "" {
					t.Fatalf("redirect %s", loc)
				}
				resp, tok := h.exchange(c, q.Get("code"), verifier)
				if resp.StatusCode != http.StatusOK || tok["id_token"] == nil {
					t.Fatalf("token: %d %v", resp.StatusCode, tok)
				}
				checkIDToken(t, h, tok["id_token"].(string))
			})
		}

		for _, tc := range []struct {
			name   string
			params url.Values
			signed bool
			hint   string
		}{
			{"fail/essential claims acr sca", url.Values{"claims": {claimsACR(true, oauth.ACRStrong)}}, false,
				"The customer's authentication does not meet the essential acr urn:openbanking:psd2:sca."},
			{"fail/essential claims acr value sca", url.Values{"claims": {`{"id_token":{"acr":{"essential":true,"value":"urn:openbanking:psd2:sca"}}}`}}, false,
				"The customer's authentication does not meet the essential acr urn:openbanking:psd2:sca."},
			{"fail/essential claims values win over acr_values", url.Values{"claims": {claimsACR(true, oauth.ACRStrong)}, "acr_values": {oauth.ACRPassword}}, false,
				"The customer's authentication does not meet the essential acr urn:openbanking:psd2:sca."},
			{"fail/essential claims with acr_values sca", url.Values{"claims": {claimsACR(true)}, "acr_values": {oauth.ACRStrong}}, false,
				"The customer's authentication does not meet the essential acr urn:openbanking:psd2:sca."},
			{"fail/essential unknown acr", url.Values{"claims": {claimsACR(true, "urn:example:loa4", "urn:example:loa3")}}, false,
				"The customer's authentication does not meet the essential acr urn:example:loa4 or urn:example:loa3."},
			{"fail/signed request object with essential acr sca", url.Values{"claims": {claimsACR(true, oauth.ACRStrong)}}, true,
				"The customer's authentication does not meet the essential acr urn:openbanking:psd2:sca."},
		} {
			t.Run(tc.name, func(t *testing.T) {
				loc, _, consent := run(t, tc.params, tc.signed)
				q := loc.Query()
				if q.Get("error") != "access_denied" || q.Get("error_description") != accessDeniedDescription+tc.hint ||
					q.Get("state") != "state-1234567890" || q.Get("iss") != h.ts.URL || q.Has("code") {
					t.Fatalf("redirect %s", loc)
				}
				// The consent is left for another attempt, not authorised.
				h.consents.mu.Lock()
				st := h.consents.status[consent]
				h.consents.mu.Unlock()
				if st != "awaiting" {
					t.Fatalf("consent %s is %q, want awaiting", consent, st)
				}
			})
		}

		t.Run("ok/refresh id_token keeps acr, amr, auth_time and sub, without nonce", func(t *testing.T) {
			loc, verifier, _ := run(t, url.Values{"acr_values": {oauth.ACRStrong}}, false)
			resp, tok := h.exchange(c, loc.Query().Get("code"), verifier)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("token: %d %v", resp.StatusCode, tok)
			}
			first := idTokenClaims(t, h, tok["id_token"].(string))
			h.advance(2e9)
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}
			resp, rt := c.post("/token", c.withAuth(form, h.ts.URL), c.proof("POST", h.ts.URL+"/token", ""))
			if resp.StatusCode != http.StatusOK || rt["id_token"] == nil {
				t.Fatalf("refresh: %d %v", resp.StatusCode, rt)
			}
			again := idTokenClaims(t, h, rt["id_token"].(string))
			for _, k := range []string{"iss", "sub", "aud", "auth_time", "acr"} {
				if again[k] != first[k] {
					t.Errorf("refreshed id_token %s = %v, want %v", k, again[k], first[k])
				}
			}
			if fmt.Sprint(again["amr"]) != "[pwd]" || again["acr"] != oauth.ACRPassword || again["nonce"] != nil ||
				again["iat"].(float64) <= first["iat"].(float64) {
				t.Fatalf("refreshed id_token %v (first %v)", again, first)
			}
		})

		t.Run("ok/refresh without openid has no id_token", func(t *testing.T) {
			code, verifier := h.code(c, url.Values{"scope": {"accounts"}}, nil)
			resp, tok := h.exchange(c, code, verifier)
			if resp.StatusCode != http.StatusOK || tok["id_token"] != nil {
				t.Fatalf("token: %d %v", resp.StatusCode, tok)
			}
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}
			resp, rt := c.post("/token", c.withAuth(form, h.ts.URL), c.proof("POST", h.ts.URL+"/token", ""))
			if resp.StatusCode != http.StatusOK || rt["id_token"] != nil {
				t.Fatalf("refresh: %d %v", resp.StatusCode, rt)
			}
		})
	})
}

// TestACRRequestRefusals: a malformed acr_values or claims parameter is
// invalid_request at PAR, in the form and in a signed request object.
func TestACRRequestRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		c := h.client
		for _, tc := range []struct {
			name   string
			params url.Values
			hint   string
		}{
			{"fail/claims is not JSON", url.Values{"claims": {`{"id_token":`}},
				"The claims parameter must be a JSON object (OpenID Connect Core §5.5)."},
			{"fail/claims is an array", url.Values{"claims": {`[]`}},
				"The claims parameter must be a JSON object (OpenID Connect Core §5.5)."},
			{"fail/claims is null", url.Values{"claims": {`null`}},
				"The claims parameter must be a JSON object (OpenID Connect Core §5.5)."},
			{"fail/claims twice", url.Values{"claims": {claimsACR(true), claimsACR(true)}},
				"The claims parameter may appear only once."},
			{"fail/claims too large", url.Values{"claims": {`{"userinfo":{"x":{"value":"` + strings.Repeat("a", 16<<10) + `"}}}`}},
				"The claims parameter is too large."},
			{"fail/id_token is not an object", url.Values{"claims": {`{"id_token":["acr"]}`}},
				"The claims parameter's member 'id_token' must be a JSON object."},
			{"fail/userinfo is not an object", url.Values{"claims": {`{"userinfo":1}`}},
				"The claims parameter's member 'userinfo' must be a JSON object."},
			{"fail/acr request is a string", url.Values{"claims": {`{"id_token":{"acr":"urn:openbanking:psd2:sca"}}`}},
				"The claims parameter's id_token.acr must be null or a JSON object (with a boolean 'essential')."},
			{"fail/essential is not a boolean", url.Values{"claims": {`{"id_token":{"acr":{"essential":"true"}}}`}},
				"The claims parameter's id_token.acr must be null or a JSON object (with a boolean 'essential')."},
			{"fail/another claim's request is malformed", url.Values{"claims": {`{"id_token":{"acr":null,"email":[1]}}`}},
				"The claims parameter's id_token.email must be null or a JSON object (with a boolean 'essential')."},
			{"fail/acr value is not a string", url.Values{"claims": {`{"id_token":{"acr":{"essential":true,"value":2}}}`}},
				"The claims parameter's id_token.acr 'value' must be a non-empty string."},
			{"fail/acr value is empty", url.Values{"claims": {`{"id_token":{"acr":{"essential":true,"value":""}}}`}},
				"The claims parameter's id_token.acr 'value' must be a non-empty string."},
			{"fail/acr values is empty", url.Values{"claims": {`{"id_token":{"acr":{"essential":true,"values":[]}}}`}},
				"The claims parameter's id_token.acr 'values' must be a non-empty array of non-empty strings."},
			{"fail/acr values holds a number", url.Values{"claims": {`{"id_token":{"acr":{"values":["urn:openbanking:psd2:sca",1]}}}`}},
				"The claims parameter's id_token.acr 'values' must be a non-empty array of non-empty strings."},
			{"fail/acr values is a string", url.Values{"claims": {`{"id_token":{"acr":{"values":"urn:openbanking:psd2:sca"}}}`}},
				"The claims parameter's id_token.acr 'values' must be a non-empty array of non-empty strings."},
			{"fail/acr value and values", url.Values{"claims": {`{"id_token":{"acr":{"value":"a","values":["b"]}}}`}},
				"The claims parameter's id_token.acr may carry 'value' or 'values', not both."},
			{"fail/too many acr values", url.Values{"claims": {claimsACR(true, strings.Split(strings.Repeat("x ", 17), " ")[:17]...)}},
				"The claims parameter's id_token.acr 'values' may name at most 16 values."},
			{"fail/acr_values twice", url.Values{"acr_values": {oauth.ACRStrong, oauth.ACRPassword}},
				"The acr_values parameter may appear only once."},
			{"fail/acr_values names too many values", url.Values{"acr_values": {strings.Repeat("x ", 17)}},
				"The acr_values parameter may name at most 16 values."},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, ch := pkcePair()
				f := parForm(ch)
				for k, v := range tc.params {
					f[k] = v
				}
				resp, body := h.par(c, f, "")
				wantInvalidRequest(t, resp, body, tc.hint)
			})
		}
		t.Run("fail/claims in a request object is not an object", func(t *testing.T) {
			_, ch := pkcePair()
			ro := requestObject(h, c, parForm(ch))
			ro["claims"] = []any{"acr"}
			resp, body := h.par(c, jarForm(c, signJWT(t, jose.ES256, c.key, c.kid, "oauth-authz-req+jwt", ro)), "")
			wantInvalidRequest(t, resp, body, "The claims parameter must be a JSON object (OpenID Connect Core §5.5).")
		})
		t.Run("fail/acr value in a request object is not a string", func(t *testing.T) {
			_, ch := pkcePair()
			ro := requestObject(h, c, parForm(ch))
			ro["claims"] = map[string]any{"id_token": map[string]any{"acr": map[string]any{"essential": true, "value": true}}}
			resp, body := h.par(c, jarForm(c, signJWT(t, jose.ES256, c.key, c.kid, "oauth-authz-req+jwt", ro)), "")
			wantInvalidRequest(t, resp, body, "The claims parameter's id_token.acr 'value' must be a non-empty string.")
		})
	})
}

// wantInvalidRequest asserts a 400 invalid_request whose error_description
// is fosite's description followed by exactly hint.
func wantInvalidRequest(t *testing.T, resp *http.Response, body map[string]any, hint string) {
	t.Helper()
	const desc = "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed. "
	if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" || body["error_description"] != desc+hint {
		t.Fatalf("got %d %v, want invalid_request %q", resp.StatusCode, body, hint)
	}
}
