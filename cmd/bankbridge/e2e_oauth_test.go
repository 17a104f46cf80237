package main

import (
	"encoding/json"
	"testing"
)

// sandboxApp creates a partner and a sandbox app through the operator CLI
// (as an operator or a script would) and returns its client_id and key.
func sandboxApp(t *testing.T, s *Server, redirect, scope string) (string, *TestClientKey) {
	t.Helper()
	key := MustClientKey(t)
	partner := runCLI(t, s, "partners", "create", "--name", "E2E Wallet Ltd", "--json")
	pid, _ := partner["id"].(string)
	if pid == "" {
		t.Fatalf("partners create printed no id: %v", partner)
	}
	app := runCLI(t, s, "apps", "create", "--partner", pid, "--env", "sandbox", "--name", "E2E wallet",
		"--redirect-uri", redirect, "--jwks", key.WriteJWKS(t), "--scope", scope, "--json")
	cid, _ := app["client_id"].(string)
	if cid == "" {
		t.Fatalf("apps create printed no client_id: %v", app)
	}
	return cid, key
}

// TestE2EOAuthFlowIndependentClient drives the whole FAPI 2.0 flow with
// oauth4webapi (discovery → PAR with private_key_jwt and DPoP → login and
// consent in chromium → code exchange → DPoP-bound token and id_token validated
// by the library → introspection with cnf.jkt → refresh → revocation).
func TestE2EOAuthFlowIndependentClient(t *testing.T) {
	requireE2E(t, true)
	for name, url := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, url(t))
			redirect := "https://wallet.example/callback"
			cid, key := sandboxApp(t, s, redirect, "openid accounts")
			base := map[string]string{"ISSUER": s.URL, "CLIENT_ID": cid, "CLIENT_JWK": key.PrivateJSON(t),
				"REDIRECT_URI": redirect, "USERNAME": "alice", "PASSWORD": "sandbox-password-1",
				"SCOPE": "openid", "CHROMIUM": chromiumPath(), "ARTIFACTS": artifactsDir(t)}

			t.Run("ok/authorise", func(t *testing.T) {
				res := runNode(t, "oauth-flow.mjs", base)
				if res.Error != nil {
					b, _ := json.MarshalIndent(res, "", "  ")
					t.Fatalf("flow failed:\n%s", b)
				}
				checks := []StepCheck{
					{"discovery", "par_required", true},
					{"discovery", "iss_param", true},
					{"callback", "has_iss", true},
					{"token", "token_type", "dpop"},
					{"token", "has_refresh_token", true},
					{"token", "id_token_aud", cid},
					{"introspection", "active", true},
					{"introspection", "cnf_jkt_matches", true},
					{"introspection", "client_id", cid},
					{"refresh", "token_type", "dpop"},
					{"refresh", "new_access_token", true},
					{"refresh", "rotated_refresh", false},
					{"revocation", "active_after", false},
				}
				res.Want(t, checks)
				if sub, _ := res.Step("token")["id_token_sub"].(string); sub == "" || sub == "alice" {
					t.Errorf("id_token sub %q: want an opaque pairwise identifier", sub)
				}
			})
			t.Run("fail/deny", func(t *testing.T) {
				env := map[string]string{}
				for k, v := range base {
					env[k] = v
				}
				env["DECISION"] = "deny"
				env["ARTIFACTS"] = ""
				res := runNode(t, "oauth-flow.mjs", env)
				st := res.Step("authorization_error")
				if st == nil || st["error"] != "access_denied" {
					t.Fatalf("deny: want access_denied at the partner, got %+v (error %+v)", res.Steps, res.Error)
				}
			})
		})
	}
}
