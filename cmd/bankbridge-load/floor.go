package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The floor: the least any server must do per request under Bankbridge's
// protocol, with nothing else — no framework, no database, no consent,
// quota or metering. It is the measure of what the machine allows, run
// beside Bankbridge with the same load tool on the same cores:
//
//   - POST /token: the client_credentials grant as the token mode sends it:
//     the ES256 client assertion verified with the client's key (RFC 7523
//     §3: iss = sub, aud, exp), the DPoP proof verified with its embedded
//     key (RFC 9449 §4.3: typ, htm, htu, iat), both jtis refused on reuse
//     (kept in memory), a random access token bound to the proof's key;
//   - GET any other path: a resource call as the resource mode sends it:
//     the token looked up, the DPoP proof verified and checked against the
//     token's key and hash (ath), then a fixed body (--body: a page of
//     transactions, say) written.
//
//	bankbridge-load floor --addr 127.0.0.1:8091 --client-key private-or-public-jwk.json [--body FILE]
//
// The resource mode needs a token the floor issued: --token-out writes the
// first token it issues, bound to --dpop-key's key, to a file.

// floorServer is the floor's handler (see above).
type floorServer struct {
	base      string // scheme://host of the server, for htu
	clientKey any    // the client's public key
	clientID  string // "" accepts any (iss = sub)
	body      []byte
	jtis      sync.Map // "a"+assertion jti / "p"+proof jti → expiry
	tokens    sync.Map // access token → jkt
}

// floorClaims are the claims the floor reads of an assertion or a proof.
type floorClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud any    `json:"aud"`
	JTI string `json:"jti"`
	Exp int64  `json:"exp"`
	IAT int64  `json:"iat"`
	HTM string `json:"htm"`
	HTU string `json:"htu"`
	ATH string `json:"ath"`
}

// errFloor is every refusal of the floor: the load tool counts non-2xx
// answers as errors, and a floor refusing is a floor mis-set.
var errFloor = errors.New("refused")

// fresh records jti once: a reused one is refused.
func (f *floorServer) fresh(kind, jti string) bool {
	if jti == "" {
		return false
	}
	_, used := f.jtis.LoadOrStore(kind+jti, true)
	return !used
}

// proof verifies r's DPoP proof for htm at the request's URL and returns
// its key's thumbprint and its claims.
func (f *floorServer) proof(r *http.Request, htm string) (string, *floorClaims, error) {
	jws, err := jose.ParseSignedCompact(r.Header.Get("DPoP"), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return "", nil, errFloor
	}
	h := jws.Signatures[0].Protected
	if h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() || h.ExtraHeaders[jose.HeaderType] != "dpop+jwt" {
		return "", nil, errFloor
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		return "", nil, errFloor
	}
	var c floorClaims
	now := time.Now().Unix()
	if json.Unmarshal(payload, &c) != nil || c.HTM != htm || c.HTU != f.base+r.URL.Path || c.IAT < now-60 || c.IAT > now+5 ||
		!f.fresh("p", c.JTI) {
		return "", nil, errFloor
	}
	tp, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", nil, errFloor
	}
	return base64.RawURLEncoding.EncodeToString(tp), &c, nil
}

func (f *floorServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" ||
		r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	jws, err := jose.ParseSignedCompact(r.PostForm.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	payload, err := jws.Verify(f.clientKey)
	var c floorClaims
	now := time.Now().Unix()
	if err != nil || json.Unmarshal(payload, &c) != nil || c.Iss == "" || c.Iss != c.Sub ||
		(f.clientID != "" && c.Iss != f.clientID) || c.Aud != f.base || c.Exp < now || !f.fresh("a", c.JTI) {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	jkt, _, err := f.proof(r, http.MethodPost)
	if err != nil {
		http.Error(w, `{"error":"invalid_dpop_proof"}`, http.StatusBadRequest)
		return
	}
	tok := f.issue(jkt)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "DPoP", "expires_in": 300,
		"scope": r.PostForm.Get("scope")})
}

func (f *floorServer) resource(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "DPoP ")
	v, known := f.tokens.Load(tok)
	if !ok || !known {
		http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
		return
	}
	jkt, c, err := f.proof(r, http.MethodGet)
	sum := sha256.Sum256([]byte(tok))
	if err != nil || jkt != v.(string) || c.ATH != base64.RawURLEncoding.EncodeToString(sum[:]) {
		http.Error(w, `{"error":"invalid_dpop_proof"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(f.body)
}

// ServeHTTP routes the floor's two requests.
func (f *floorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/token":
		f.token(w, r)
	case r.Method == http.MethodGet:
		f.resource(w, r)
	default:
		http.Error(w, "", http.StatusMethodNotAllowed)
	}
}

// issue gives a random token bound to the thumbprint jkt: the token
// endpoint's, and --token-out's for the resource mode.
func (f *floorServer) issue(jkt string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	f.tokens.Store(tok, jkt)
	return tok
}

// runFloor serves the floor until ctx ends.
func runFloor(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	var addr, keyFile, bodyFile, dpopKeyFile, tokenOut, clientID string
	fs.StringVar(&addr, "addr", "127.0.0.1:8091", "address to listen on")
	fs.StringVar(&keyFile, "client-key", "", "the client's signing key as a JWK file (its public part is used)")
	fs.StringVar(&clientID, "client-id", "", "the client_id assertions must carry (default: any)")
	fs.StringVar(&bodyFile, "body", "", "the body of every GET (default: {})")
	fs.StringVar(&dpopKeyFile, "dpop-key", "", "with --token-out: the DPoP key (JWK) the written token is bound to")
	fs.StringVar(&tokenOut, "token-out", "", "write a token bound to --dpop-key to this file, for the resource mode")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key, err := readJWK(keyFile)
	if err != nil {
		return fmt.Errorf("--client-key: %w", err)
	}
	body := []byte("{}")
	if bodyFile != "" {
		if body, err = os.ReadFile(bodyFile); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	f := &floorServer{base: "http://" + hostFor(ln.Addr().String(), addr), clientKey: key.Public().Key, clientID: clientID, body: body}
	if tokenOut != "" {
		dk, err := readJWK(dpopKeyFile)
		if err != nil {
			return fmt.Errorf("--dpop-key: %w", err)
		}
		pub := dk.Public()
		tp, err := pub.Thumbprint(crypto.SHA256)
		if err != nil {
			return err
		}
		if err := os.WriteFile(tokenOut, []byte(f.issue(base64.RawURLEncoding.EncodeToString(tp))), 0o600); err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "floor: serving on %s (issuer %s)\n", ln.Addr(), f.base)
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// hostFor is the host:port clients use: the one asked for, with the port
// the listener got when it asked for :0; localhost for 127.0.0.1, as the
// load tool's --issuer defaults spell it.
func hostFor(bound, asked string) string {
	host, _, _ := net.SplitHostPort(asked)
	_, port, _ := net.SplitHostPort(bound)
	if host == "" || host == "127.0.0.1" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// readJWK reads a JWK file.
func readJWK(path string) (jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	raw, err := os.ReadFile(path)
	if err != nil {
		return k, err
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return k, fmt.Errorf("parse %s: %w", path, err)
	}
	return k, nil
}
