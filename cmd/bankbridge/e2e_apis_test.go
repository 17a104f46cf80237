package main

import (
	"encoding/json"
	"testing"
)

// TestE2EConsentedAPIs drives account access, a payment and a data-sharing
// read through the real server with the independent client library and the
// customer in chromium, and checks every webhook the flows cause with the
// standardwebhooks verifier.
func TestE2EConsentedAPIs(t *testing.T) {
	requireE2E(t, true)
	for name, url := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, url(t), "--webhooks-allow-loopback")
			redirect := "https://wallet.example/callback"
			cid, key := sandboxApp(t, s, redirect, "openid accounts payments data_sharing webhooks")
			res := runNode(t, "consented-apis.mjs", map[string]string{"ISSUER": s.URL, "CLIENT_ID": cid,
				"CLIENT_JWK": key.PrivateJSON(t), "REDIRECT_URI": redirect, "USERNAME": "alice",
				"PASSWORD": "sandbox-password-1", "CHROMIUM": chromiumPath(), "ARTIFACTS": artifactsDir(t)})
			if res.Error != nil {
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Fatalf("flow failed:\n%s", b)
			}
			checks := []StepCheck{
				{"webhook_endpoint", "status", 201.0},
				{"webhook_endpoint", "has_secret", true},
				{"account_consent", "status", 201.0},
				{"account_consent", "consent_status", "AwaitingAuthorisation"},
				{"account_token", "consent_page_mentions_balances", true},
				{"accounts", "status", 200.0},
				{"accounts", "interaction_id", true},
				{"balances", "status", 200.0},
				{"payment_consent", "status", 201.0},
				{"payment_token", "consent_page_mentions_amount", true},
				{"funds_confirmation", "status", 200.0},
				{"funds_confirmation", "available", true},
				{"payment", "status", 201.0},
				{"payment", "payment_status", "AcceptedSettlementInProcess"},
				{"payment", "replay_same_id", true},
				{"payment", "replay_header", "true"},
				{"payment_status", "payment_status", "AcceptedSettlementCompleted"},
				{"data_consent", "status", 201.0},
				{"dataset", "status", 200.0},
				{"dashboard", "listed_app", true},
				{"dashboard", "status_after", 401.0},
				{"dashboard", "error_after", "invalid_token"},
				{"revoked", "delete_status", 204.0},
				{"revoked", "status_after", 401.0},
				{"revoked", "error_after", "invalid_token"},
				{"webhooks", "all_arrived", true},
				{"webhooks", "all_verified", true},
			}
			res.Want(t, checks)
			if n, _ := res.Step("accounts")["count"].(float64); n < 2 {
				t.Errorf("alice consented to %v accounts, want all of hers (≥ 2)", n)
			}
			tx := res.Step("transactions")
			if tx["pages"].(float64) < 2 || tx["transactions"] != tx["distinct"] {
				t.Errorf("pagination: %v (want several pages, no transaction twice)", tx)
			}
		})
	}
}
