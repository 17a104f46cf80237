package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

var nonceKey = []byte("0123456789abcdef0123456789abcdef")

const nonceWindow = time.Minute

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

func newVerifier() *Verifier {
	st := NewMemoryReplayStore()
	st.(*MemoryReplayStore).Now = clockAt(testNow)
	return &Verifier{Replay: st, Now: clockAt(testNow)}
}

func withClaims(edit func(c map[string]any)) map[string]any {
	c := defaultClaims()
	edit(c)
	return c
}

func withHeader(tb testing.TB, edit func(h map[string]any)) map[string]any {
	h := defaultHeader(tb, ecKey)
	edit(h)
	return h
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	const token = "at-0123456789"
	ecJKT := mustThumbprint(t, &ecKey.PublicKey)
	nonces := NewNonceSource(nonceKey, nonceWindow, clockAt(testNow))
	prevNonce := NewNonceSource(nonceKey, nonceWindow, clockAt(testNow.Add(-nonceWindow))).Nonce()
	oldNonce := NewNonceSource(nonceKey, nonceWindow, clockAt(testNow.Add(-2*nonceWindow))).Nonce()
	otherKeyNonce := NewNonceSource([]byte("another-key-of-32-bytes-length!!"), nonceWindow, clockAt(testNow)).Nonce()

	rsaHeader := map[string]any{"typ": "dpop+jwt", "alg": "PS256", "jwk": publicJWK(t, rsaKey)}
	edHeader := map[string]any{"typ": "dpop+jwt", "alg": "EdDSA", "jwk": publicJWK(t, edKey)}

	type tc struct {
		name     string
		proof    func(t *testing.T) string
		method   string // default POST
		url      string // default testURL
		opts     VerifyOptions
		setup    func(v *Verifier)
		wantCode string // "" means success
		wantDesc string
		check    func(t *testing.T, p *Proof)
	}
	spec := func(s proofSpec) func(t *testing.T) string {
		return func(t *testing.T) string { return s.build(t) }
	}
	cases := []tc{
		{name: "ok/ES256", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["jti"] = "j-1" })}),
			check: func(t *testing.T, p *Proof) {
				if p.JKT != ecJKT || p.ID != "j-1" || p.Method != "POST" || p.URL != testURL || !p.IssuedAt.Equal(testNow) {
					t.Errorf("proof = %+v", p)
				}
				if pub, ok := p.Key.Key.(*ecdsa.PublicKey); !ok || !pub.Equal(&ecKey.PublicKey) {
					t.Errorf("key = %T", p.Key.Key)
				}
			}},
		{name: "ok/ES256 signed by go-jose", proof: func(t *testing.T) string {
			return joseProof(t, jose.ES256, ecKey, defaultClaims())
		}},
		{name: "ok/PS256", proof: spec(proofSpec{alg: "PS256", key: rsaKey, header: rsaHeader})},
		{name: "ok/PS256 signed by go-jose", proof: func(t *testing.T) string {
			return joseProof(t, jose.PS256, rsaKey, defaultClaims())
		}},
		{name: "ok/EdDSA when allowed", proof: spec(proofSpec{alg: "EdDSA", key: edKey, header: edHeader}),
			setup: func(v *Verifier) { v.Algs = []string{"EdDSA"} }},
		{name: "ok/iat at the edge of MaxAge", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["iat"] = testNow.Add(-60 * time.Second).Unix() })})},
		{name: "ok/iat within leeway", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["iat"] = testNow.Add(5 * time.Second).Unix() })})},
		{name: "ok/fractional iat", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["iat"] = float64(testNow.Unix()) + 0.5 })}),
			check: func(t *testing.T, p *Proof) {
				if want := testNow.Add(500 * time.Millisecond); !p.IssuedAt.Equal(want) {
					t.Errorf("IssuedAt = %v, want %v", p.IssuedAt, want)
				}
			}},
		{name: "ok/htu normalised: case, default port, percent-encoding, query, fragment",
			proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["htu"] = "HTTPS://AS.Example.COM:443/%7Eapi/a%2fb?x=1#f" })}),
			url:   "https://as.example.com/~api/a%2Fb?y=2"},
		{name: "ok/htu empty path is /", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["htu"] = "https://as.example.com" })}),
			url: "https://as.example.com/"},
		{name: "ok/ath", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["ath"] = AccessTokenHash(token) })}),
			method: "POST", opts: VerifyOptions{AccessToken: token},
			check: func(t *testing.T, p *Proof) {
				if p.AccessTokenHash != AccessTokenHash(token) {
					t.Errorf("ath = %q", p.AccessTokenHash)
				}
			}},
		{name: "ok/expected jkt", proof: spec(proofSpec{}), opts: VerifyOptions{ExpectedJKT: ecJKT}},
		{name: "ok/nonce required and current", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["nonce"] = nonces.Nonce() })}),
			setup: func(v *Verifier) { v.Nonces, v.RequireNonce = nonces, true },
			check: func(t *testing.T, p *Proof) {
				if p.Nonce != nonces.Nonce() {
					t.Errorf("nonce = %q", p.Nonce)
				}
			}},
		{name: "ok/nonce from the previous window", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["nonce"] = prevNonce })}),
			setup: func(v *Verifier) { v.Nonces, v.RequireNonce = nonces, true }},
		{name: "ok/nonce optional and absent", proof: spec(proofSpec{}),
			setup: func(v *Verifier) { v.Nonces = nonces }},

		// Syntax.
		{name: "fail/empty", proof: func(*testing.T) string { return "" }, wantCode: CodeInvalidProof, wantDesc: "missing DPoP proof"},
		{name: "fail/one part", proof: func(*testing.T) string { return "abc" }, wantCode: CodeInvalidProof, wantDesc: "DPoP proof is not a compact JWS"},
		{name: "fail/two parts", proof: func(*testing.T) string { return "abc.def" }, wantCode: CodeInvalidProof, wantDesc: "DPoP proof is not a compact JWS"},
		{name: "fail/four parts", proof: func(t *testing.T) string { return proofSpec{}.build(t) + ".x" }, wantCode: CodeInvalidProof, wantDesc: "DPoP proof is not a compact JWS"},
		{name: "fail/header not base64url", proof: spec(proofSpec{rawHeader: "e30="}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof header is not base64url"},
		{name: "fail/header not JSON", proof: spec(proofSpec{rawHeader: b64([]byte("not json"))}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof header is not a JSON object"},
		{name: "fail/typ missing", proof: spec(proofSpec{header: withHeader(t, func(h map[string]any) { delete(h, "typ") })}),
			wantCode: CodeInvalidProof, wantDesc: "DPoP proof typ must be dpop+jwt"},
		{name: "fail/typ JWT", proof: spec(proofSpec{header: withHeader(t, func(h map[string]any) { h["typ"] = "JWT" })}),
			wantCode: CodeInvalidProof, wantDesc: "DPoP proof typ must be dpop+jwt"},
		{name: "fail/alg none", proof: spec(proofSpec{alg: "none"}), wantCode: CodeInvalidProof, wantDesc: `DPoP proof alg "none" is not allowed`},
		{name: "fail/alg HS256", proof: spec(proofSpec{alg: "HS256", key: []byte("shared-secret")}), wantCode: CodeInvalidProof, wantDesc: `DPoP proof alg "HS256" is not allowed`},
		{name: "fail/alg HS256 even if listed", proof: spec(proofSpec{alg: "HS256", key: []byte("shared-secret")}),
			setup: func(v *Verifier) { v.Algs = []string{"HS256", "ES256"} }, wantCode: CodeInvalidProof, wantDesc: `DPoP proof alg "HS256" is not allowed`},
		{name: "fail/alg RS256", proof: spec(proofSpec{alg: "RS256", key: rsaKey, header: map[string]any{"typ": "dpop+jwt", "alg": "RS256", "jwk": publicJWK(t, rsaKey)}}),
			wantCode: CodeInvalidProof, wantDesc: `DPoP proof alg "RS256" is not allowed`},
		{name: "fail/alg EdDSA not in Algs", proof: spec(proofSpec{alg: "EdDSA", key: edKey, header: edHeader}),
			wantCode: CodeInvalidProof, wantDesc: `DPoP proof alg "EdDSA" is not allowed`},
		{name: "fail/alg missing", proof: spec(proofSpec{header: withHeader(t, func(h map[string]any) { delete(h, "alg") })}),
			wantCode: CodeInvalidProof, wantDesc: `DPoP proof alg "" is not allowed`},
		{name: "fail/crit", proof: spec(proofSpec{header: withHeader(t, func(h map[string]any) { h["crit"] = []string{"exp"}; h["exp"] = 1 })}),
			wantCode: CodeInvalidProof, wantDesc: "DPoP proof has a crit header, which is not supported"},
		{name: "fail/jwk missing", proof: spec(proofSpec{header: withHeader(t, func(h map[string]any) { delete(h, "jwk") })}),
			wantCode: CodeInvalidProof, wantDesc: "DPoP proof has no jwk header"},
		{name: "fail/jwk not a key", proof: spec(proofSpec{header: withHeader(t, func(h map[string]any) {
			h["jwk"] = map[string]any{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}
		})}),
			wantCode: CodeInvalidProof, wantDesc: "DPoP proof jwk header is not a valid JWK"},
		{name: "fail/jwk a string", proof: spec(proofSpec{header: withHeader(t, func(h map[string]any) { h["jwk"] = "key" })}),
			wantCode: CodeInvalidProof, wantDesc: "DPoP proof jwk header is not a valid JWK"},
		{name: "fail/jwk private EC key", proof: spec(proofSpec{header: withHeader(t, func(h map[string]any) { h["jwk"] = jwkMap(t, jose.JSONWebKey{Key: ecKey}) })}),
			wantCode: CodeInvalidProof, wantDesc: "DPoP proof jwk header must hold a public key, not a private or symmetric key"},
		{name: "fail/jwk private RSA key", proof: spec(proofSpec{alg: "PS256", key: rsaKey, header: map[string]any{"typ": "dpop+jwt", "alg": "PS256", "jwk": jwkMap(t, jose.JSONWebKey{Key: rsaKey})}}),
			wantCode: CodeInvalidProof, wantDesc: "DPoP proof jwk header must hold a public key, not a private or symmetric key"},
		{name: "fail/jwk symmetric key", proof: spec(proofSpec{header: withHeader(t, func(h map[string]any) { h["jwk"] = map[string]any{"kty": "oct", "k": b64([]byte("shared-secret"))} })}),
			wantCode: CodeInvalidProof, wantDesc: "DPoP proof jwk header must hold a public key, not a private or symmetric key"},
		{name: "fail/jwk with x5c", proof: spec(proofSpec{header: withHeader(t, func(h map[string]any) {
			h["jwk"] = jwkMap(t, jose.JSONWebKey{Key: &ecKey.PublicKey, Certificates: []*x509.Certificate{selfSigned(t, ecKey)}})
		})}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof jwk header must not carry x5c"},
		{name: "fail/jwk RSA key with ES256", proof: spec(proofSpec{header: withHeader(t, func(h map[string]any) { h["jwk"] = publicJWK(t, rsaKey) })}),
			wantCode: CodeInvalidProof, wantDesc: "DPoP proof jwk does not match alg ES256"},
		{name: "fail/jwk P-384 key with ES256", proof: spec(proofSpec{key: ecKey384, signAlg: "ES384", header: withHeader(t, func(h map[string]any) { h["jwk"] = publicJWK(t, ecKey384) })}),
			wantCode: CodeInvalidProof, wantDesc: "DPoP proof jwk does not match alg ES256"},
		{name: "fail/jwk EC key with PS256", proof: spec(proofSpec{alg: "PS256", key: rsaKey, header: withHeader(t, func(h map[string]any) { h["alg"] = "PS256" })}),
			wantCode: CodeInvalidProof, wantDesc: "DPoP proof jwk does not match alg PS256"},
		{name: "fail/jwk RSA 1024", proof: spec(proofSpec{alg: "PS256", key: rsaSmall, header: map[string]any{"typ": "dpop+jwt", "alg": "PS256", "jwk": publicJWK(t, rsaSmall)}}),
			wantCode: CodeInvalidProof, wantDesc: "DPoP proof RSA key is shorter than 2048 bits"},

		// Signature.
		{name: "fail/signature not base64url", proof: func(t *testing.T) string {
			p := proofSpec{}.build(t)
			return p[:strings.LastIndexByte(p, '.')+1] + "!!!"
		}, wantCode: CodeInvalidProof, wantDesc: "DPoP proof signature is not base64url"},
		{name: "fail/signature by another key", proof: spec(proofSpec{key: ecKey2}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof signature is invalid"},
		{name: "fail/signature empty", proof: func(t *testing.T) string {
			p := proofSpec{}.build(t)
			return p[:strings.LastIndexByte(p, '.')+1]
		}, wantCode: CodeInvalidProof, wantDesc: "DPoP proof signature is invalid"},
		{name: "fail/signature DER-encoded", proof: func(t *testing.T) string {
			p := proofSpec{}.build(t)
			input := p[:strings.LastIndexByte(p, '.')]
			d := sha256Sum([]byte(input))
			der, err := ecdsa.SignASN1(randReader, ecKey, d[:])
			if err != nil {
				t.Fatal(err)
			}
			return input + "." + b64(der)
		}, wantCode: CodeInvalidProof, wantDesc: "DPoP proof signature is invalid"},
		{name: "fail/PS256 signature tampered", proof: func(t *testing.T) string {
			p := proofSpec{alg: "PS256", key: rsaKey, header: rsaHeader}.build(t)
			return p[:len(p)-4] + "AAAA"
		}, wantCode: CodeInvalidProof, wantDesc: "DPoP proof signature is invalid"},
		{name: "fail/payload tampered", proof: func(t *testing.T) string {
			p := proofSpec{}.build(t)
			parts := strings.Split(p, ".")
			other := proofSpec{claims: withClaims(func(c map[string]any) { c["htm"] = "GET" })}.build(t)
			return parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2]
		}, wantCode: CodeInvalidProof, wantDesc: "DPoP proof signature is invalid"},

		// Claims.
		{name: "fail/payload not base64url", proof: spec(proofSpec{rawPayload: "e30="}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof payload is not base64url"},
		{name: "fail/payload not JSON", proof: spec(proofSpec{rawPayload: b64([]byte("[1,2]"))}), wantCode: CodeInvalidProof,
			wantDesc: "DPoP proof claims are not a JSON object with the expected claim types"},
		{name: "fail/jti a number", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["jti"] = 7 })}), wantCode: CodeInvalidProof,
			wantDesc: "DPoP proof claims are not a JSON object with the expected claim types"},
		{name: "fail/iat a string", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["iat"] = "1795435200" })}), wantCode: CodeInvalidProof,
			wantDesc: "DPoP proof claims are not a JSON object with the expected claim types"},
		{name: "fail/jti missing", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { delete(c, "jti") })}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof has no jti"},
		{name: "fail/jti empty", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["jti"] = "" })}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof has no jti"},
		{name: "fail/jti too long", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["jti"] = strings.Repeat("j", 257) })}), wantCode: CodeInvalidProof,
			wantDesc: "DPoP proof jti is longer than 256 characters"},
		{name: "fail/htm missing", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { delete(c, "htm") })}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof has no htm"},
		{name: "fail/htm mismatch", proof: spec(proofSpec{}), method: "GET", wantCode: CodeInvalidProof, wantDesc: "htm does not match the request method"},
		{name: "fail/htm lower case", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["htm"] = "post" })}), wantCode: CodeInvalidProof, wantDesc: "htm does not match the request method"},
		{name: "fail/htu missing", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { delete(c, "htu") })}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof has no htu"},
		{name: "fail/htu relative", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["htu"] = "/token" })}), wantCode: CodeInvalidProof, wantDesc: "htu is not an absolute URL"},
		{name: "fail/htu with userinfo", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["htu"] = "https://u:p@as.example.com/token" })}), wantCode: CodeInvalidProof, wantDesc: "htu is not an absolute URL"},
		{name: "fail/htu other path", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["htu"] = "https://as.example.com/par" })}), wantCode: CodeInvalidProof, wantDesc: "htu does not match the request URL"},
		{name: "fail/htu path case differs", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["htu"] = "https://as.example.com/Token" })}), wantCode: CodeInvalidProof, wantDesc: "htu does not match the request URL"},
		{name: "fail/htu other host", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["htu"] = "https://evil.example.com/token" })}), wantCode: CodeInvalidProof, wantDesc: "htu does not match the request URL"},
		{name: "fail/htu http instead of https", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["htu"] = "http://as.example.com/token" })}), wantCode: CodeInvalidProof, wantDesc: "htu does not match the request URL"},
		{name: "fail/htu other port", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["htu"] = "https://as.example.com:8443/token" })}), wantCode: CodeInvalidProof, wantDesc: "htu does not match the request URL"},
		{name: "fail/iat missing", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { delete(c, "iat") })}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof has no iat"},
		{name: "fail/iat too old", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["iat"] = testNow.Add(-61 * time.Second).Unix() })}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof iat is too old"},
		{name: "fail/iat far in the past", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["iat"] = -1e300 })}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof iat is too old"},
		{name: "fail/iat in the future", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["iat"] = testNow.Add(6 * time.Second).Unix() })}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof iat is in the future"},
		{name: "fail/iat far in the future", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["iat"] = 1e300 })}), wantCode: CodeInvalidProof, wantDesc: "DPoP proof iat is in the future"},
		{name: "fail/iat older than a custom MaxAge", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["iat"] = testNow.Add(-11 * time.Second).Unix() })}),
			setup: func(v *Verifier) { v.MaxAge = 10 * time.Second }, wantCode: CodeInvalidProof, wantDesc: "DPoP proof iat is too old"},
		{name: "fail/ath missing", proof: spec(proofSpec{}), method: "POST", opts: VerifyOptions{AccessToken: token}, wantCode: CodeInvalidProof, wantDesc: "DPoP proof has no ath"},
		{name: "fail/ath mismatch", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["ath"] = AccessTokenHash("other-token") })}),
			opts: VerifyOptions{AccessToken: token}, wantCode: CodeInvalidProof, wantDesc: "ath does not match the access token"},
		{name: "fail/jkt mismatch", proof: spec(proofSpec{}), opts: VerifyOptions{ExpectedJKT: mustThumbprint(t, &ecKey2.PublicKey)}, wantCode: CodeInvalidProof,
			wantDesc: "DPoP proof key does not match the key the access token is bound to"},

		// Nonces.
		{name: "fail/nonce required and missing", proof: spec(proofSpec{}),
			setup: func(v *Verifier) { v.Nonces, v.RequireNonce = nonces, true }, wantCode: CodeUseNonce, wantDesc: "DPoP proof has no nonce; use the DPoP-Nonce the server sent"},
		{name: "fail/nonce expired", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["nonce"] = oldNonce })}),
			setup: func(v *Verifier) { v.Nonces, v.RequireNonce = nonces, true }, wantCode: CodeUseNonce, wantDesc: "DPoP proof nonce is invalid or expired"},
		{name: "fail/nonce from another key", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["nonce"] = otherKeyNonce })}),
			setup: func(v *Verifier) { v.Nonces, v.RequireNonce = nonces, true }, wantCode: CodeUseNonce, wantDesc: "DPoP proof nonce is invalid or expired"},
		{name: "fail/nonce garbage while optional", proof: spec(proofSpec{claims: withClaims(func(c map[string]any) { c["nonce"] = "made-up" })}),
			setup: func(v *Verifier) { v.Nonces = nonces }, wantCode: CodeUseNonce, wantDesc: "DPoP proof nonce is invalid or expired"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newVerifier()
			if c.setup != nil {
				c.setup(v)
			}
			method, url := c.method, c.url
			if method == "" {
				method = "POST"
			}
			if url == "" {
				url = testURL
			}
			p, err := v.Verify(ctx, c.proof(t), method, url, c.opts)
			if c.wantCode == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.check != nil {
					c.check(t, p)
				}
				return
			}
			assertRefusal(t, err, c.wantCode, c.wantDesc)
			if p != nil {
				t.Errorf("proof = %+v, want nil", p)
			}
		})
	}
}

