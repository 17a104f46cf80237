package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/oauth"
)

// TestE2ESCA drives strong customer authentication through the real server
// with the independent client library and the customers in chromium
// (e2e/sca-flow.mjs): a payment that needs SCA from a persona without a
// second factor ends in access_denied with the reason; hana.totp's
// authenticator code authorises a payment (acr sca, amr pwd otp mfa); a
// wrong and a reused code are refused; a low-value payment is exempt. The
// consents record how each was authorised.
func TestE2ESCA(t *testing.T) {
	requireE2E(t, true)
	for name, url := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, url(t))
			redirect := "https://wallet.example/callback"
			cid, key := sandboxApp(t, s, redirect, "openid payments")
			res := runNode(t, "sca-flow.mjs", map[string]string{"ISSUER": s.URL, "CLIENT_ID": cid,
				"CLIENT_JWK": key.PrivateJSON(t), "REDIRECT_URI": redirect, "PASSWORD": core.SandboxPassword,
				"HANA_TOTP_SECRET": core.SandboxTOTPSecret("hana.totp"), "CHROMIUM": chromiumPath(), "ARTIFACTS": artifactsDir(t)})
			if res.Error != nil {
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Fatalf("flow failed:\n%s", b)
			}
			res.Want(t, []StepCheck{
				{"no_factor_page", "heading", "Set up a second factor first"},
				{"no_factor_page", "mentions_amount", true},
				{"no_factor_page", "mentions_enrol", true},
				{"no_factor_result", "error", "access_denied"},
				{"no_factor_result", "error_description", "The resource owner or authorization server denied the request. The payment needs strong customer authentication and the customer has no second factor (authenticator app or passkey) set up."},
				{"sca_page", "heading", "Confirm it is you"},
				{"sca_page", "mentions_amount", true},
				{"sca_page", "mentions_payee", true},
				{"totp_result", "acr", oauth.ACRStrong},
				{"refusals", "wrong", "That code is not right. Please check your authenticator app and try again."},
				{"refusals", "reused", "That code was already used. Please wait for the next code in your authenticator app."},
				{"refusals", "still_sca", "Confirm it is you"},
				{"low_value_page", "heading", "Do you want to allow this?"},
				{"low_value_result", "acr", oauth.ACRPassword},
			})
			if got := fmt.Sprint(res.Step("totp_result")["amr"]); got != "[pwd otp mfa]" {
				t.Errorf("amr after the authenticator code = %s, want [pwd otp mfa]", got)
			}
			if got := fmt.Sprint(res.Step("low_value_result")["amr"]); got != "[pwd]" {
				t.Errorf("amr of the exempt payment = %s, want [pwd]", got)
			}
			// What each consent records of its authorisation.
			store := apis.NewGormStore(s.Main.Platform.DB)
			consent := func(step string) *apis.Consent {
				id, _ := res.Step(step)["consent_id"].(string)
				c, err := store.Consent(context.Background(), id)
				if err != nil {
					t.Fatalf("consent of %s (%q): %v", step, id, err)
				}
				return c
			}
			if c := consent("no_factor_result"); c.Status != apis.StatusRejected || c.Authorisation.ACR != "" {
				t.Errorf("refused consent: %s %+v", c.Status, c.Authorisation)
			}
			if c := consent("totp_result"); c.Status != apis.StatusAuthorised || c.Authorisation.ACR != oauth.ACRStrong ||
				fmt.Sprint(c.Authorisation.AMR) != "[pwd otp mfa]" || c.Authorisation.Exemption != "" {
				t.Errorf("SCA consent: %s %+v", c.Status, c.Authorisation)
			}
			if c := consent("low_value_result"); c.Status != apis.StatusAuthorised || c.Authorisation.Exemption != oauth.ExemptionLowValue ||
				c.Authorisation.Reason != "12.34 GBP is within the low-value limits: payment 1 of 5 since the last SCA, 12.34 GBP of 100.00 GBP" {
				t.Errorf("exempt consent: %s %+v", c.Status, c.Authorisation)
			}
		})
	}
}
