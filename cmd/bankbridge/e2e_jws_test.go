package main

import (
	"encoding/json"
	"testing"
)

// TestE2EMessageSigning checks UK OB x-jws-signature with the independent
// `jose` npm package against the real server: payment-consent and payment
// responses verify with the bank's published JWK Set; an app created with
// --require-signed-requests is refused without a signature and with a
// tampered one, and accepted when it signs.
func TestE2EMessageSigning(t *testing.T) {
	requireE2E(t, true)
	for name, url := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, url(t))
			redirect := "https://wallet.example/callback"
			key := MustClientKey(t)
			partner := runCLI(t, s, "partners", "create", "--name", "JWS Wallet Ltd", "--json")
			pid, _ := partner["id"].(string)
			app := runCLI(t, s, "apps", "create", "--partner", pid, "--env", "sandbox", "--name", "E2E wallet",
				"--redirect-uri", redirect, "--jwks", key.WriteJWKS(t), "--scope", "openid payments",
				"--require-signed-requests", "--json")
			cid, _ := app["client_id"].(string)
			if cid == "" || app["require_signed_requests"] != true {
				t.Fatalf("apps create --require-signed-requests printed %v", app)
			}
			res := runNode(t, "message-signing.mjs", map[string]string{"ISSUER": s.URL, "CLIENT_ID": cid,
				"CLIENT_JWK": key.PrivateJSON(t), "REDIRECT_URI": redirect, "USERNAME": "alice",
				"PASSWORD": "sandbox-password-1", "CHROMIUM": chromiumPath(), "ARTIFACTS": artifactsDir(t)})
			if res.Error != nil {
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Fatalf("flow failed:\n%s", b)
			}
			crit := "http://openbanking.org.uk/iat http://openbanking.org.uk/iss http://openbanking.org.uk/tan"
			checks := []StepCheck{
				{"unsigned_refused", "status", 400.0},
				{"unsigned_refused", "code", "invalid_jws_signature"},
				{"unsigned_refused", "ob", "UK.OBIE.Signature.Missing"},
				{"unsigned_refused", "detail", "this app must sign its requests: the x-jws-signature header is required"},
				{"unsigned_refused", "response_verified", true},
				{"tampered_refused", "status", 400.0},
				{"tampered_refused", "code", "invalid_jws_signature"},
				{"tampered_refused", "ob", "UK.OBIE.Signature.Invalid"},
				{"tampered_refused", "detail", `the signature does not verify over the request body with key "` + key.Private.KeyID + `"`},
				{"payment_consent", "status", 201.0},
				{"payment_consent", "ok", true},
				{"payment_consent", "iss", s.URL},
				{"payment_consent", "crit", crit},
				{"payment_consent", "typ", "JOSE"},
				{"payment", "status", 201.0},
				{"payment", "ok", true},
				{"payment", "alg", "PS256"},
				{"payment", "tampered_response_verified", false},
				{"payment", "tampered_error", "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"},
				{"payment_get", "status", 200.0},
				{"payment_get", "ok", true},
			}
			res.Want(t, checks)
		})
	}
}
