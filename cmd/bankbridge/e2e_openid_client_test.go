package main

import (
	"encoding/json"
	"testing"
)

// TestE2EOpenIDClient drives the authorization code flow with
// openid-client v6 and its defaults: PAR with PKCE S256 and no state (issue
// 11; refused with invalid_state before), login and consent in chromium, the
// library validating the callback (iss, no state) and the id_token; then
// oauth4webapi validates an RFC 9701 signed introspection response (typ,
// iss, aud = the client, signature against the bank's JWKS). With JARM the
// library asks for response_mode=jwt and verifies the signed response; with
// JAR it pushes only a signed request object (RFC 9101). The id_token and
// the refreshed one say acr ca and amr pwd, a voluntary acr_values sca does
// not block, and an essential acr sca request (claims, in a request object)
// is answered access_denied.
func TestE2EOpenIDClient(t *testing.T) {
	requireE2E(t, true)
	for name, url := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, url(t))
			redirect := "https://wallet.example/callback"
			cid, key := sandboxApp(t, s, redirect, "openid accounts")
			base := map[string]string{"ISSUER": s.URL, "CLIENT_ID": cid, "CLIENT_JWK": key.PrivateJSON(t),
				"REDIRECT_URI": redirect, "USERNAME": "alice", "PASSWORD": "sandbox-password-1",
				"SCOPE": "openid", "CHROMIUM": chromiumPath(), "ARTIFACTS": ""}

			t.Run("ok/authorise without state", func(t *testing.T) {
				env := map[string]string{}
				for k, v := range base {
					env[k] = v
				}
				env["ACR_VALUES"] = "urn:openbanking:psd2:sca" // voluntary: never blocks
				env["REFRESH"] = "1"
				res := runNode(t, "openid-client-flow.mjs", env)
				if res.Error != nil {
					b, _ := json.MarshalIndent(res, "", "  ")
					t.Fatalf("flow failed:\n%s", b)
				}
				checks := []StepCheck{
					{"discovery", "issuer", s.URL},
					{"par", "request_uri", true},
					{"par", "sent_state", false},
					{"callback", "has_iss", true},
					{"callback", "has_state", false},
					{"callback", "has_code", true},
					{"token", "token_type", "dpop"},
					{"token", "has_refresh_token", true},
					{"token", "id_token_aud", cid},
					{"token", "id_token_iss", s.URL},
					{"token", "id_token_acr", "urn:openbanking:psd2:ca"},
					{"token", "id_token_amr", "pwd"},
					{"refresh", "has_id_token", true},
					{"refresh", "same_sub", true},
					{"refresh", "same_auth_time", true},
					{"refresh", "id_token_acr", "urn:openbanking:psd2:ca"},
					{"refresh", "id_token_amr", "pwd"},
					{"signed_introspection", "content_type", "application/token-introspection+jwt"},
					{"signed_introspection", "active", true},
					{"signed_introspection", "client_id", cid},
					{"signed_introspection", "token_type", "dpop"},
				}
				res.Want(t, checks)
			})
			t.Run("ok/authorise with JARM", func(t *testing.T) {
				env := map[string]string{}
				for k, v := range base {
					env[k] = v
				}
				env["JARM"] = "1"
				res := runNode(t, "openid-client-flow.mjs", env)
				if res.Error != nil {
					b, _ := json.MarshalIndent(res, "", "  ")
					t.Fatalf("flow failed:\n%s", b)
				}
				cb, tok := res.Step("callback"), res.Step("token")
				if cb == nil || cb["params"] != "response" || tok == nil || tok["id_token_aud"] != cid {
					t.Fatalf("JARM: want only a signed response at the partner and tokens, got %+v", res.Steps)
				}
			})
			t.Run("ok/authorise with JAR and JARM", func(t *testing.T) {
				env := map[string]string{}
				for k, v := range base {
					env[k] = v
				}
				env["JAR"] = "1"
				env["JARM"] = "1"
				res := runNode(t, "openid-client-flow.mjs", env)
				if res.Error != nil {
					b, _ := json.MarshalIndent(res, "", "  ")
					t.Fatalf("flow failed:\n%s", b)
				}
				par, cb, tok := res.Step("par"), res.Step("callback"), res.Step("token")
				if par == nil || par["pushed"] != "client_id request" || cb == nil || cb["params"] != "response" || tok == nil || tok["id_token_aud"] != cid {
					t.Fatalf("JAR: want only client_id and request pushed, a signed response and tokens, got %+v", res.Steps)
				}
			})
			t.Run("fail/essential acr sca with JAR", func(t *testing.T) {
				env := map[string]string{}
				for k, v := range base {
					env[k] = v
				}
				env["JAR"] = "1"
				env["CLAIMS"] = `{"id_token":{"acr":{"essential":true,"values":["urn:openbanking:psd2:sca"]}}}`
				res := runNode(t, "openid-client-flow.mjs", env)
				st := res.Step("authorization_error")
				const want = "The resource owner or authorization server denied the request. The customer's authentication does not meet the essential acr urn:openbanking:psd2:sca."
				if st == nil || st["error"] != "access_denied" || st["error_description"] != want {
					t.Fatalf("essential acr: want access_denied %q at the partner, got %+v (error %+v)", want, res.Steps, res.Error)
				}
			})
			t.Run("fail/deny with JARM", func(t *testing.T) {
				env := map[string]string{}
				for k, v := range base {
					env[k] = v
				}
				env["JARM"] = "1"
				env["DECISION"] = "deny"
				res := runNode(t, "openid-client-flow.mjs", env)
				cb, st := res.Step("callback"), res.Step("authorization_error")
				if st == nil || st["error"] != "access_denied" || cb == nil || cb["params"] != "response" {
					t.Fatalf("deny: want a signed access_denied at the partner, got %+v (error %+v)", res.Steps, res.Error)
				}
			})
			t.Run("fail/deny without state", func(t *testing.T) {
				env := map[string]string{}
				for k, v := range base {
					env[k] = v
				}
				env["DECISION"] = "deny"
				res := runNode(t, "openid-client-flow.mjs", env)
				cb, st := res.Step("callback"), res.Step("authorization_error")
				if st == nil || st["error"] != "access_denied" || cb == nil || cb["has_state"] != false {
					t.Fatalf("deny: want access_denied without state at the partner, got %+v (error %+v)", res.Steps, res.Error)
				}
			})
		})
	}
}
