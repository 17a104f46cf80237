package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// journeyScreenshots are the main pages e2e/journey.mjs saves (each also
// passed the 390 px and accessibility checks).
var journeyScreenshots = []string{"portal-sign-up", "portal-dashboard", "portal-app", "portal-request-log",
	"portal-certification", "portal-application", "console-sign-in", "console-partner-detail", "console-audit"}

// TestE2EJourney drives the partner journey in chromium: sign-up, email
// verification, sandbox app with a JWKS made in the browser-side script, a
// code flow by a sandbox customer with the independent client and the
// resulting calls in the request log, the production application; a staff
// member created by the operator CLI signs in with TOTP, changes the
// one-time password, reviews, scores and approves the application, then
// suspends the partner, whose next token request and API call are refused.
func TestE2EJourney(t *testing.T) {
	requireE2E(t, true)
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, dbURL(t))
			staff := runCLI(t, s, "staff", "create", "--email", "reviewer@bank.example", "--role", "admin", "--json")
			arts := artifactsDir(t)
			res := runNode(t, "journey.mjs", map[string]string{"ISSUER": s.URL, "CHROMIUM": chromiumPath(), "ARTIFACTS": arts,
				"USERNAME": "alice", "PASSWORD": "sandbox-password-1", "REDIRECT_URI": "https://wallet.example/callback",
				"STAFF_EMAIL": staff["email"].(string), "STAFF_PASSWORD": staff["one_time_password"].(string),
				"STAFF_TOTP_SECRET": staff["totp_secret"].(string)})
			if res.Error != nil {
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Fatalf("journey failed:\n%s", b)
			}
			pid, _ := res.Step("signed_up")["partner_id"].(string)
			cid, _ := res.Step("app_created")["client_id"].(string)
			checks := []StepCheck{
				{"signed_up", "status", "Sandbox"},
				{"account_read", "status", float64(200)},
				{"account_read", "token_type", "dpop"},
				{"request_log", "has_accounts_get", true},
				{"request_log", "has_consent_post", true},
				{"certification_page", "text", "Certification opens once your contract is active."},
				{"applied", "status", "Applied"},
				{"staff_signed_in", "url", "/console/partners"},
				{"approved", "status", "Approved"},
				{"suspended", "status", "Suspended"},
				{"audit", "mentions_suspension", true},
				{"audit", "mentions_approval", true},
				{"partner_view", "status", "Suspended"},
				{"refused_token", "refused", true},
				{"refused_token", "error", "invalid_client"},
				{"refused_token", "status", float64(401)},
				{"refused_call", "status", float64(401)},
			}
			// The sandbox reset revoked the app's consent: its token died.
			if rs := res.Step("sandbox_reset"); rs == nil ||
				!strings.HasPrefix(fmt.Sprint(rs["flash"]), "Sandbox data reset: 1 consent revoked, 0 payments reversed, ") ||
				fmt.Sprint(rs["token_after_reset"]) != "map[error:invalid_token refused:true status:401]" {
				t.Errorf("sandbox reset: %v", rs)
			}
			res.Want(t, checks)
			if !strings.HasPrefix(pid, "ptn_") || !strings.HasPrefix(cid, "app_") {
				t.Errorf("partner %q, client %q", pid, cid)
			}
			if sc, _ := res.Step("approved")["scorecard"].(string); !strings.Contains(sc, "licence verified") || !strings.Contains(sc, "AML screening: clear") {
				t.Errorf("scorecard summary %q", sc)
			}
			tok := res.Step("refused_token")
			if d, _ := tok["error_description"].(string); d != wantSuspendedTokenError {
				t.Errorf("token refusal description %q, want %q", d, wantSuspendedTokenError)
			}
			if call := res.Step("refused_call"); call["refused"] != true || call["scheme"] != "dpop" || call["error"] != "invalid_token" ||
				call["error_description"] != "The access token is not active." {
				t.Errorf("resource call after suspension: %v, want a DPoP invalid_token challenge \"The access token is not active.\"", call)
			}
			for _, name := range journeyScreenshots {
				if fi, err := os.Stat(filepath.Join(arts, name+".png")); err != nil || fi.Size() == 0 {
					t.Errorf("screenshot %s.png missing: %v", name, err)
				}
			}
		})
	}
}

// wantSuspendedTokenError is the token endpoint's answer to an app of a
// suspended partner.
const wantSuspendedTokenError = "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method). The client is not active."

// TestE2EPageChecksFindProblems: the journey's accessibility and small-screen
// checks report each kind of problem, naming the element.
func TestE2EPageChecksFindProblems(t *testing.T) {
	requireE2E(t, true)
	res := runNode(t, "journey.mjs", map[string]string{"MODE": "audit-selftest", "ISSUER": "http://127.0.0.1:1", "CHROMIUM": chromiumPath()})
	if res.Error != nil {
		t.Fatalf("self-test failed: %+v", res.Error)
	}
	var got []string
	for _, p := range res.Step("audit_selftest")["problems"].([]any) {
		got = append(got, p.(string))
	}
	want := []string{
		"expected exactly one h1, found 2",
		`input without a label: input#nolabel[name="nolabel"]`,
		"image without alt: img#noalt",
		"button without a name: button#noname",
		`contrast 2.32:1 < 4.5:1 for p#faint "Faint text" (rgb(170, 170, 170) on rgb(255, 255, 255))`,
		"page is ",
	}
	if len(got) != len(want) {
		t.Fatalf("problems %q, want %d", got, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("problem %d = %q, want %q", i, got[i], w)
		}
	}
}
