package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testNow is the fixed clock of the verifier tests.
var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const testURL = "https://as.example.com/token"

// Keys generated once per test binary; RSA generation is slow.
var (
	ecKey    = mustEC(elliptic.P256())
	ecKey2   = mustEC(elliptic.P256())
	ecKey384 = mustEC(elliptic.P384())
	rsaKey   = mustRSA(2048)
	rsaSmall = mustRSA(1024)
	_, edKey = mustEd()
)

func mustEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEd() (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return pub, priv
}

// publicJWK returns the public JWK of a private key as a JSON-ready map.
func publicJWK(tb testing.TB, priv crypto.Signer) map[string]any {
	tb.Helper()
	return jwkMap(tb, jose.JSONWebKey{Key: priv.Public()})
}

func jwkMap(tb testing.TB, k jose.JSONWebKey) map[string]any {
	tb.Helper()
	b, err := json.Marshal(k)
	if err != nil {
		tb.Fatalf("marshal jwk: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// signRaw signs input the JWS way for alg with key (an HS256 key is []byte).
func signRaw(tb testing.TB, alg string, key any, input []byte) []byte {
	tb.Helper()
	switch alg {
	case "ES256", "ES384":
		k := key.(*ecdsa.PrivateKey)
		h := crypto.SHA256
		if alg == "ES384" {
			h = crypto.SHA384
		}
		hh := h.New()
		hh.Write(input)
		r, s, err := ecdsa.Sign(rand.Reader, k, hh.Sum(nil))
		if err != nil {
			tb.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	case "PS256", "RS256":
		d := sha256.Sum256(input)
		var sig []byte
		var err error
		if alg == "PS256" {
			sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, d[:])
		}
		if err != nil {
			tb.Fatal(err)
		}
		return sig
	case "EdDSA":
		return ed25519.Sign(key.(ed25519.PrivateKey), input)
	case "HS256":
		m := hmac.New(sha256.New, key.([]byte))
		m.Write(input)
		return m.Sum(nil)
	case "none":
		return nil
	}
	tb.Fatalf("signRaw: alg %s", alg)
	return nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b64(b)
}

// proofSpec describes a proof to build; its zero value plus defaults() is a
// valid ES256 proof for POST testURL at testNow.
type proofSpec struct {
	alg     string
	signAlg string // alg used to sign, when it differs from the header's
	key     any    // signing key
	header  map[string]any
	claims  map[string]any
	// rawPayload, when set, replaces the base64url-encoded claims.
	rawPayload string
	// rawHeader, when set, replaces the base64url-encoded header.
	rawHeader string
}

func defaultHeader(tb testing.TB, key crypto.Signer) map[string]any {
	return map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": publicJWK(tb, key)}
}

func defaultClaims() map[string]any {
	return map[string]any{
		"jti": "jti-" + b64(randBytes(12)),
		"htm": "POST",
		"htu": testURL,
		"iat": testNow.Unix(),
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// build makes the compact JWS.
func (s proofSpec) build(tb testing.TB) string {
	tb.Helper()
	if s.alg == "" {
		s.alg = "ES256"
	}
	if s.signAlg == "" {
		s.signAlg = s.alg
	}
	if s.key == nil {
		s.key = ecKey
	}
	if s.header == nil {
		s.header = defaultHeader(tb, ecKey)
		s.header["alg"] = s.alg
	}
	if s.claims == nil {
		s.claims = defaultClaims()
	}
	h := s.rawHeader
	if h == "" {
		h = b64JSON(tb, s.header)
	}
	p := s.rawPayload
	if p == "" {
		p = b64JSON(tb, s.claims)
	}
	input := h + "." + p
	return input + "." + b64(signRaw(tb, s.signAlg, s.key, []byte(input)))
}

// joseProof signs claims with go-jose (embedded JWK, typ dpop+jwt), as a
// client library would.
func joseProof(tb testing.TB, alg jose.SignatureAlgorithm, key any, claims map[string]any) string {
	tb.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	jws, err := signer.Sign(b)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func mustThumbprint(tb testing.TB, pub any) string {
	tb.Helper()
	tp, err := Thumbprint(&jose.JSONWebKey{Key: pub})
	if err != nil {
		tb.Fatal(err)
	}
	return tp
}

var randReader = rand.Reader

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// selfSigned makes a self-signed certificate for key.
func selfSigned(tb testing.TB, key *ecdsa.PrivateKey) *x509.Certificate {
	tb.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
