package main

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

// mustKey returns a new P-256 key.
func mustKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// mustJWKFile writes k as a private JWK file and returns its path.
func mustJWKFile(tb testing.TB, k *ecdsa.PrivateKey) string {
	tb.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: k, Algorithm: "ES256"})
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(tb.TempDir(), "key.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// mustFloor starts a floor server for clientKey.
func mustFloor(tb testing.TB, clientKey *ecdsa.PrivateKey, body string) (*floorServer, *httptest.Server) {
	tb.Helper()
	f := &floorServer{clientKey: clientKey.Public(), body: []byte(body)}
	srv := httptest.NewUnstartedServer(f)
	f.base = "http://" + srv.Listener.Addr().String()
	srv.Start()
	tb.Cleanup(srv.Close)
	return f, srv
}

func thumbprint(tb testing.TB, k *ecdsa.PrivateKey) string {
	tb.Helper()
	pub := jose.JSONWebKey{Key: k.Public()}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// TestFloorUnderLoad: the load tool's token and resource modes run against
// the floor without an error — the floor accepts exactly what they send.
func TestFloorUnderLoad(t *testing.T) {
	ctx := context.Background()
	clientKey := mustKey(t)
	f, _ := mustFloor(t, clientKey, `{"Data":{}}`)
	rep, err := LoadToken(ctx, Options{Issuer: f.base, ClientID: "app_floor", Scope: "accounts", Concurrency: 4,
		Duration: time.Minute, MaxRequests: 40}, jose.JSONWebKey{Key: clientKey, Algorithm: "ES256"})
	if err != nil || rep.Requests != 40 || rep.Errors != 0 {
		t.Fatalf("token load: %+v, %v", rep, err)
	}
	dpopKey := mustKey(t)
	tok := f.issue(thumbprint(t, dpopKey))
	var out strings.Builder
	err = runResource(ctx, []string{"--url", f.base + "/accounts/a1/transactions", "--token", tok, "--dpop-key", mustJWKFile(t, dpopKey),
		"--concurrency", "4", "--max-requests", "40"}, &out)
	if err != nil || !strings.Contains(out.String(), "requests=40 errors=0") {
		t.Fatalf("resource load: %s, %v", out.String(), err)
	}
}

// TestFloorRefusals: the floor does the protocol's checks, not less — each
// refusal with its exact answer.
func TestFloorRefusals(t *testing.T) {
	clientKey, dpopKey, otherKey := mustKey(t), mustKey(t), mustKey(t)
	f, _ := mustFloor(t, clientKey, "{}")
	assertion := func(k *ecdsa.PrivateKey, aud string) string {
		s, err := newES256Signer(k, "JWT", false)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		return s.sign(mustJSON(assertionClaims{Iss: "app_floor", Sub: "app_floor", Aud: aud, JTI: uuid.NewString(),
			IAT: now.Unix(), Exp: now.Add(time.Minute).Unix()}))
	}
	proof := func(k *ecdsa.PrivateKey, htm, htu, ath string) string {
		s, err := newES256Signer(k, "dpop+jwt", true)
		if err != nil {
			t.Fatal(err)
		}
		return s.sign(mustJSON(proofClaims{JTI: uuid.NewString(), HTM: htm, HTU: htu, IAT: time.Now().Unix(), ATH: ath}))
	}
	tokenReq := func(a, p string) (int, string) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion": {a},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}
		req, _ := http.NewRequest(http.MethodPost, f.base+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", p)
		return send(t, req)
	}
	getReq := func(tok, p string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, f.base+"/accounts/a1/balances", nil)
		req.Header.Set("Authorization", "DPoP "+tok)
		req.Header.Set("DPoP", p)
		return send(t, req)
	}
	tok := f.issue(thumbprint(t, dpopKey))
	sum := sha256.Sum256([]byte(tok))
	ath := base64.RawURLEncoding.EncodeToString(sum[:])
	spentAssertion, spentProof := assertion(clientKey, f.base), proof(dpopKey, "POST", f.base+"/token", "")
	if st, body := tokenReq(spentAssertion, spentProof); st != http.StatusOK || !strings.Contains(body, `"token_type":"DPoP"`) {
		t.Fatalf("first use: %d %s", st, body)
	}
	spentGetProof := proof(dpopKey, "GET", f.base+"/accounts/a1/balances", ath)
	if st, body := getReq(tok, spentGetProof); st != http.StatusOK || body != "{}" {
		t.Fatalf("first call: %d %s", st, body)
	}
	const badClient, badProof, badToken = `{"error":"invalid_client"}` + "\n", `{"error":"invalid_dpop_proof"}` + "\n", `{"error":"invalid_token"}` + "\n"
	for name, tc := range map[string]struct {
		do         func() (int, string)
		status     int
		wantAnswer string
	}{
		"fail/assertion replayed": {func() (int, string) {
			return tokenReq(spentAssertion, proof(dpopKey, "POST", f.base+"/token", ""))
		}, http.StatusUnauthorized, badClient},
		"fail/assertion signed by another key": {func() (int, string) {
			return tokenReq(assertion(otherKey, f.base), proof(dpopKey, "POST", f.base+"/token", ""))
		}, http.StatusUnauthorized, badClient},
		"fail/assertion for another audience": {func() (int, string) {
			return tokenReq(assertion(clientKey, "https://elsewhere.example"), proof(dpopKey, "POST", f.base+"/token", ""))
		}, http.StatusUnauthorized, badClient},
		"fail/proof replayed at the token endpoint": {func() (int, string) {
			return tokenReq(assertion(clientKey, f.base), spentProof)
		}, http.StatusBadRequest, badProof},
		"fail/proof for another URL": {func() (int, string) {
			return tokenReq(assertion(clientKey, f.base), proof(dpopKey, "POST", f.base+"/other", ""))
		}, http.StatusBadRequest, badProof},
		"fail/proof replayed at a resource": {func() (int, string) { return getReq(tok, spentGetProof) }, http.StatusUnauthorized, badProof},
		"fail/proof without ath": {func() (int, string) {
			return getReq(tok, proof(dpopKey, "GET", f.base+"/accounts/a1/balances", ""))
		}, http.StatusUnauthorized, badProof},
		"fail/proof by another key than the token's": {func() (int, string) {
			return getReq(tok, proof(otherKey, "GET", f.base+"/accounts/a1/balances", ath))
		}, http.StatusUnauthorized, badProof},
		"fail/unknown token": {func() (int, string) {
			return getReq("not-a-token", proof(dpopKey, "GET", f.base+"/accounts/a1/balances", ath))
		}, http.StatusUnauthorized, badToken},
	} {
		t.Run(name, func(t *testing.T) {
			if st, body := tc.do(); st != tc.status || body != tc.wantAnswer {
				t.Fatalf("got %d %q, want %d %q", st, body, tc.status, tc.wantAnswer)
			}
		})
	}
}

// TestRunFloor: the floor subcommand listens where asked, writes a token
// bound to --dpop-key's key and stops with its context.
func TestRunFloor(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clientKey, dpopKey := mustKey(t), mustKey(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runFloor(ctx, []string{"--addr", "127.0.0.1:0", "--client-key", mustJWKFile(t, clientKey),
			"--dpop-key", mustJWKFile(t, dpopKey), "--token-out", tokenFile}, pw)
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.Contains(line, "(issuer http://localhost:") {
		t.Fatalf("first line %q, %v", line, err)
	}
	base := strings.TrimSuffix(line[strings.Index(line, "(issuer ")+len("(issuer "):], ")\n")
	tok, err := os.ReadFile(tokenFile)
	if err != nil || len(tok) != 43 {
		t.Fatalf("token file: %q, %v", tok, err)
	}
	var out strings.Builder
	err = runResource(ctx, []string{"--url", base + "/accounts/a1/balances", "--token", string(tok), "--dpop-key", mustJWKFile(t, dpopKey),
		"--concurrency", "2", "--max-requests", "5"}, &out)
	if err != nil || !strings.Contains(out.String(), "requests=5 errors=0") {
		t.Fatalf("resource calls: %s, %v", out.String(), err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("floor stopped with %v", err)
	}
}

// send sends req and returns the status and body.
func send(tb testing.TB, req *http.Request) (int, string) {
	tb.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
