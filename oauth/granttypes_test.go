package oauth_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/oauth"
)

// setGrants re-registers client id with grant types gts (nil: all three).
func (h *harness) setGrants(id string, gts ...string) {
	h.clients.mu.Lock()
	defer h.clients.mu.Unlock()
	c := h.clients.m[id]
	c.GrantTypes = gts
	h.clients.m[id] = c
}

// TestGrantTypesEnforced: a client uses only the grant types it registered:
// any other is refused at the token endpoint with unauthorized_client
// (RFC 6749 §5.2), and response_type code is refused at PAR and at the
// authorization endpoint without authorization_code (RFC 6749 §4.1.2.1).
func TestGrantTypesEnforced(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		c := h.client
		all := func(t *testing.T) { t.Cleanup(func() { h.setGrants(c.id) }) }
		refresh := func(token string) (*http.Response, map[string]any) {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
			return c.post("/token", c.withAuth(form, h.ts.URL), c.proof("POST", h.ts.URL+"/token", ""))
		}

		t.Run("fail/client_credentials not registered", func(t *testing.T) {
			all(t)
			h.setGrants(c.id, oauth.GrantAuthorizationCode, oauth.GrantRefreshToken)
			resp, body := h.clientCredentials(c)
			oauthErr(t, resp, body, 400, "unauthorized_client",
				"The client is not registered for the grant type 'client_credentials' (its grant types: authorization_code, refresh_token).")
		})
		t.Run("ok/client_credentials only", func(t *testing.T) {
			all(t)
			h.setGrants(c.id, oauth.GrantClientCredentials)
			if resp, body := h.clientCredentials(c); resp.StatusCode != http.StatusOK || body["access_token"] == nil {
				t.Fatalf("client_credentials: %d %v", resp.StatusCode, body)
			}
		})
		t.Run("fail/PAR without authorization_code", func(t *testing.T) {
			all(t)
			h.setGrants(c.id, oauth.GrantClientCredentials)
			_, ch := pkcePair()
			resp, body := h.par(c, parForm(ch), "")
			oauthErr(t, resp, body, 400, "unauthorized_client",
				"The client is not registered for the grant type 'authorization_code', so it may not request response_type 'code' (its grant types: client_credentials).")
		})
		t.Run("fail/authorize after authorization_code was dropped", func(t *testing.T) {
			all(t)
			_, ch := pkcePair()
			ru := h.mustPAR(c, parForm(ch))
			h.setGrants(c.id, oauth.GrantClientCredentials)
			resp, _ := c.get("/authorize?" + url.Values{"client_id": {c.id}, "request_uri": {ru}}.Encode())
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
				t.Fatalf("authorize: %d %v", resp.StatusCode, err)
			}
			q := loc.Query()
			if q.Get("error") != "unauthorized_client" || q.Get("iss") != h.ts.URL || q.Get("state") != "state-1234567890" ||
				q.Get("error_description") != "The client is not authorized to request a token using this method. "+
					"The client is not registered for the grant type 'authorization_code', so it may not request response_type 'code' (its grant types: client_credentials)." {
				t.Fatalf("redirect %s", loc)
			}
		})
		t.Run("fail/code redeemed after authorization_code was dropped", func(t *testing.T) {
			all(t)
			code, ver := h.code(c, nil, nil)
			h.setGrants(c.id, oauth.GrantClientCredentials, oauth.GrantRefreshToken)
			resp, body := h.exchange(c, code, ver)
			oauthErr(t, resp, body, 400, "unauthorized_client",
				"The client is not registered for the grant type 'authorization_code' (its grant types: client_credentials, refresh_token).")
		})
		t.Run("ok/no refresh token without refresh_token", func(t *testing.T) {
			all(t)
			h.setGrants(c.id, oauth.GrantAuthorizationCode, oauth.GrantClientCredentials)
			code, ver := h.code(c, nil, nil)
			resp, body := h.exchange(c, code, ver)
			if resp.StatusCode != http.StatusOK || body["access_token"] == nil || body["refresh_token"] != nil {
				t.Fatalf("exchange: %d %v", resp.StatusCode, body)
			}
		})
		t.Run("fail/refresh after refresh_token was dropped", func(t *testing.T) {
			all(t)
			code, ver := h.code(c, nil, nil)
			resp, body := h.exchange(c, code, ver)
			if resp.StatusCode != http.StatusOK || body["refresh_token"] == nil {
				t.Fatalf("exchange: %d %v", resp.StatusCode, body)
			}
			token := body["refresh_token"].(string)
			h.setGrants(c.id, oauth.GrantAuthorizationCode)
			resp, body = refresh(token)
			oauthErr(t, resp, body, 400, "unauthorized_client",
				"The client is not registered for the grant type 'refresh_token' (its grant types: authorization_code).")
			h.setGrants(c.id)
			if resp, body = refresh(token); resp.StatusCode != http.StatusOK {
				t.Fatalf("refresh with the grant registered again: %d %v", resp.StatusCode, body)
			}
		})
		t.Run("ok/no list means all three", func(t *testing.T) {
			all(t)
			h.setGrants(c.id)
			if resp, body := h.clientCredentials(c); resp.StatusCode != http.StatusOK {
				t.Fatalf("client_credentials: %d %v", resp.StatusCode, body)
			}
			code, ver := h.code(c, nil, nil)
			if resp, body := h.exchange(c, code, ver); resp.StatusCode != http.StatusOK || body["refresh_token"] == nil {
				t.Fatalf("exchange: %d %v", resp.StatusCode, body)
			}
		})
	})
}
