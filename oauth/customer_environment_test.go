package oauth_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth"
)

// TestLoginUsesTheClientsEnvironment: the login step asks the bank for a
// customer of the client's environment only. A production app cannot sign
// in the sandbox customer alice (the answer is the unknown-username answer)
// and signs in production's own alice; the sandbox app gets the sandbox one.
func TestLoginUsesTheClientsEnvironment(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		prod := newTestClient(t, "app_prod", h.ts.URL, h.now)
		h.clients.put(oauth.Client{ID: prod.id, Name: "Live Wallet", PartnerID: "ptn_1", PartnerName: "Acme Payments",
			Environment: environment.Production, RedirectURIs: []string{redirectURI},
			Scopes: []string{"openid", "accounts"}, JWKS: prod.jwks(), Active: true})
		errRe := regexp.MustCompile(`<p class="error">([^<]*)</p>`)
		login := func(t *testing.T, c *testClient, username, password string) (int, string, string) {
			t.Helper()
			_, challenge := pkcePair()
			f := parForm(challenge)
			f.Set("client_id", c.id)
			resp, body := c.get("/authorize?" + url.Values{"client_id": {c.id}, "request_uri": {h.mustPAR(c, f)}}.Encode())
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("authorize: %d %s", resp.StatusCode, body)
			}
			in, csrf := formFields(t, body)
			resp, body = c.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"login"},
				"username": {username}, "password": {password}})
			msg := ""
			if m := errRe.FindStringSubmatch(body); m != nil {
				msg = m[1]
			}
			return resp.StatusCode, msg, body
		}
		const bad = "The username or password is not right. Please check them and try again."
		for _, tc := range []struct {
			name           string
			client         *testClient
			user, password string
			status         int
			message, text  string
		}{
			{"ok/sandbox-app-sandbox-alice", h.client, "alice", "correct horse", 200, "", "Alice Example"},
			{"ok/production-app-production-alice", prod, "alice", "production horse", 200, "", "Alice Production"},
			{"fail/production-app-sandbox-alice", prod, "alice", "correct horse", 401, bad, "Log in to your bank"},
			{"fail/production-app-sandbox-bob", prod, "bob", "battery staple", 401, bad, "Log in to your bank"},
			{"fail/production-app-sandbox-locked-carol", prod, "carol", "anything", 401, bad, "Log in to your bank"},
			{"fail/production-app-unknown", prod, "nobody", "battery staple", 401, bad, "Log in to your bank"},
			{"fail/sandbox-app-production-alice", h.client, "alice", "production horse", 401, bad, "Log in to your bank"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, msg, body := login(t, tc.client, tc.user, tc.password)
				if status != tc.status || msg != tc.message || !strings.Contains(body, tc.text) {
					t.Fatalf("status %d, message %q; want %d, %q with %q\n%s", status, msg, tc.status, tc.message, tc.text, body)
				}
			})
		}
	})
}
