package oauth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// testClient is a small FAPI 2.0 client: ES256 private_key_jwt assertions and
// DPoP proofs made with go-jose, a cookie jar for the customer pages, and no
// redirect following.
type testClient struct {
	tb      testing.TB
	id      string
	base    string // the issuer
	key     *ecdsa.PrivateKey
	kid     string
	dpopKey *ecdsa.PrivateKey
	http    *http.Client
	now     func() time.Time
}

func newTestClient(tb testing.TB, id, base string, now func() time.Time) *testClient {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	return &testClient{
		tb: tb, id: id, base: base, key: mustEC(tb), kid: "k-" + id, dpopKey: mustEC(tb), now: now,
		http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

func mustEC(tb testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// jwks is the client's public JWK Set (to register).
func (c *testClient) jwks() json.RawMessage {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: c.key.Public(), KeyID: c.kid, Use: "sig", Algorithm: "ES256"}}}
	b, err := json.Marshal(set)
	if err != nil {
		c.tb.Fatal(err)
	}
	return b
}

func randID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// assertion returns a fresh ES256 client assertion for aud; mut may change claims.
func (c *testClient) assertion(aud string, mut func(map[string]any)) string {
	now := c.now()
	claims := map[string]any{
		"iss": c.id, "sub": c.id, "aud": aud, "jti": randID(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}
	if mut != nil {
		mut(claims)
	}
	return signJWT(c.tb, jose.ES256, c.key, c.kid, "", claims)
}

func signJWT(tb testing.TB, alg jose.SignatureAlgorithm, key any, kid, typ string, claims any) string {
	tb.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	sk := jose.SigningKey{Algorithm: alg, Key: key}
	if kid != "" {
		sk.Key = jose.JSONWebKey{Key: key, KeyID: kid}
	}
	s, err := jose.NewSigner(sk, opts)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// unsignedJWT makes an alg=none token.
func unsignedJWT(claims any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	b, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
}

func rsaKey(tb testing.TB) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// proof returns a DPoP proof by key for method and url; token adds ath.
func proofWith(tb testing.TB, key *ecdsa.PrivateKey, method, u, token, nonce string, iat time.Time) string {
	tb.Helper()
	claims := map[string]any{"jti": randID(), "htm": method, "htu": u, "iat": iat.Unix()}
	if token != "" {
		h := sha256.Sum256([]byte(token))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(h[:])
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func (c *testClient) proof(method, u, token string) string {
	return proofWith(c.tb, c.dpopKey, method, u, token, "", c.now())
}

// jkt is the thumbprint of the client's DPoP key.
func (c *testClient) jkt() string {
	return thumb(c.tb, c.dpopKey)
}

func thumb(tb testing.TB, k *ecdsa.PrivateKey) string {
	jwk := jose.JSONWebKey{Key: k.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// withAuth adds a private_key_jwt assertion for aud to form.
func (c *testClient) withAuth(form url.Values, aud string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = v
	}
	out.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	out.Set("client_assertion", c.assertion(aud, nil))
	return out
}

// post sends form to path with an optional DPoP proof and decodes a JSON answer.
func (c *testClient) post(path string, form url.Values, dpopProof string) (*http.Response, map[string]any) {
	c.tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if dpopProof != "" {
		req.Header.Set("DPoP", dpopProof)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(body) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(body, &m); err != nil {
			c.tb.Fatalf("decode %s: %v: %s", path, err, body)
		}
	}
	return resp, m
}

// get fetches path (query included) and returns the response and body.
func (c *testClient) get(pathQuery string) (*http.Response, string) {
	c.tb.Helper()
	resp, err := c.http.Get(c.base + pathQuery)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// postPage posts a customer page form and returns the response and body.
func (c *testClient) postPage(path string, form url.Values) (*http.Response, string) {
	c.tb.Helper()
	resp, err := c.http.PostForm(c.base+path, form)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var (
	reInteraction = regexp.MustCompile(`name="interaction" value="([^"]+)"`)
	reCSRF        = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// formFields extracts the hidden interaction id and CSRF token of a page.
func formFields(tb testing.TB, body string) (interaction, csrf string) {
	tb.Helper()
	m1, m2 := reInteraction.FindStringSubmatch(body), reCSRF.FindStringSubmatch(body)
	if m1 == nil || m2 == nil {
		tb.Fatalf("page without form fields:\n%s", body)
	}
	return m1[1], m2[1]
}

// pkcePair returns a verifier and its S256 challenge.
func pkcePair() (verifier, challenge string) {
	b := make([]byte, 32)
	rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(h[:])
}

// oauthErr asserts an OAuth error answer: status, error and a hint contained
// in error_description.
func oauthErr(tb testing.TB, resp *http.Response, body map[string]any, status int, code, hint string) {
	tb.Helper()
	if resp.StatusCode != status || body["error"] != code {
		tb.Fatalf("got %d %v, want %d %s", resp.StatusCode, body, status, code)
	}
	if desc, _ := body["error_description"].(string); !strings.Contains(desc, hint) {
		tb.Fatalf("error_description %q does not contain %q", desc, hint)
	}
}
