package oauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth"
)

func TestCodeFlow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		c := h.client
		h.consents.add("cns_1")

		// PAR with authorization_details and a DPoP proof binding the code.
		verifier, challenge := pkcePair()
		form := parForm(challenge)
		form.Set("authorization_details", `[{"type":"account_access","consent_id":"cns_1"}]`)
		resp, body := h.par(c, form, c.proof("POST", h.ts.URL+"/par", ""))
		if resp.StatusCode != http.StatusCreated || body["expires_in"].(float64) != 60 ||
			!strings.HasPrefix(body["request_uri"].(string), "urn:ietf:params:oauth:request_uri:") {
			t.Fatalf("PAR: %d %v", resp.StatusCode, body)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("PAR Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
		requestURI := body["request_uri"].(string)

		// The login page, then the consent page.
		gresp, page := c.get("/authorize?" + url.Values{"client_id": {c.id}, "request_uri": {requestURI}}.Encode())
		if gresp.StatusCode != http.StatusOK {
			t.Fatalf("authorize: %d %s", gresp.StatusCode, page)
		}
		for _, want := range []string{`<label for="username">Username</label>`, `<label for="password">Password</label>`, `type="submit"`, "Wallet 1", "Acme Payments"} {
			if !strings.Contains(page, want) {
				t.Fatalf("login page lacks %q:\n%s", want, page)
			}
		}
		in, csrf := formFields(t, page)
		_, page = c.postPage("/authorize", url.Values{"interaction": {in}, "csrf_token": {csrf}, "step": {"login"},
			"username": {"alice"}, "password": {"correct horse"}})
		for _, want := range []string{"Acme Payments", "Wallet 1", "Read your account information", "Your balances",
			"1 Mar 2027", `type="checkbox" name="accounts.cns_1" value="acc_1"`, ">Authorise<", ">Deny<", "Alice Example"} {
			if !strings.Contains(page, want) {
				t.Fatalf("consent page lacks %q:\n%s", want, page)
			}
		}
		loc := h.decide(c, page, "approve", url.Values{"accounts.cns_1": {"acc_1"}})
		q := loc.Query()
		if loc.Scheme+"://"+loc.Host+loc.Path != redirectURI || q.Get("iss") != h.ts.URL || q.Get("state") != "state-1234567890" || q.Get("code") == "" {
			t.Fatalf("redirect %s", loc)
		}

		// Token: DPoP-bound, id_token, authorization_details, refresh token.
		resp, tok := h.exchange(c, q.Get("code"), verifier)
		if resp.StatusCode != http.StatusOK || tok["token_type"] != "DPoP" || tok["refresh_token"] == nil || tok["id_token"] == nil {
			t.Fatalf("token: %d %v", resp.StatusCode, tok)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("token Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
		details, _ := json.Marshal(tok["authorization_details"])
		if string(details) != `[{"accounts":["acc_1"],"consent_id":"cns_1","type":"account_access"}]` {
			t.Fatalf("authorization_details %s", details)
		}
		checkIDToken(t, h, tok["id_token"].(string))
		access := tok["access_token"].(string)

		// The resource server's check.
		ac, err := h.srv.VerifyRequest(context.Background(),
			h.resource("GET", "/accounts", "DPoP", access, c.proof("GET", h.ts.URL+"/accounts", access)))
		if err != nil {
			t.Fatal(err)
		}
		if ac.ClientID != c.id || ac.PartnerID != "ptn_1" || ac.CustomerID != "cus_alice" || !ac.HasScope("accounts") ||
			ac.JKT != c.jkt() || len(ac.ConsentIDs()) != 1 || ac.ConsentIDs()[0] != "cns_1" || ac.Environment != environment.Sandbox {
			t.Fatalf("access context %+v", ac)
		}

		// Introspection of the access token.
		_, intro := c.post("/introspect", c.withAuth(url.Values{"token": {access}}, h.ts.URL+"/introspect"), "")
		cnf, _ := intro["cnf"].(map[string]any)
		if intro["active"] != true || intro["client_id"] != c.id || intro["scope"] != "openid accounts" || intro["token_type"] != "DPoP" ||
			cnf["jkt"] != c.jkt() || intro["exp"] == nil || intro["iat"] == nil || intro["authorization_details"] == nil {
			t.Fatalf("introspection %v", intro)
		}
		// Another client learns nothing.
		_, intro = h.other.post("/introspect", h.other.withAuth(url.Values{"token": {access}}, h.ts.URL), "")
		if intro["active"] != false || len(intro) != 1 {
			t.Fatalf("other client's introspection %v", intro)
		}

		// Refresh (not rotated by default): new access token, no new refresh token.
		refresh := tok["refresh_token"].(string)
		rform := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
		resp, rt := c.post("/token", c.withAuth(rform, h.ts.URL), c.proof("POST", h.ts.URL+"/token", ""))
		if resp.StatusCode != http.StatusOK || rt["token_type"] != "DPoP" || rt["access_token"] == access || rt["refresh_token"] != nil || rt["authorization_details"] == nil {
			t.Fatalf("refresh: %d %v", resp.StatusCode, rt)
		}
		resp, rt2 := c.post("/token", c.withAuth(rform, h.ts.URL), c.proof("POST", h.ts.URL+"/token", ""))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("second refresh: %d %v", resp.StatusCode, rt2)
		}

		// Another client cannot revoke it (answered 200, token left alone).
		resp, _ = h.other.post("/revoke", h.other.withAuth(url.Values{"token": {rt2["access_token"].(string)}}, h.ts.URL), "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("other client's revoke: %d", resp.StatusCode)
		}
		_, intro = c.post("/introspect", c.withAuth(url.Values{"token": {rt2["access_token"].(string)}}, h.ts.URL), "")
		if intro["active"] != true {
			t.Fatalf("another client revoked the token: %v", intro)
		}

		// Revoke the refresh token: the whole grant goes.
		resp, _ = c.post("/revoke", c.withAuth(url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}}, h.ts.URL+"/revoke"), "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: %d", resp.StatusCode)
		}
		_, intro = c.post("/introspect", c.withAuth(url.Values{"token": {refresh}}, h.ts.URL), "")
		if intro["active"] != false {
			t.Fatalf("revoked refresh token introspects %v", intro)
		}
		newAccess := rt2["access_token"].(string)
		_, err = h.srv.VerifyRequest(context.Background(),
			h.resource("GET", "/accounts", "DPoP", newAccess, c.proof("GET", h.ts.URL+"/accounts", newAccess)))
		wantResourceErr(t, err, "The access token is not active.")
	})
}

