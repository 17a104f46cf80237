package main

import (
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/apis/core"
)

// TestSecurityPasskeyBrowser: sandbox personas without a second factor
// confirm it's them with their password, add a passkey on the dashboard's
// Security page in chromium, with Chrome's virtual authenticator
// (e2e/passkey-enrol.mjs), then confirm with the password and the passkey
// and remove it; the server runs with --issuer http://localhost:PORT, so
// passkeys are on. Once with the browser's WebAuthn JSON helpers, once with
// them hidden (passkeys.js's own base64url coding). The credential the
// authenticator made is the one the page lists, the step-up with it signs
// (its counter moves), and the pages load without errors.
func TestSecurityPasskeyBrowser(t *testing.T) {
	requireE2E(t, true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	issuer := fmt.Sprintf("http://localhost:%d", port)
	MustStart(t, "", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--issuer", issuer)
	for _, tc := range []struct {
		name, user string
		byHand     bool
	}{
		{"ok/json-helpers", "alice", false},
		{"ok/by-hand", "bob", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"ISSUER": issuer, "USERNAME": tc.user, "PASSWORD": core.SandboxPassword, "ARTIFACTS": artifactsDir(t)}
			if tc.byHand {
				env["BY_HAND"] = "1"
			}
			res := runNode(t, "passkey-enrol.mjs", env)
			if res.Error != nil {
				t.Fatalf("browser: %+v\n%+v", *res.Error, res.Steps)
			}
			page := res.Step("security_page")
			if page == nil || !strings.Contains(page["text"].(string), "You have no passkey yet.") {
				t.Fatalf("security page before: %+v", page)
			}
			added := res.Step("added")
			creds, _ := added["credentials"].([]any)
			if len(creds) != 1 || added["byHand"] != tc.byHand {
				t.Fatalf("virtual authenticator holds %d credentials (by hand: %v): %+v", len(creds), added["byHand"], added)
			}
			cred := creds[0].(map[string]any)
			raw, err := base64.StdEncoding.DecodeString(cred["id"].(string))
			if err != nil {
				t.Fatalf("credential id %v: %v", cred["id"], err)
			}
			id := base64.RawURLEncoding.EncodeToString(raw)
			if cred["rpId"] != "localhost" || cred["resident"] != true || !strings.Contains(added["text"].(string), "Test laptop") ||
				!strings.HasSuffix(added["url"].(string), "/sandbox/customer/security?done=passkey-added") {
				t.Fatalf("after adding: %+v", added)
			}
			if listed, _ := added["listed"].([]any); len(listed) != 1 || listed[0] != "pk-"+id {
				t.Fatalf("the page lists %v, the authenticator holds %s", added["listed"], id)
			}
			if errs, _ := added["errors"].([]any); len(errs) != 0 {
				t.Fatalf("browser errors: %v", errs)
			}
			if su := res.Step("password_step_up"); su == nil || !strings.HasSuffix(su["url"].(string), "/sandbox/customer/security?done=stepped-up") {
				t.Fatalf("password step-up: %+v", su)
			}
			su := res.Step("passkey_step_up")
			confirm, _ := su["confirm"].(map[string]any)
			counts, _ := su["signCount"].([]any)
			if su == nil || !strings.HasSuffix(su["url"].(string), "/sandbox/customer/security?done=stepped-up") ||
				confirm["password"] != true || confirm["code"] != float64(0) || confirm["passwordOnly"] != float64(0) ||
				len(counts) != 1 || counts[0].(float64) < 1 {
				t.Fatalf("passkey step-up: %+v", su)
			}
			removed := res.Step("removed")
			if removed == nil || !strings.HasSuffix(removed["url"].(string), "/sandbox/customer/security?done=passkey-removed") ||
				removed["listed"] != float64(0) || !strings.Contains(removed["text"].(string), "You have no passkey yet.") {
				t.Fatalf("after removing: %+v", removed)
			}
			if errs, _ := removed["errors"].([]any); len(errs) != 0 {
				t.Fatalf("browser errors: %v", errs)
			}
		})
	}
}
