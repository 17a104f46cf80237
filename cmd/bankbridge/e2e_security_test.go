package main

import (
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

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

// TestSecurityTOTPStepUpBrowser: the sandbox persona with an authenticator
// app (hana.totp) makes new recovery codes on the dashboard's Security page
// in chromium (e2e/totp-stepup.mjs) only after confirming it's them with the
// password and a current code: the password alone is not accepted, nor a
// wrong code.
func TestSecurityTOTPStepUpBrowser(t *testing.T) {
	requireE2E(t, true)
	s := MustStart(t, "")
	secret := core.SandboxTOTPSecret("hana.totp")
	now := time.Now()
	code, err := totp.GenerateCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	wrong := "000000"
	for _, at := range []time.Time{now.Add(-30 * time.Second), now, now.Add(30 * time.Second), now.Add(60 * time.Second)} {
		if c, _ := totp.GenerateCode(secret, at); c == wrong {
			wrong = "111111"
		}
	}
	res := runNode(t, "totp-stepup.mjs", map[string]string{"ISSUER": s.Issuer, "USERNAME": "hana.totp", "PASSWORD": core.SandboxPassword,
		"CODE": code, "WRONG": wrong, "ARTIFACTS": artifactsDir(t)})
	if res.Error != nil {
		t.Fatalf("browser: %+v\n%+v", *res.Error, res.Steps)
	}
	if page := res.Step("security_page"); page == nil || page["newCodes"] != float64(0) ||
		!strings.Contains(page["text"].(string), "enter your password and a code from your authenticator app or one of your recovery codes") {
		t.Fatalf("security page: %+v", page)
	}
	if p := res.Step("password_only"); p == nil || p["missing"] != true || !strings.HasSuffix(p["url"].(string), "/sandbox/customer/security") {
		t.Fatalf("password only: %+v", p)
	}
	w := res.Step("wrong_code")
	if alerts, _ := w["alerts"].([]any); len(alerts) != 1 || alerts[0] != "That code is not right. Please check your authenticator app and try again." ||
		!strings.HasSuffix(w["url"].(string), "/sandbox/customer/security/step-up") {
		t.Fatalf("wrong code: %+v", w)
	}
	if su := res.Step("stepped_up"); su == nil || !strings.HasSuffix(su["url"].(string), "/sandbox/customer/security?done=stepped-up") {
		t.Fatalf("step-up: %+v", su)
	}
	c := res.Step("codes")
	if errs, _ := c["errors"].([]any); c["codes"] != float64(10) || len(errs) != 0 {
		t.Fatalf("codes: %+v", c)
	}
}

// TestSecurityPasskeyPayment: sandbox personas add a passkey on the
// dashboard, then authorise a partner's GBP 45.00 payment consent with it
// in chromium with Chrome's virtual authenticator (e2e/passkey-pay.mjs):
// PAR → authorize → login → "Use a passkey" on the SCA page → consent →
// token, driven by oauth4webapi, which validates the id_token: acr is
// urn:openbanking:psd2:sca and amr [pwd hwk mfa] (the virtual authenticator's
// key is device-bound). The amount is above the low-value exemption, so SCA
// is required whatever the bank's exemption settings. alice has a passkey
// only (no code field); hana.totp has an authenticator app too, and her run
// hides the browser's WebAuthn JSON helpers (sca-passkey.js's own coding).
func TestSecurityPasskeyPayment(t *testing.T) {
	requireE2E(t, true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	issuer := fmt.Sprintf("http://localhost:%d", port)
	s := MustStart(t, "", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--issuer", issuer)
	redirect := "https://wallet.example/callback"
	cid, key := sandboxApp(t, s, redirect, "openid payments")
	for _, tc := range []struct {
		name, user string
		byHand     bool
		app        bool // the persona has an authenticator app
		confirm    string
	}{
		{"ok/passkey only, json-helpers", "alice", false, false, "Please confirm with your passkey."},
		{"ok/passkey and authenticator app, by-hand", "hana.totp", true, true, "Please confirm with your passkey or your authenticator app."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"ISSUER": issuer, "CLIENT_ID": cid, "CLIENT_JWK": key.PrivateJSON(t),
				"REDIRECT_URI": redirect, "USERNAME": tc.user, "PASSWORD": core.SandboxPassword, "AMOUNT": "45.00",
				"CHROMIUM": chromiumPath(), "ARTIFACTS": artifactsDir(t)}
			if tc.byHand {
				env["BY_HAND"] = "1"
			}
			if tc.app {
				code, err := totp.GenerateCode(core.SandboxTOTPSecret(tc.user), time.Now())
				if err != nil {
					t.Fatal(err)
				}
				env["CODE"] = code
			}
			res := runNode(t, "passkey-pay.mjs", env)
			if res.Error != nil {
				t.Fatalf("browser: %+v\n%+v", *res.Error, res.Steps)
			}
			enrolled, _ := res.Step("enrolled")["credentials"].([]any)
			if len(enrolled) != 1 || enrolled[0].(map[string]any)["rpId"] != "localhost" {
				t.Fatalf("virtual authenticator after enrolment: %+v", enrolled)
			}
			scaPage := res.Step("sca_page")
			if text, _ := scaPage["text"].(string); !strings.Contains(text, tc.confirm) ||
				!strings.Contains(text, "45.00 GBP") || !strings.Contains(text, "Passkey Shop Ltd") || scaPage["has_code_field"] != tc.app || scaPage["byHand"] != tc.byHand {
				t.Fatalf("SCA page: %+v", scaPage)
			}
			consented := res.Step("consented")
			if errs, _ := consented["errors"].([]any); len(errs) != 0 {
				t.Fatalf("browser errors: %v", errs)
			}
			before, _ := consented["sign_count_before"].(float64)
			after, _ := consented["sign_count_after"].(float64)
			if after <= before {
				t.Fatalf("the passkey did not sign: sign count %v → %v", before, after)
			}
			tok := res.Step("token")
			if tok["token_type"] != "dpop" || tok["acr"] != "urn:openbanking:psd2:sca" || fmt.Sprint(tok["amr"]) != "[pwd hwk mfa]" {
				t.Fatalf("token: %+v", tok)
			}
		})
	}
}