func checkIDToken(t *testing.T, h *harness, raw string) {
	t.Helper()
	claims := idTokenClaims(t, h, raw)
	if claims["iss"] != h.ts.URL || claims["aud"] != "app_one" || claims["nonce"] != "nonce-abc" || claims["auth_time"] == nil || claims["acr"] != oauth.ACRPassword ||
		fmt.Sprint(claims["amr"]) != "[pwd]" || claims["sub"] == "cus_alice" || len(claims["sub"].(string)) != 43 {
		t.Fatalf("id_token claims %v", claims)
	}
}

// idTokenClaims verifies an id_token's signature with the server's JWKS and
// returns its claims.
func idTokenClaims(t *testing.T, h *harness, raw string) map[string]any {
	t.Helper()
	resp, err := http.Get(h.ts.URL + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("id_token kid %q not in JWKS", tok.Headers[0].KeyID)
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func wantResourceErr(t *testing.T, err error, desc string) *oauth.ResourceError {
	t.Helper()
	re, ok := err.(*oauth.ResourceError)
	if !ok {
		t.Fatalf("err %v (%T), want *ResourceError %q", err, err, desc)
	}
	if re.Description != desc || re.Status != http.StatusUnauthorized {
		t.Fatalf("got %d %q, want %q", re.Status, re.Description, desc)
	}
	if !strings.Contains(re.WWWAuthenticate, `error_description="`+desc+`"`) || !strings.HasSuffix(re.WWWAuthenticate, `algs="ES256 PS256"`) {
		t.Fatalf("WWW-Authenticate %q", re.WWWAuthenticate)
	}
	return re
}
