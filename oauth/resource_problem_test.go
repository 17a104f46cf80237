package oauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestAbortResource pins how every partner API renders a resource refusal:
// status, problem code, title, and the WWW-Authenticate and DPoP-Nonce
// headers taken from the refusal.
func TestAbortResource(t *testing.T) {
	const tokenAuth = `DPoP error="invalid_token", error_description="The access token has expired.", algs="ES256 PS256"`
	const proofAuth = `DPoP error="invalid_dpop_proof", error_description="bad proof.", algs="ES256 PS256"`
	const nonceAuth = `DPoP error="use_dpop_nonce", error_description="nonce needed.", algs="ES256 PS256"`
	cases := []struct {
		name                          string
		re                            *ResourceError
		status                        int
		code, title, wwwAuth, dpNonce string
	}{
		{"fail/invalid_token", &ResourceError{Status: 401, Code: "invalid_token", Description: "The access token has expired.", WWWAuthenticate: tokenAuth},
			401, "invalid_token", "Invalid access token", tokenAuth, ""},
		{"fail/no-token", &ResourceError{Status: 401, Code: "invalid_token", Description: "No access token.", WWWAuthenticate: `DPoP algs="ES256 PS256"`},
			401, "invalid_token", "Invalid access token", `DPoP algs="ES256 PS256"`, ""},
		{"fail/invalid_dpop_proof", &ResourceError{Status: 401, Code: "invalid_dpop_proof", Description: "bad proof.", WWWAuthenticate: proofAuth},
			401, "invalid_dpop_proof", "Invalid DPoP proof", proofAuth, ""},
		{"fail/use_dpop_nonce", &ResourceError{Status: 401, Code: "use_dpop_nonce", Description: "nonce needed.", WWWAuthenticate: nonceAuth, DPoPNonce: "n-1"},
			401, "invalid_dpop_proof", "Invalid DPoP proof", nonceAuth, "n-1"},
		{"fail/insufficient_scope", InsufficientScope("payments"),
			403, "insufficient_scope", "Insufficient scope",
			`DPoP error="insufficient_scope", error_description="the access token lacks scope payments", scope="payments"`, ""},
		{"fail/invalid_request", &ResourceError{Status: 400, Code: "invalid_request", Description: "two DPoP headers."},
			400, "invalid_request", "Invalid request", "", ""},
		{"fail/server_error", &ResourceError{Status: 500, Code: "server_error", Description: "token lookup failed"},
			500, "internal_error", "Internal error", "", ""},
		{"fail/unknown-code", &ResourceError{Status: 401, Code: "something_new", Description: "odd."},
			401, "unauthorized", "Unauthorized", "", ""},
	}
	gin.SetMode(gin.TestMode)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(rec)
			c.Request = httptest.NewRequest(http.MethodGet, "/open-banking/x", nil)
			if got := AbortResource(c, tc.re); string(got) != tc.code {
				t.Fatalf("returned code %s, want %s", got, tc.code)
			}
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var m map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if m["code"] != tc.code || m["title"] != tc.title || m["detail"] != tc.re.Description || int(m["status"].(float64)) != tc.status {
				t.Fatalf("body %v", m)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tc.wwwAuth {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tc.wwwAuth)
			}
			if got := rec.Header().Get("DPoP-Nonce"); got != tc.dpNonce {
				t.Fatalf("DPoP-Nonce %q, want %q", got, tc.dpNonce)
			}
			if !c.IsAborted() {
				t.Fatal("chain not aborted")
			}
		})
	}
}

func TestJSONEndpoint(t *testing.T) {
	for path, want := range map[string]bool{
		"/token": true, "/par": true, "/introspect": true, "/revoke": true, "/jwks.json": true,
		"/.well-known/openid-configuration": true, "/authorize": false, "/portal": false, "/open-banking/v3.1/aisp/accounts": false,
	} {
		if got := JSONEndpoint(path); got != want {
			t.Errorf("JSONEndpoint(%q) = %v, want %v", path, got, want)
		}
	}
}
