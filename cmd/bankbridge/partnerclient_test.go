package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

// PartnerClient is a minimal FAPI 2.0 partner written for Go tests: ES256
// private_key_jwt client assertions and a DPoP key, fresh proofs per request.
// (The independent client in the browser tests is oauth4webapi.)
type PartnerClient struct {
	Issuer, ClientID string
	assert, proof    jose.Signer
	http             *http.Client
}

// NewPartnerClient makes a client for clientID signing with key.
func NewPartnerClient(tb testing.TB, issuer, clientID string, key *TestClientKey) *PartnerClient {
	tb.Helper()
	as, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key.Private}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		tb.Fatal(err)
	}
	dk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ps, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: dk}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		tb.Fatal(err)
	}
	return &PartnerClient{Issuer: issuer, ClientID: clientID, assert: as, proof: ps, http: &http.Client{Timeout: 30 * time.Second}}
}

func (c *PartnerClient) sign(s jose.Signer, claims map[string]any) string {
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		panic(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// Proof makes a DPoP proof for method and URL (with ath when token is set).
func (c *PartnerClient) Proof(method, u, token string) string {
	claims := map[string]any{"jti": uuid.NewString(), "htm": method, "htu": u, "iat": time.Now().Unix()}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return c.sign(c.proof, claims)
}

// ClientCredentials gets a DPoP-bound client_credentials token for scope.
func (c *PartnerClient) ClientCredentials(tb testing.TB, scope string) string {
	tb.Helper()
	now := time.Now()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {c.sign(c.assert, map[string]any{"iss": c.ClientID, "sub": c.ClientID, "aud": c.Issuer,
			"jti": uuid.NewString(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})}}
	req, _ := http.NewRequest("POST", c.Issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", c.Proof("POST", c.Issuer+"/token", ""))
	resp, err := c.http.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	body, _ := io.ReadAll(resp.Body)
	json.Unmarshal(body, &tok)
	if resp.StatusCode != 200 || tok.TokenType != "DPoP" {
		tb.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	return tok.AccessToken
}

// Do sends a DPoP-authenticated request with an optional JSON body and
// returns the status, headers and body.
func (c *PartnerClient) Do(tb testing.TB, token, method, path string, body any, headers ...string) (int, http.Header, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, c.Issuer+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	req.Header.Set("Authorization", "DPoP "+token)
	req.Header.Set("DPoP", c.Proof(method, c.Issuer+strings.SplitN(path, "?", 2)[0], token))
	resp, err := c.http.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}
