package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/dpop"
	"github.com/bankbridge/bankbridge/oauth/keys"
)

// multiClients is a ClientRegistry of several apps.
type multiClients map[string]oauth.Client

func (m multiClients) Client(_ context.Context, id string) (*oauth.Client, error) {
	c, ok := m[id]
	if !ok {
		return nil, oauth.ErrClientNotFound
	}
	return &c, nil
}

// loginAnswer is what the bank's login page answered to a sign-in.
type loginAnswer struct {
	status  int
	message string // the page's error (role="alert"), "" on success
	body    string // the page, with the per-request form fields blanked
	name    string // the consent page's "Hello …" greeting, on success
}

var (
	alertRe    = regexp.MustCompile(`(?s)role="alert">(.*?)</`)
	helloRe    = regexp.MustCompile(`<p>Hello ([^<]*)\.</p>`)
	perRequest = regexp.MustCompile(`name="(csrf_token|interaction)" value="[^"]*"`)
)

// TestLoginEnvironments drives the real authorization flow (PAR, the bank's
// login page, the consent page) against the reference core, with a sandbox
// app and a production app of one partner, on every engine. A sandbox app
// signs in only sandbox customers and a production app only production
// customers; a username of the other environment gets, byte for byte, the
// page an unknown username gets. The same username lives in both
// environments and each app gets its own customer.
func TestLoginEnvironments(t *testing.T) {
	secrets.PasswordCost = 4 // bcrypt's minimum: the test checks logic, not cost
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ref := core.NewReference(d, core.Options{})
		if _, err := ref.Seed(ctx, core.SeedOptions{}); err != nil {
			t.Fatal(err)
		}
		// The bank's real customers: one named like the sandbox persona alice,
		// and one whose username exists in production only.
		realAlice, err := ref.CreateCustomer(ctx, environment.Production, "alice", "production-password-1", "Alice Real")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ref.CreateCustomer(ctx, environment.Production, "zed.real", "production-password-1", "Zed Real"); err != nil {
			t.Fatal(err)
		}
		sandboxAlice, err := ref.CustomerByUsername(ctx, environment.Sandbox, "alice")
		if err != nil {
			t.Fatal(err)
		}

		gin.SetMode(gin.ReleaseMode)
		e := gin.New()
		ts := httptest.NewServer(e)
		defer ts.Close()
		box, _ := secrets.NewBox(make([]byte, 32))
		km := keys.NewManager(d.DB, box, nil)
		if err := km.EnsureKeys(ctx, "ES256", "PS256"); err != nil {
			t.Fatal(err)
		}
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Use: "sig", Algorithm: "ES256"}}})
		clients := multiClients{}
		for id, env := range map[string]environment.Environment{"app_sandbox": environment.Sandbox, "app_production": environment.Production} {
			clients[id] = oauth.Client{ID: id, Name: "Pocket Wallet", PartnerID: "ptn_1", PartnerName: "Acme Payments", Environment: env,
				RedirectURIs: []string{"https://wallet.example/cb"}, Scopes: []string{"openid", "accounts"}, JWKS: set, Active: true}
		}
		srv, err := oauth.New(oauth.Config{Issuer: ts.URL, GlobalSecret: make([]byte, 32), PairwiseSecret: make([]byte, 32)}, oauth.Deps{
			DB: d, Keys: km, Clients: clients, Customers: ref, Pages: NewCustomerAuth(MustRenderer(), false),
			DPoPReplay: dpop.NewMemoryReplayStore(),
		})
		if err != nil {
			t.Fatal(err)
		}
		srv.Register(e)
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)

		// login pushes an authorization request for app, opens the login page
		// in a fresh browser and signs in.
		login := func(t *testing.T, app, username, password string) loginAnswer {
			t.Helper()
			jar, _ := cookiejar.New(nil)
			hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			assertion, _ := jwt.Signed(signer).Claims(map[string]any{"iss": app, "sub": app, "aud": ts.URL, "jti": ids.Random(16),
				"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}).Serialize()
			ver := make([]byte, 32)
			rand.Read(ver)
			sum := sha256.Sum256([]byte(base64.RawURLEncoding.EncodeToString(ver)))
			resp, err := hc.PostForm(ts.URL+"/par", url.Values{
				"response_type": {"code"}, "client_id": {app}, "redirect_uri": {"https://wallet.example/cb"}, "scope": {"openid accounts"},
				"state": {"st-0123456789"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion},
			})
			if err != nil {
				t.Fatal(err)
			}
			var par map[string]any
			json.NewDecoder(resp.Body).Decode(&par)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				t.Fatalf("PAR %d %v", resp.StatusCode, par)
			}
			read := func(resp *http.Response, err error) (int, string) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			field := func(body, name string) string {
				m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(body)
				if m == nil {
					t.Fatalf("no %s in\n%s", name, body)
				}
				return m[1]
			}
			_, page := read(hc.Get(ts.URL + "/authorize?" + url.Values{"client_id": {app}, "request_uri": {par["request_uri"].(string)}}.Encode()))
			status, body := read(hc.PostForm(ts.URL+"/authorize", url.Values{"csrf_token": {field(page, "csrf_token")},
				"interaction": {field(page, "interaction")}, "step": {"login"}, "username": {username}, "password": {password}}))
			a := loginAnswer{status: status, body: perRequest.ReplaceAllString(body, `name="$1" value=""`)}
			if m := alertRe.FindStringSubmatch(body); m != nil {
				a.message = strings.TrimSpace(m[1])
			}
			if m := helloRe.FindStringSubmatch(body); m != nil {
				a.name = m[1]
			}
			return a
		}

		const badCredentials = "The username or password is not right. Please check them and try again."
		for _, tc := range []struct {
			name, app, user, pass string
			status                int
			message, greeting     string
		}{
			{"ok/sandbox-app-signs-in-the-sandbox-persona", "app_sandbox", "alice", core.SandboxPassword, 200, "", sandboxAlice.DisplayName},
			{"ok/production-app-signs-in-the-production-customer", "app_production", "alice", "production-password-1", 200, "", realAlice.DisplayName},
			{"fail/sandbox-app-production-password", "app_sandbox", "alice", "production-password-1", 401, badCredentials, ""},
			{"fail/production-app-sandbox-password", "app_production", "alice", core.SandboxPassword, 401, badCredentials, ""},
			{"fail/sandbox-app-production-customer", "app_sandbox", "zed.real", "production-password-1", 401, badCredentials, ""},
			{"fail/production-app-sandbox-persona", "app_production", "bob", core.SandboxPassword, 401, badCredentials, ""},
			{"fail/production-app-locked-persona", "app_production", "dave.locked", core.SandboxPassword, 401, badCredentials, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := login(t, tc.app, tc.user, tc.pass)
				if a.status != tc.status || a.message != tc.message || a.name != tc.greeting {
					t.Fatalf("status %d, message %q, greeting %q; want %d, %q, %q\n%s", a.status, a.message, a.name,
						tc.status, tc.message, tc.greeting, a.body)
				}
			})
		}

		// The other environment's username and an unknown one of the same
		// length get byte-identical pages (status, message, everything but the
		// typed username, which the page echoes).
		for _, tc := range []struct {
			name, app, other, unknown string
		}{
			{"ok/sandbox-app-cannot-tell-a-production-username", "app_sandbox", "zed.real", "zzz.none"},
			{"ok/production-app-cannot-tell-a-persona-username", "app_production", "bob", "bzz"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				other, unknown := login(t, tc.app, tc.other, "production-password-1"), login(t, tc.app, tc.unknown, "production-password-1")
				o := strings.Replace(other.body, `value="`+tc.other+`"`, `value=""`, 1)
				u := strings.Replace(unknown.body, `value="`+tc.unknown+`"`, `value=""`, 1)
				if other.status != unknown.status || other.message != unknown.message || o != u {
					t.Fatalf("other environment: %d %q; unknown: %d %q; pages:\n%s\n---\n%s", other.status, other.message,
						unknown.status, unknown.message, o, u)
				}
				if other.status != http.StatusUnauthorized || other.message != badCredentials {
					t.Fatalf("answer %d %q", other.status, other.message)
				}
			})
		}
	})
}
