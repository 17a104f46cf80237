package partners

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

type httpResult struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, method, url, token, contentType, body string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	mustOK(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	mustOK(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := httpResult{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("body %q: %v", raw, err)
		}
	}
	return r
}

func wantRegError(t *testing.T, r httpResult, status int, code, desc string) {
	t.Helper()
	if r.status != status || r.body["error"] != code || r.body["error_description"] != desc {
		t.Fatalf("got %d %v, want %d %s %q", r.status, r.body, status, code, desc)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
}

func metadata(t *testing.T, mut func(m map[string]any)) string {
	t.Helper()
	m := map[string]any{
		"client_name":                "Wallet (DCR)",
		"redirect_uris":              []string{"http://localhost:3000/cb"},
		"scope":                      "openid accounts payments",
		"token_endpoint_auth_method": "private_key_jwt",
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"jwks":                       json.RawMessage(testJWKS(t)),
		"software_id":                "ignored-unknown-member",
	}
	if mut != nil {
		mut(m)
	}
	b, err := json.Marshal(m)
	mustOK(t, err)
	return string(b)
}

func TestDynamicClientRegistration(t *testing.T) {
	gin.SetMode(gin.TestMode)
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r := gin.New()
		e.s.MountRegistration(r)
		srv := httptest.NewServer(r)
		defer srv.Close()
		owner, pid := e.signUp("owner@acme.example", "Acme")
		viewer := e.member(owner, pid, "viewer@acme.example", RoleViewer)

		_, _, err := e.s.IssueInitialAccessToken(ctx, viewer, pid, environment.Sandbox, 0)
		wantProblem(t, err, problem.CodeForbidden, "role viewer may not apps.write.sandbox")
		_, _, err = e.s.IssueInitialAccessToken(ctx, owner, pid, environment.Production, 0)
		wantProblem(t, err, problem.CodeInvalidState, "cannot create a production app: partner is sandbox (needs live); use the sandbox until go-live")
		_, _, err = e.s.IssueInitialAccessToken(ctx, owner, pid, environment.Sandbox, time.Second)
		wantProblem(t, err, problem.CodeValidation, "ttl must be between 1 minute and 30 days")

		iat, exp, err := e.s.IssueInitialAccessToken(ctx, owner, pid, environment.Sandbox, 0)
		mustOK(t, err)
		if !exp.Equal(e.clock.now().Add(DefaultInitialTokenTTL)) {
			t.Fatalf("expiry %v", exp)
		}

		// Refusals that leave the token unused.
		for _, tc := range []struct {
			name, token, ct, body string
			status                int
			code, desc            string
		}{
			{"fail/no-token", "", "application/json", metadata(t, nil), 401, ErrInvalidToken, "a Bearer token is required in the Authorization header"},
			{"fail/unknown-token", "bbiat_nope", "application/json", metadata(t, nil), 401, ErrInvalidToken, "the initial access token is not valid"},
			{"fail/content-type", iat, "text/plain", metadata(t, nil), 400, ErrInvalidClientMetadata, "Content-Type must be application/json"},
			{"fail/not-json", iat, "application/json", "{", 400, ErrInvalidClientMetadata, "the body is not a JSON object of client metadata: unexpected EOF"},
			{"fail/redirect-http", iat, "application/json", metadata(t, func(m map[string]any) { m["redirect_uris"] = []string{"http://wallet.example/cb"} }),
				400, ErrInvalidRedirectURI, `redirect URI "http://wallet.example/cb": http is only allowed for localhost or 127.0.0.1`},
			{"fail/no-redirect", iat, "application/json", metadata(t, func(m map[string]any) { delete(m, "redirect_uris") }),
				400, ErrInvalidRedirectURI, "at least one redirect URI is required"},
			{"fail/auth-method", iat, "application/json", metadata(t, func(m map[string]any) { m["token_endpoint_auth_method"] = "client_secret_basic" }),
				400, ErrInvalidClientMetadata, `token_endpoint_auth_method must be private_key_jwt, got "client_secret_basic"`},
			{"fail/grant-type", iat, "application/json", metadata(t, func(m map[string]any) { m["grant_types"] = []string{"implicit"} }),
				400, ErrInvalidClientMetadata, `grant_types: "implicit" is not supported (use authorization_code, refresh_token, client_credentials)`},
			{"fail/response-type", iat, "application/json", metadata(t, func(m map[string]any) { m["response_types"] = []string{"token"} }),
				400, ErrInvalidClientMetadata, `response_types: "token" is not supported (use code)`},
			{"fail/signing-alg", iat, "application/json", metadata(t, func(m map[string]any) { m["token_endpoint_auth_signing_alg"] = "RS256" }),
				400, ErrInvalidClientMetadata, `token_endpoint_auth_signing_alg must be ES256 or PS256, got "RS256"`},
			{"fail/scope", iat, "application/json", metadata(t, func(m map[string]any) { m["scope"] = "openid admin" }),
				400, ErrInvalidClientMetadata, `scope "admin" is not one of openid accounts payments data_sharing webhooks`},
			{"fail/private-jwk", iat, "application/json", metadata(t, func(m map[string]any) {
				priv, _, _ := GenerateES256Key("p")
				m["jwks"] = json.RawMessage(`{"keys":[` + string(priv) + `]}`)
			}), 400, ErrInvalidClientMetadata, `jwks key 0 contains private or symmetric key material ("d"); register public keys only`},
			{"fail/no-keys", iat, "application/json", metadata(t, func(m map[string]any) { delete(m, "jwks") }),
				400, ErrInvalidClientMetadata, "jwks or jwks_uri is required (private_key_jwt client authentication)"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := call(t, "POST", srv.URL+"/register", tc.token, tc.ct, tc.body)
				wantRegError(t, res, tc.status, tc.code, tc.desc)
			})
		}
		res := call(t, "POST", srv.URL+"/register", "", "application/json", "{}")
		if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
			t.Fatalf("WWW-Authenticate %q", res.header.Get("WWW-Authenticate"))
		}

		// Happy path.
		res = call(t, "POST", srv.URL+"/register", iat, "application/json", metadata(t, nil))
		if res.status != http.StatusCreated {
			t.Fatalf("register: %d %v", res.status, res.body)
		}
		clientID, _ := res.body["client_id"].(string)
		rat, _ := res.body["registration_access_token"].(string)
		if !strings.HasPrefix(clientID, "app_") || rat == "" || res.body["registration_client_uri"] != "https://bank.example/register/"+clientID ||
			res.body["scope"] != "openid accounts payments" || res.body["token_endpoint_auth_method"] != "private_key_jwt" ||
			res.body["environment"] != "sandbox" || res.body["client_name"] != "Wallet (DCR)" {
			t.Fatalf("registration response %v", res.body)
		}
		c, err := e.s.OAuthClient(ctx, clientID)
		mustOK(t, err)
		if !c.Active || c.PartnerID != pid || c.Environment != environment.Sandbox {
			t.Fatalf("client %+v", c)
		}
		wantRegError(t, call(t, "POST", srv.URL+"/register", iat, "application/json", metadata(t, nil)),
			401, ErrInvalidToken, "the initial access token was already used")

		iat2, _, err := e.s.IssueInitialAccessToken(ctx, owner, pid, environment.Sandbox, time.Minute)
		mustOK(t, err)
		e.clock.advance(time.Minute)
		wantRegError(t, call(t, "POST", srv.URL+"/register", iat2, "application/json", metadata(t, nil)),
			401, ErrInvalidToken, "the initial access token has expired")

		// RFC 7592 read / update / delete.
		uri := srv.URL + "/register/" + clientID
		res = call(t, "GET", uri, rat, "", "")
		if res.status != 200 || res.body["client_id"] != clientID || res.body["registration_access_token"] != nil {
			t.Fatalf("read %d %v", res.status, res.body)
		}
		wantRegError(t, call(t, "GET", uri, "bbrat_wrong", "", ""), 401, ErrInvalidToken, "the registration access token is not valid for this client")
		other, err := e.s.CreateApp(ctx, owner, pid, sandboxApp(t))
		mustOK(t, err)
		wantRegError(t, call(t, "GET", srv.URL+"/register/"+other.ID, rat, "", ""), 401, ErrInvalidToken,
			"the registration access token is not valid for this client")

		wantRegError(t, call(t, "PUT", uri, rat, "application/json", metadata(t, func(m map[string]any) { m["client_id"] = other.ID })),
			400, ErrInvalidClientMetadata, "client_id in the body does not match the URL")
		res = call(t, "PUT", uri, rat, "application/json", metadata(t, func(m map[string]any) {
			m["client_id"] = clientID
			m["client_name"] = "Renamed"
			m["redirect_uris"] = []string{"https://wallet.example/cb"}
			delete(m, "jwks")
			m["jwks_uri"] = "https://wallet.example/jwks"
		}))
		if res.status != 200 || res.body["client_name"] != "Renamed" || res.body["jwks_uri"] != "https://wallet.example/jwks" || res.body["jwks"] != nil {
			t.Fatalf("update %d %v", res.status, res.body)
		}
		c, err = e.s.OAuthClient(ctx, clientID)
		mustOK(t, err)
		if c.Name != "Renamed" || c.JWKSURI != "https://wallet.example/jwks" || len(c.JWKS) != 0 {
			t.Fatalf("client after update %+v", c)
		}

		res = call(t, "DELETE", uri, rat, "", "")
		if res.status != http.StatusNoContent {
			t.Fatalf("delete %d %v", res.status, res.body)
		}
		if c, _ = e.s.OAuthClient(ctx, clientID); c.Active {
			t.Fatal("deleted client active")
		}
		wantRegError(t, call(t, "GET", uri, rat, "", ""), 401, ErrInvalidToken, "the registration access token is not valid for this client")

		// A token issued before the partner was suspended cannot register.
		iat3, _, err := e.s.IssueInitialAccessToken(ctx, owner, pid, environment.Sandbox, 0)
		mustOK(t, err)
		risk, _ := e.staff(staff.RoleRiskOfficer)
		mustOK(t, e.s.Suspend(ctx, risk, pid, "review"))
		wantRegError(t, call(t, "POST", srv.URL+"/register", iat3, "application/json", metadata(t, nil)),
			403, ErrAccessDenied, "cannot create an app: partner is suspended")
	})
}

