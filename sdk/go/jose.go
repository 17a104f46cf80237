package bankbridge

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// The JOSE pieces the SDK needs (RFC 7515 compact JWS, RFC 7517 JWK, RFC 7638
// thumbprints), written on the standard library alone so that the SDK adds
// no dependency to a partner's module and accepts any crypto.Signer (a key
// in a KMS or an HSM as well as one in memory).

// Algorithms the platform accepts for client assertions, request objects and
// DPoP proofs (FAPI 2.0: ES256 or PS256).
const (
	AlgES256 = "ES256"
	AlgPS256 = "PS256"
)

var b64 = base64.RawURLEncoding

// signingKey is a private key with its JOSE algorithm, key id and public JWK.
type signingKey struct {
	signer crypto.Signer
	alg    string
	kid    string
	jwk    map[string]string // public members only
	jkt    string            // RFC 7638 SHA-256 thumbprint of jwk
}

// newSigningKey wraps s: an ECDSA P-256 key signs ES256, an RSA key (2048
// bits or more) PS256.
func newSigningKey(s crypto.Signer, kid string) (*signingKey, error) {
	if s == nil {
		return nil, errors.New("bankbridge: nil key")
	}
	k := &signingKey{signer: s, kid: kid}
	switch pub := s.Public().(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, errors.New("bankbridge: an ECDSA key must be on P-256 (ES256)")
		}
		raw, err := pub.Bytes()
		if err != nil {
			return nil, fmt.Errorf("bankbridge: ECDSA public key: %w", err)
		}
		k.alg = AlgES256
		k.jwk = map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(raw[1:33]), "y": b64.EncodeToString(raw[33:])}
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("bankbridge: an RSA key must have at least 2048 bits, this one has %d", pub.N.BitLen())
		}
		k.alg = AlgPS256
		k.jwk = map[string]string{"kty": "RSA", "n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
	default:
		return nil, fmt.Errorf("bankbridge: unsupported key type %T (use ECDSA P-256 or RSA)", pub)
	}
	// RFC 7638 §3: the required members in lexicographic order, no
	// whitespace; encoding/json sorts map keys.
	canon, err := json.Marshal(k.jwk)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canon)
	k.jkt = b64.EncodeToString(sum[:])
	return k, nil
}

// sign returns the compact JWS of claims with header (alg is added).
func (k *signingKey) sign(header map[string]any, claims any) (string, error) {
	h := map[string]any{"alg": k.alg}
	for name, v := range header {
		h[name] = v
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	pb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(pb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k.alg {
	case AlgES256:
		der, err := k.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return "", fmt.Errorf("bankbridge: sign: %w", err)
		}
		// crypto.Signer returns ASN.1 DER; JWS wants R || S, 32 bytes each (RFC 7518 §3.4).
		var rs struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 || rs.R == nil || rs.S == nil {
			return "", errors.New("bankbridge: sign: the key returned a malformed ECDSA signature")
		}
		sig = make([]byte, 64)
		rs.R.FillBytes(sig[:32])
		rs.S.FillBytes(sig[32:])
	case AlgPS256:
		sig, err = k.signer.Sign(rand.Reader, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
		if err != nil {
			return "", fmt.Errorf("bankbridge: sign: %w", err)
		}
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// privateJWK is the JSON of an RFC 7517 private key (EC or RSA).
type privateJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
	N   string `json:"n"`
	E   string `json:"e"`
	P   string `json:"p"`
	Q   string `json:"q"`
}

// ParsePrivateJWK parses a private JWK (JSON, as the developer portal and
// `bankbridge apps create` hand it out): an EC P-256 key (ES256) or an RSA
// key of 2048 bits or more with its primes p and q (PS256). It returns the
// key and the JWK's "kid". An "alg" member, when present, must match.
func ParsePrivateJWK(data []byte) (crypto.Signer, string, error) {
	var j privateJWK
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, "", fmt.Errorf("bankbridge: private JWK is not a JSON object: %w", err)
	}
	dec := func(name, v string) ([]byte, error) {
		if v == "" {
			return nil, fmt.Errorf("bankbridge: private JWK has no %q member", name)
		}
		b, err := b64.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("bankbridge: private JWK member %q is not base64url", name)
		}
		return b, nil
	}
	switch j.Kty {
	case "EC":
		if j.Crv != "P-256" {
			return nil, "", fmt.Errorf("bankbridge: private JWK curve %q: only P-256 (ES256) is supported", j.Crv)
		}
		if j.Alg != "" && j.Alg != AlgES256 {
			return nil, "", fmt.Errorf("bankbridge: private JWK alg %q does not fit an EC P-256 key (ES256)", j.Alg)
		}
		d, err := dec("d", j.D)
		if err != nil {
			return nil, "", err
		}
		x, err := dec("x", j.X)
		if err != nil {
			return nil, "", err
		}
		y, err := dec("y", j.Y)
		if err != nil {
			return nil, "", err
		}
		key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		if err != nil {
			return nil, "", fmt.Errorf("bankbridge: private JWK: %w", err)
		}
		pub, err := key.PublicKey.Bytes()
		if err != nil || !bytes.Equal(pub[1:33], x) || !bytes.Equal(pub[33:], y) {
			return nil, "", errors.New("bankbridge: private JWK: x and y are not the public key of d")
		}
		return key, j.Kid, nil
	case "RSA":
		if j.Alg != "" && j.Alg != AlgPS256 {
			return nil, "", fmt.Errorf("bankbridge: private JWK alg %q: RSA keys sign PS256 only", j.Alg)
		}
		var ints [5]*big.Int
		for i, m := range []struct{ name, v string }{{"n", j.N}, {"e", j.E}, {"d", j.D}, {"p", j.P}, {"q", j.Q}} {
			b, err := dec(m.name, m.v)
			if err != nil {
				return nil, "", err
			}
			ints[i] = new(big.Int).SetBytes(b)
		}
		if !ints[1].IsInt64() || ints[1].Int64() > 1<<31-1 {
			return nil, "", errors.New("bankbridge: private JWK: exponent e is too large")
		}
		key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: ints[0], E: int(ints[1].Int64())}, D: ints[2], Primes: []*big.Int{ints[3], ints[4]}}
		if err := key.Validate(); err != nil {
			return nil, "", fmt.Errorf("bankbridge: private JWK: %w", err)
		}
		key.Precompute()
		if key.N.BitLen() < 2048 {
			return nil, "", fmt.Errorf("bankbridge: private JWK: an RSA key must have at least 2048 bits, this one has %d", key.N.BitLen())
		}
		return key, j.Kid, nil
	case "":
		return nil, "", errors.New("bankbridge: private JWK has no \"kty\" member")
	default:
		return nil, "", fmt.Errorf("bankbridge: private JWK kty %q: use EC (P-256) or RSA", j.Kty)
	}
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("bankbridge: crypto/rand failed: " + err.Error())
	}
	return b64.EncodeToString(b)
}

// newUUID returns a random RFC 9562 version 4 UUID.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("bankbridge: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
