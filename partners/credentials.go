package partners

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// MaxJWKSKeys is the most keys an inline JWK Set may hold.
const MaxJWKSKeys = 10

// privateMembers are JWK members that only private or symmetric keys carry
// (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ValidateCredentials checks an app's client-authentication keys: exactly one
// of an inline JWK Set or an https jwks_uri. Inline sets must hold 1–10 public
// signing keys usable with ES256 (EC P-256) or PS256 (RSA ≥ 2048 bits), no
// private or symmetric members, alg (if given) ES256 or PS256, use (if given)
// sig, and distinct kids when there is more than one key. Errors are
// CodeValidation with a detail naming the key.
func ValidateCredentials(jwks json.RawMessage, jwksURI string) error {
	hasSet := len(bytes.TrimSpace(jwks)) > 0 && string(bytes.TrimSpace(jwks)) != "null"
	switch {
	case hasSet && jwksURI != "":
		return invalid("give either jwks or jwks_uri, not both")
	case !hasSet && jwksURI == "":
		return invalid("jwks or jwks_uri is required (private_key_jwt client authentication)")
	case jwksURI != "":
		return checkHTTPSURL("jwks_uri", jwksURI)
	}
	_, err := ParseJWKS(jwks)
	return err
}

// ParseJWKS parses and checks an inline JWK Set (see ValidateCredentials).
func ParseJWKS(raw json.RawMessage) (*jose.JSONWebKeySet, error) {
	var shape struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &shape); err != nil {
		return nil, invalid("jwks is not a JSON JWK Set: %v", err)
	}
	if len(shape.Keys) == 0 {
		return nil, invalid("jwks must contain at least one key")
	}
	if len(shape.Keys) > MaxJWKSKeys {
		return nil, invalid("jwks may contain at most %d keys, got %d", MaxJWKSKeys, len(shape.Keys))
	}
	for i, k := range shape.Keys {
		for _, m := range privateMembers {
			if _, ok := k[m]; ok {
				return nil, invalid("jwks key %d contains private or symmetric key material (%q); register public keys only", i, m)
			}
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, invalid("jwks key is not a valid JWK: %v", err)
	}
	kids := map[string]bool{}
	for i, k := range set.Keys {
		name := fmt.Sprintf("jwks key %d", i)
		if k.KeyID != "" {
			name = fmt.Sprintf("jwks key %q", k.KeyID)
		}
		if !k.IsPublic() || !k.Valid() {
			return nil, invalid("%s must be a valid public key", name)
		}
		if k.Use != "" && k.Use != "sig" {
			return nil, invalid("%s has use %q; client authentication keys must have use sig", name, k.Use)
		}
		switch pk := k.Key.(type) {
		case *ecdsa.PublicKey:
			if pk.Curve != elliptic.P256() {
				return nil, invalid("%s is an EC key on %s; only P-256 (ES256) is accepted", name, pk.Curve.Params().Name)
			}
			if k.Algorithm != "" && k.Algorithm != string(jose.ES256) {
				return nil, invalid("%s has alg %q; an EC P-256 key must be ES256", name, k.Algorithm)
			}
		case *rsa.PublicKey:
			if pk.N.BitLen() < 2048 {
				return nil, invalid("%s is a %d-bit RSA key; at least 2048 bits are required (PS256)", name, pk.N.BitLen())
			}
			if k.Algorithm != "" && k.Algorithm != string(jose.PS256) {
				return nil, invalid("%s has alg %q; an RSA key must be PS256 (RS256 is not allowed by FAPI 2.0)", name, k.Algorithm)
			}
		default:
			return nil, invalid("%s has an unsupported key type; use EC P-256 (ES256) or RSA (PS256)", name)
		}
		if len(set.Keys) > 1 {
			if k.KeyID == "" {
				return nil, invalid("%s has no kid; every key needs a distinct kid when the set holds several", name)
			}
			if kids[k.KeyID] {
				return nil, invalid("%s appears twice; kids must be distinct", name)
			}
		}
		kids[k.KeyID] = true
	}
	return &set, nil
}

// GenerateES256Key makes a fresh EC P-256 signing key and returns the private
// JWK (to keep on the client side) and the public JWK Set (to register).
func GenerateES256Key(kid string) (private json.RawMessage, publicSet json.RawMessage, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	priv := jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}
	private, err = json.Marshal(priv)
	if err != nil {
		return nil, nil, err
	}
	publicSet, err = json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{priv.Public()}})
	return private, publicSet, err
}