func TestRegistrationBodyLimit(t *testing.T) {
	gin.SetMode(gin.TestMode)
	d := dbtest.MustSQLite(t)
	e := newEnv(t, d)
	r := gin.New()
	e.s.MountRegistration(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	owner, pid := e.signUp("owner@acme.example", "Acme")
	iat, _, err := e.s.IssueInitialAccessToken(ctx, owner, pid, environment.Sandbox, 0)
	mustOK(t, err)
	big := `{"client_name":"` + string(bytes.Repeat([]byte("a"), maxRegistrationBody)) + `"}`
	wantRegError(t, call(t, "POST", srv.URL+"/register", iat, "application/json", big), 400, ErrInvalidClientMetadata,
		"the body is larger than 65536 bytes")
}

// TestRegistrationTokensDieWithTheirCreatorsMembership: an RFC 7592
// registration access token (and an unused initial access token) works only
// while the member who created it is still a member of the partner with a
// role that may change its apps; it is checked at every use.
func TestRegistrationTokensDieWithTheirCreatorsMembership(t *testing.T) {
	gin.SetMode(gin.TestMode)
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r := gin.New()
		e.s.MountRegistration(r)
		srv := httptest.NewServer(r)
		defer srv.Close()
		owner, pid := e.signUp("owner@acme.example", "Acme")
		leaver := e.member(owner, pid, "leaver@acme.example", RoleDeveloper)
		demoted := e.member(owner, pid, "demoted@acme.example", RoleDeveloper)
		late := e.member(owner, pid, "late@acme.example", RoleDeveloper)

		register := func(userID string) (clientID, rat string) {
			t.Helper()
			iat, _, err := e.s.IssueInitialAccessToken(ctx, userID, pid, environment.Sandbox, 0)
			mustOK(t, err)
			res := call(t, "POST", srv.URL+"/register", iat, "application/json", metadata(t, nil))
			if res.status != http.StatusCreated {
				t.Fatalf("register: %d %v", res.status, res.body)
			}
			return res.body["client_id"].(string), res.body["registration_access_token"].(string)
		}
		readOK := func(name, clientID, rat string) {
			t.Helper()
			if res := call(t, "GET", srv.URL+"/register/"+clientID, rat, "", ""); res.status != http.StatusOK || res.body["client_id"] != clientID {
				t.Fatalf("%s: read %d %v", name, res.status, res.body)
			}
		}
		leaverApp, leaverRAT := register(leaver)
		demotedApp, demotedRAT := register(demoted)
		ownerApp, ownerRAT := register(owner)
		readOK("ok/leaver-still-member", leaverApp, leaverRAT)
		readOK("ok/demoted-still-developer", demotedApp, demotedRAT)
		lateIAT, _, err := e.s.IssueInitialAccessToken(ctx, late, pid, environment.Sandbox, 0)
		mustOK(t, err)

		mustOK(t, e.s.RemoveMember(ctx, owner, pid, leaver))
		mustOK(t, e.s.ChangeRole(ctx, owner, pid, demoted, RoleViewer))
		mustOK(t, e.s.RemoveMember(ctx, owner, pid, late))

		const left = "the registration access token is no longer valid: the member who created it has left the organisation"
		const lostRole = "the registration access token is no longer valid: the member who created it no longer has a role that may change sandbox apps"
		for _, tc := range []struct {
			name, method, clientID, token, ct, body string
			desc                                    string
		}{
			{"fail/read-after-creator-left", "GET", leaverApp, leaverRAT, "", "", left},
			{"fail/update-after-creator-left", "PUT", leaverApp, leaverRAT, "application/json",
				metadata(t, func(m map[string]any) { m["redirect_uris"] = []string{"https://attacker.example/cb"} }), left},
			{"fail/delete-after-creator-left", "DELETE", leaverApp, leaverRAT, "", "", left},
			{"fail/read-after-creator-demoted", "GET", demotedApp, demotedRAT, "", "", lostRole},
			{"fail/update-after-creator-demoted", "PUT", demotedApp, demotedRAT, "application/json", metadata(t, nil), lostRole},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantRegError(t, call(t, tc.method, srv.URL+"/register/"+tc.clientID, tc.token, tc.ct, tc.body), 401, ErrInvalidToken, tc.desc)
			})
		}
		t.Run("fail/initial-token-after-creator-left", func(t *testing.T) {
			wantRegError(t, call(t, "POST", srv.URL+"/register", lateIAT, "application/json", metadata(t, nil)), 401, ErrInvalidToken,
				"the initial access token is no longer valid: the member who created it has left the organisation")
		})
		// The refused calls changed nothing.
		a, err := e.s.App(ctx, leaverApp)
		mustOK(t, err)
		if a.Status != AppActive || a.RedirectURIs[0] != "http://localhost:3000/cb" {
			t.Fatalf("app changed by a dead token: %+v", a)
		}
		// The owner's token still works; the check is made at every use, so
		// giving the role back revives the demoted member's token.
		readOK("ok/owner", ownerApp, ownerRAT)
		mustOK(t, e.s.ChangeRole(ctx, owner, pid, demoted, RoleDeveloper))
		readOK("ok/role-given-back", demotedApp, demotedRAT)
	})
}
