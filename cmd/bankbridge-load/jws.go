package main

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"

	jose "github.com/go-jose/go-jose/v4"
)

// es256Signer signs compact JWS (RFC 7515 §7.1) with ES256 (RFC 7518 §3.4:
// the signature is R and S, 32 bytes each, big-endian) under a header encoded
// once. The load tool signs two JWTs per token request; go-jose encodes the
// header, and for a DPoP proof the embedded JWK, on every signature, which
// on a 2-core machine shared with the server took CPU from the server being
// measured.
type es256Signer struct {
	key    *ecdsa.PrivateKey
	header string // base64url of the protected header, with the "." after it
}

// newES256Signer returns a signer with key under a header of alg ES256, typ,
// and the public key as "jwk" when embedJWK (a DPoP proof, RFC 9449 §4.2).
func newES256Signer(key *ecdsa.PrivateKey, typ string, embedJWK bool) (*es256Signer, error) {
	if key.Curve.Params().BitSize != 256 {
		return nil, errors.New("ES256 needs a P-256 key")
	}
	h := map[string]any{"alg": "ES256", "typ": typ}
	if embedJWK {
		h["jwk"] = jose.JSONWebKey{Key: key.Public()}
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	return &es256Signer{key: key, header: base64.RawURLEncoding.EncodeToString(b) + "."}, nil
}

// sign returns the compact JWS of payload.
func (s *es256Signer) sign(payload []byte) string {
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(s.header)+enc.EncodedLen(len(payload))+1+86)
	buf = append(buf, s.header...)
	buf = enc.AppendEncode(buf, payload)
	sum := sha256.Sum256(buf)
	r, sig, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
	if err != nil {
		panic(err)
	}
	var rs [64]byte
	r.FillBytes(rs[:32])
	sig.FillBytes(rs[32:])
	buf = append(buf, '.')
	return string(enc.AppendEncode(buf, rs[:]))
}