func assertRefusal(t *testing.T, err error, code, desc string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *Error %s: %s", err, err, code, desc)
	}
	if e.Code != code || e.Description != desc {
		t.Fatalf("err = %q: %q, want %q: %q", e.Code, e.Description, code, desc)
	}
}

func TestVerifyReplay(t *testing.T) {
	ctx := context.Background()
	const token = "at-1"
	t.Run("fail/same jti twice", func(t *testing.T) {
		v := newVerifier()
		p := proofSpec{}.build(t)
		if _, err := v.Verify(ctx, p, "POST", testURL, VerifyOptions{}); err != nil {
			t.Fatalf("first: %v", err)
		}
		_, err := v.Verify(ctx, p, "POST", testURL, VerifyOptions{})
		assertRefusal(t, err, CodeInvalidProof, "DPoP proof jti has been used before")
	})
	t.Run("fail/same jti in a new proof with the same key", func(t *testing.T) {
		v := newVerifier()
		c := defaultClaims()
		if _, err := v.Verify(ctx, proofSpec{claims: c}.build(t), "POST", testURL, VerifyOptions{}); err != nil {
			t.Fatalf("first: %v", err)
		}
		c["iat"] = testNow.Add(-time.Second).Unix()
		_, err := v.Verify(ctx, proofSpec{claims: c}.build(t), "POST", testURL, VerifyOptions{})
		assertRefusal(t, err, CodeInvalidProof, "DPoP proof jti has been used before")
	})
	t.Run("ok/same jti with another key", func(t *testing.T) {
		v := newVerifier()
		c := defaultClaims()
		if _, err := v.Verify(ctx, proofSpec{claims: c}.build(t), "POST", testURL, VerifyOptions{}); err != nil {
			t.Fatalf("first: %v", err)
		}
		other := proofSpec{key: ecKey2, header: defaultHeader(t, ecKey2), claims: c}.build(t)
		if _, err := v.Verify(ctx, other, "POST", testURL, VerifyOptions{}); err != nil {
			t.Fatalf("other key: %v", err)
		}
	})
	t.Run("ok/a refused proof does not burn its jti", func(t *testing.T) {
		v := newVerifier()
		p := proofSpec{claims: withClaims(func(c map[string]any) { c["ath"] = AccessTokenHash(token) })}.build(t)
		_, err := v.Verify(ctx, p, "POST", testURL, VerifyOptions{AccessToken: "wrong"})
		assertRefusal(t, err, CodeInvalidProof, "ath does not match the access token")
		_, err = v.Verify(ctx, p, "GET", testURL, VerifyOptions{AccessToken: token})
		assertRefusal(t, err, CodeInvalidProof, "htm does not match the request method")
		if _, err := v.Verify(ctx, p, "POST", testURL, VerifyOptions{AccessToken: token}); err != nil {
			t.Fatalf("after refusals: %v", err)
		}
	})
	t.Run("ok/replay key and expiry", func(t *testing.T) {
		rec := &recordingStore{}
		v := &Verifier{Replay: rec, Now: clockAt(testNow)}
		c := defaultClaims()
		if _, err := v.Verify(ctx, proofSpec{claims: c}.build(t), "POST", testURL, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
		wantKey := mustThumbprint(t, &ecKey.PublicKey) + ":" + c["jti"].(string)
		if rec.key != wantKey || !rec.exp.Equal(testNow.Add(65*time.Second)) {
			t.Errorf("Use(%q, %v), want (%q, %v)", rec.key, rec.exp, wantKey, testNow.Add(65*time.Second))
		}
	})
}

// recordingStore remembers the last Use; it stands in for nothing external,
// it only lets the test see the arguments.
type recordingStore struct {
	key string
	exp time.Time
	err error
}

func (r *recordingStore) Use(_ context.Context, key string, exp time.Time) error {
	r.key, r.exp = key, exp
	return r.err
}

func TestVerifyMisconfigured(t *testing.T) {
	ctx := context.Background()
	p := proofSpec{}.build(t)
	storeErr := errors.New("store down")
	cases := []struct {
		name string
		v    *Verifier
		url  string
		want string
	}{
		{"fail/no replay store", &Verifier{Now: clockAt(testNow)}, testURL, "dpop: Verifier.Replay is nil"},
		{"fail/RequireNonce without Nonces", &Verifier{Replay: NewMemoryReplayStore(), RequireNonce: true}, testURL, "dpop: Verifier.RequireNonce is set without Nonces"},
		{"fail/relative request URL", &Verifier{Replay: NewMemoryReplayStore()}, "/token", `dpop: request URL "/token" is not an absolute URL`},
		{"fail/replay store error", &Verifier{Replay: &recordingStore{err: storeErr}, Now: clockAt(testNow)}, testURL, "dpop: replay store: store down"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.v.Verify(ctx, p, "POST", c.url, VerifyOptions{})
			var e *Error
			if err == nil || errors.As(err, &e) || err.Error() != c.want {
				t.Fatalf("err = %v, want plain error %q", err, c.want)
			}
		})
	}
	t.Run("ok/store error wraps", func(t *testing.T) {
		v := &Verifier{Replay: &recordingStore{err: storeErr}, Now: clockAt(testNow)}
		if _, err := v.Verify(ctx, p, "POST", testURL, VerifyOptions{}); !errors.Is(err, storeErr) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestFromHeader(t *testing.T) {
	cases := []struct {
		name string
		h    http.Header
		want string
		desc string
	}{
		{"ok/one value", http.Header{"Dpop": {"a.b.c"}}, "a.b.c", ""},
		{"ok/set via Set", func() http.Header { h := http.Header{}; h.Set("DPoP", "x.y.z"); return h }(), "x.y.z", ""},
		{"fail/none", http.Header{}, "", "missing DPoP header"},
		{"fail/two values", http.Header{"Dpop": {"a.b.c", "d.e.f"}}, "", "more than one DPoP header"},
		{"fail/comma-combined values", http.Header{"Dpop": {"a.b.c, d.e.f"}}, "", "more than one DPoP header"},
		{"fail/empty value", http.Header{"Dpop": {"  "}}, "", "DPoP header is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := FromHeader(c.h)
			if c.desc != "" {
				assertRefusal(t, err, CodeInvalidProof, c.desc)
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("FromHeader = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestThumbprintAndATH(t *testing.T) {
	// RFC 7638 §3.1 example key and thumbprint.
	const rfcKey = `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(rfcKey)); err != nil {
		t.Fatal(err)
	}
	if tp, err := Thumbprint(&k); err != nil || tp != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("Thumbprint = %q, %v", tp, err)
	}
	if _, err := Thumbprint(nil); err == nil {
		t.Error("Thumbprint(nil) succeeded")
	}
	// RFC 9449 §7.1 example: the access token and its ath.
	const at = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	if got := AccessTokenHash(at); got != "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo" {
		t.Errorf("AccessTokenHash = %q", got)
	}
}

func TestNonceSource(t *testing.T) {
	now := testNow
	n := NewNonceSource(nonceKey, nonceWindow, func() time.Time { return now })
	issued := n.Nonce()
	other := NewNonceSource(nonceKey, nonceWindow, func() time.Time { return now }) // another node
	if !other.Valid(issued) {
		t.Fatal("fail: another node with the same key refuses the nonce")
	}
	tampered := []byte(issued)
	tampered[len(tampered)-1] ^= 1
	if tampered[len(tampered)-1] == issued[len(issued)-1] {
		t.Fatal("tamper did nothing")
	}
	cases := []struct {
		name  string
		at    time.Time
		nonce string
		want  bool
	}{
		{"ok/same window", now, issued, true},
		{"ok/next window", now.Add(nonceWindow), issued, true},
		{"fail/two windows later", now.Add(2 * nonceWindow), issued, false},
		{"fail/issued in the future", now.Add(-nonceWindow), issued, false},
		{"fail/tampered", now, string(tampered), false},
		{"fail/empty", now, "", false},
		{"fail/garbage of the right length", now, strings.Repeat("A", len(issued)), false},
		{"fail/not base64url", now, strings.Repeat("!", len(issued)), false},
		{"fail/other key", now, NewNonceSource([]byte("another-key-of-32-bytes-length!!"), nonceWindow, func() time.Time { return now }).Nonce(), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := NewNonceSource(nonceKey, nonceWindow, clockAt(c.at))
			if got := v.Valid(c.nonce); got != c.want {
				t.Fatalf("Valid = %v, want %v", got, c.want)
			}
		})
	}
	t.Run("fail/short key panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		NewNonceSource([]byte("short"), time.Minute, nil)
	})
}

func TestNormalizeURL(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"https://as.example.com/token", "https://as.example.com/token", true},
		{"HTTPS://AS.EXAMPLE.COM/token?a=1#x", "https://as.example.com/token", true},
		{"http://h:80/p", "http://h/p", true},
		{"https://h:443", "https://h/", true},
		{"https://h:8443/p", "https://h:8443/p", true},
		{"https://[::1]:443/p", "https://[::1]/p", true},
		{"https://h/a%7e%2f%41", "https://h/a~%2FA", true},
		{"ftp://h/p", "", false},
		{"https:///p", "", false},
		{"mailto:a@b", "", false},
		{"%zz", "", false},
	}
	for _, c := range cases {
		got, ok := normalizeURL(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("normalizeURL(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestVerifyDeferReplay(t *testing.T) {
	ctx := context.Background()
	t.Run("ok/records nothing and names what to record", func(t *testing.T) {
		rec := &recordingStore{}
		v := &Verifier{Replay: rec, Now: clockAt(testNow)}
		c := defaultClaims()
		p := proofSpec{claims: c}.build(t)
		for i := 0; i < 2; i++ {
			got, err := v.Verify(ctx, p, "POST", testURL, VerifyOptions{DeferReplay: true})
			if err != nil {
				t.Fatalf("use %d: %v", i+1, err)
			}
			wantKey := mustThumbprint(t, &ecKey.PublicKey) + ":" + c["jti"].(string)
			if got.ReplayKey != wantKey || !got.ReplayExpires.Equal(testNow.Add(65*time.Second)) {
				t.Errorf("ReplayKey, ReplayExpires = %q, %v, want %q, %v", got.ReplayKey, got.ReplayExpires, wantKey, testNow.Add(65*time.Second))
			}
		}
		if rec.key != "" {
			t.Fatalf("Use(%q) was called", rec.key)
		}
	})
	t.Run("fail/a deferred key recorded by the caller is a replay", func(t *testing.T) {
		v := newVerifier()
		p := proofSpec{}.build(t)
		got, err := v.Verify(ctx, p, "POST", testURL, VerifyOptions{DeferReplay: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Replay.Use(ctx, got.ReplayKey, got.ReplayExpires); err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(ctx, p, "POST", testURL, VerifyOptions{})
		assertRefusal(t, err, CodeInvalidProof, ReplayError().Description)
	})
}
