package bankbridge

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func jwkJSON(t *testing.T, key any, kid, alg string, edit func(m map[string]any)) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return b
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	edit(m)
	b, _ = json.Marshal(m)
	return b
}

func TestParsePrivateJWK(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	cases := []struct {
		name string
		jwk  []byte
		want string // error text; "" for success
	}{
		{"ok/ec", jwkJSON(t, ec, "k-ec", "ES256", nil), ""},
		{"ok/ec-without-alg", jwkJSON(t, ec, "k-ec", "", nil), ""},
		{"ok/rsa", jwkJSON(t, rs, "k-rsa", "PS256", nil), ""},
		{"fail/not-json", []byte("{"), "bankbridge: private JWK is not a JSON object: unexpected end of JSON input"},
		{"fail/no-kty", []byte(`{"kid":"x"}`), `bankbridge: private JWK has no "kty" member`},
		{"fail/oct", []byte(`{"kty":"oct","k":"AAAA"}`), `bankbridge: private JWK kty "oct": use EC (P-256) or RSA`},
		{"fail/p384", jwkJSON(t, p384, "k", "", nil), `bankbridge: private JWK curve "P-384": only P-256 (ES256) is supported`},
		{"fail/ec-alg", jwkJSON(t, ec, "k", "ES256", func(m map[string]any) { m["alg"] = "RS256" }), `bankbridge: private JWK alg "RS256" does not fit an EC P-256 key (ES256)`},
		{"fail/public-only", jwkJSON(t, ec.Public(), "k", "", nil), `bankbridge: private JWK has no "d" member`},
		{"fail/xy-not-d", jwkJSON(t, ec, "k", "", func(m map[string]any) {
			var o map[string]any
			json.Unmarshal(jwkJSON(t, other, "k", "", nil), &o)
			m["x"], m["y"] = o["x"], o["y"]
		}), "bankbridge: private JWK: x and y are not the public key of d"},
		{"fail/bad-base64", jwkJSON(t, ec, "k", "", func(m map[string]any) { m["d"] = "!!" }), `bankbridge: private JWK member "d" is not base64url`},
		{"fail/rsa-rs256", jwkJSON(t, rs, "k", "RS256", nil), `bankbridge: private JWK alg "RS256": RSA keys sign PS256 only`},
		{"fail/rsa-no-primes", jwkJSON(t, rs, "k", "", func(m map[string]any) { delete(m, "p") }), `bankbridge: private JWK has no "p" member`},
		{"fail/rsa-1024", jwkJSON(t, small, "k", "", nil), "bankbridge: private JWK: an RSA key must have at least 2048 bits, this one has 1024"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, kid, err := ParsePrivateJWK(tc.jwk)
			if tc.want != "" {
				if err == nil || err.Error() != tc.want {
					t.Fatalf("err %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if kid == "" || s == nil {
				t.Fatalf("kid %q signer %v", kid, s)
			}
		})
	}
}

// TestSignVerifiedByGoJose: ES256 and PS256 signatures and RFC 7638
// thumbprints agree with an independent JOSE library.
func TestSignVerifiedByGoJose(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  jose.SignatureAlgorithm
	}{{"ok/es256", ec, jose.ES256}, {"ok/ps256", rs, jose.PS256}} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := newSigningKey(tc.key, "kid-1")
			if err != nil {
				t.Fatal(err)
			}
			jws, err := k.sign(map[string]any{"typ": "JWT", "kid": k.kid}, map[string]any{"hello": "world"})
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := jose.ParseSignedCompact(jws, []jose.SignatureAlgorithm{tc.alg})
			if err != nil {
				t.Fatal(err)
			}
			payload, err := parsed.Verify(tc.key.Public())
			if err != nil || string(payload) != `{"hello":"world"}` {
				t.Fatalf("verify: %v %s", err, payload)
			}
			tp, _ := (&jose.JSONWebKey{Key: tc.key.Public()}).Thumbprint(crypto.SHA256)
			if base64.RawURLEncoding.EncodeToString(tp) != k.jkt {
				t.Fatal("thumbprint differs")
			}
			// The public JWK in a DPoP header parses to the same key.
			jb, _ := json.Marshal(k.jwk)
			var pub jose.JSONWebKey
			if err := pub.UnmarshalJSON(jb); err != nil || !pub.Valid() || !pub.IsPublic() {
				t.Fatalf("public jwk %s: %v", jb, err)
			}
		})
	}
	t.Run("fail/p384", func(t *testing.T) {
		k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if _, err := newSigningKey(k, ""); err == nil || err.Error() != "bankbridge: an ECDSA key must be on P-256 (ES256)" {
			t.Fatalf("err %v", err)
		}
	})
}

func TestNew(t *testing.T) {
	key := mustECKey(t, "k1")
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	noKid := jwkJSON(t, ec, "", "", nil)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok/jwk", Config{Issuer: "https://bank.example/", ClientID: "app_1", PrivateJWK: key.jwk}, ""},
		{"ok/signer", Config{Issuer: "http://127.0.0.1:8080", ClientID: "app_1", Signer: ec, KeyID: "k"}, ""},
		{"fail/issuer", Config{Issuer: "bank.example", ClientID: "app_1", PrivateJWK: key.jwk}, `bankbridge: Config.Issuer "bank.example" must be an http(s) URL without query or fragment`},
		{"fail/client-id", Config{Issuer: "https://bank.example", PrivateJWK: key.jwk}, "bankbridge: Config.ClientID is required"},
		{"fail/no-key", Config{Issuer: "https://bank.example", ClientID: "app_1"}, "bankbridge: Config.PrivateJWK or Config.Signer is required"},
		{"fail/two-keys", Config{Issuer: "https://bank.example", ClientID: "app_1", PrivateJWK: key.jwk, Signer: ec}, "bankbridge: set Config.PrivateJWK or Config.Signer, not both"},
		{"fail/no-kid", Config{Issuer: "https://bank.example", ClientID: "app_1", PrivateJWK: noKid}, `bankbridge: the client key needs a kid (the JWK's "kid" or Config.KeyID)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			if tc.want != "" {
				if err == nil || err.Error() != tc.want {
					t.Fatalf("err %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(c.Issuer(), "/") || c.ClientID() != "app_1" || c.DPoPThumbprint() == "" {
				t.Fatalf("client %s %s %s", c.Issuer(), c.ClientID(), c.DPoPThumbprint())
			}
		})
	}
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		u := newUUID()
		if !uuidV4.MatchString(u) || seen[u] {
			t.Fatalf("uuid %q", u)
		}
		seen[u] = true
	}
}
