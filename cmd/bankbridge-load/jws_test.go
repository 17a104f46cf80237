package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestES256Signer: what es256Signer makes is a compact JWS that go-jose
// verifies with the public key, with the header's alg, typ and (for a DPoP
// proof) the embedded public key; a JWS with a changed payload fails.
func TestES256Signer(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, c := range []struct {
		name     string
		typ      string
		embedJWK bool
	}{
		{"ok/client-assertion", "JWT", false},
		{"ok/dpop-proof", "dpop+jwt", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := newES256Signer(key, c.typ, c.embedJWK)
			if err != nil {
				t.Fatal(err)
			}
			payload := mustJSON(proofClaims{JTI: "j1", HTM: "GET", HTU: "https://example.test/x", IAT: 1})
			compact := s.sign(payload)
			jws, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			got, err := jws.Verify(&key.PublicKey)
			if err != nil || string(got) != string(payload) {
				t.Fatalf("verify: %q, %v", got, err)
			}
			h := jws.Signatures[0].Protected
			if h.Algorithm != "ES256" || h.ExtraHeaders["typ"] != c.typ {
				t.Fatalf("header %+v", h)
			}
			if c.embedJWK {
				if h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() {
					t.Fatalf("jwk %+v", h.JSONWebKey)
				}
				if pub, ok := h.JSONWebKey.Key.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
					t.Fatal("embedded jwk is not the signing key's public key")
				}
			} else if h.JSONWebKey != nil {
				t.Fatal("unexpected jwk")
			}
			other := s.sign(mustJSON(proofClaims{JTI: "j2"}))
			tampered := compact[:len(s.header)] + other[len(s.header):len(other)-86] + compact[len(compact)-86:]
			if jws, err := jose.ParseSignedCompact(tampered, []jose.SignatureAlgorithm{jose.ES256}); err == nil {
				if _, err := jws.Verify(&key.PublicKey); err == nil {
					t.Fatal("fail/tampered payload verified")
				}
			}
		})
	}
}

func BenchmarkSignProof(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	claims := proofClaims{JTI: "0b1a2c3d-1111-2222-3333-444455556666", HTM: "POST", HTU: "http://localhost:8080/token", IAT: 1}
	b.Run("es256Signer", func(b *testing.B) {
		s, _ := newES256Signer(key, "dpop+jwt", true)
		for b.Loop() {
			s.sign(mustJSON(claims))
		}
	})
	b.Run("go-jose", func(b *testing.B) {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
		for b.Loop() {
			signJOSE(s, mustJSON(claims))
		}
	})
}
