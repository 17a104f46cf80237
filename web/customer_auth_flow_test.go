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

	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/dpop"
	"github.com/bankbridge/bankbridge/oauth/keys"
)

type flowClients struct{ c oauth.Client }

func (f flowClients) Client(_ context.Context, id string) (*oauth.Client, error) {
	if id != f.c.ID {
		return nil, oauth.ErrClientNotFound
	}
	c := f.c
	return &c, nil
}

type flowCustomers struct{}

func (flowCustomers) Authenticate(_ context.Context, env environment.Environment, u, p string) (string, error) {
	if env == environment.Sandbox && u == "alice" && p == "pw" {
		return "cus_alice", nil
	}
	return "", oauth.ErrBadCredentials
}

func (flowCustomers) DisplayName(context.Context, string) (string, error) { return "Alice", nil }

// TestCustomerAuthFlow drives the real login and consent pages through the
// authorization server: PAR, the login page, the consent page, Authorise, and
// the redirect with code and iss; and refuses a consent post without the CSRF
// token.
func TestCustomerAuthFlow(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	d := dbtest.MustSQLite(t)
	e := gin.New()
	ts := httptest.NewServer(e)
	defer ts.Close()
	box, _ := secrets.NewBox(make([]byte, 32))
	km := keys.NewManager(d.DB, box, nil)
	if err := km.EnsureKeys(context.Background(), "ES256", "PS256"); err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Use: "sig", Algorithm: "ES256"}}})
	client := oauth.Client{ID: "app_web", Name: "Pocket Wallet", PartnerID: "ptn_1", PartnerName: "Acme Payments", Environment: environment.Sandbox,
		RedirectURIs: []string{"https://wallet.example/cb"}, Scopes: []string{"openid", "accounts"}, JWKS: set, Active: true}
	srv, err := oauth.New(oauth.Config{Issuer: ts.URL, GlobalSecret: make([]byte, 32), PairwiseSecret: make([]byte, 32)}, oauth.Deps{
		DB: d, Keys: km, Clients: flowClients{client}, Customers: flowCustomers{}, Pages: NewCustomerAuth(MustRenderer(), false),
		DPoPReplay: dpop.NewMemoryReplayStore(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Register(e)

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	assertion, _ := jwt.Signed(signer).Claims(map[string]any{"iss": "app_web", "sub": "app_web", "aud": ts.URL, "jti": "j1",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}).Serialize()
	ver := make([]byte, 32)
	rand.Read(ver)
	sum := sha256.Sum256([]byte(base64.RawURLEncoding.EncodeToString(ver)))
	resp, err := hc.PostForm(ts.URL+"/par", url.Values{
		"response_type": {"code"}, "client_id": {"app_web"}, "redirect_uri": {"https://wallet.example/cb"}, "scope": {"openid accounts"},
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
	read := func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	field := func(body, name string) string {
		m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no %s in\n%s", name, body)
		}
		return m[1]
	}
	_, login := read(hc.Get(ts.URL + "/authorize?" + url.Values{"client_id": {"app_web"}, "request_uri": {par["request_uri"].(string)}}.Encode()))
	if !strings.Contains(login, "<label for=\"username\">Username</label>") {
		t.Fatalf("login page:\n%s", login)
	}
	resp, consent := read(hc.PostForm(ts.URL+"/authorize", url.Values{"csrf_token": {field(login, "csrf_token")}, "interaction": {field(login, "interaction")},
		"step": {"login"}, "username": {"alice"}, "password": {"pw"}}))
	if resp.StatusCode != 200 || !strings.Contains(consent, ">Authorise</button>") || !strings.Contains(consent, "Pocket Wallet") {
		t.Fatalf("consent page %d:\n%s", resp.StatusCode, consent)
	}
	// fail/a consent post without the CSRF token.
	resp, body := read(hc.PostForm(ts.URL+"/authorize", url.Values{"interaction": {field(consent, "interaction")}, "step": {"consent"}, "decision": {"approve"}}))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "This page has expired") {
		t.Fatalf("without CSRF: %d %s", resp.StatusCode, body)
	}
	// ok/Authorise.
	resp, _ = read(hc.PostForm(ts.URL+"/authorize", url.Values{"csrf_token": {field(consent, "csrf_token")}, "interaction": {field(consent, "interaction")},
		"step": {"consent"}, "decision": {"approve"}}))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("code") == "" || loc.Query().Get("iss") != ts.URL || loc.Query().Get("state") != "st-0123456789" {
		t.Fatalf("%d %s", resp.StatusCode, loc)
	}
}
