// Package dpop verifies OAuth 2.0 Demonstrating Proof of Possession (DPoP)
// proofs as RFC 9449 defines them, for the authorization server's token
// endpoint and for resource servers.
//
// Implemented:
//   - RFC 9449 §4.2 proof syntax (typ "dpop+jwt", asymmetric alg, public jwk
//     header; claims jti, htm, htu, iat, ath, nonce) and §4.3 checking, steps
//     1–12, with htu compared per §4.3 step 9 after RFC 3986 §6.2.2/§6.2.3
//     normalisation (scheme and host lower-cased, default port dropped,
//     percent-encoding normalised, query and fragment ignored);
//   - §4.3 step 1: exactly one DPoP header field (FromHeader);
//   - §6.1 / RFC 7638 JWK SHA-256 thumbprints (Thumbprint); §4.3 step 12 and
//     §10 the key an access token (cnf.jkt) or authorization code (dpop_jkt)
//     is bound to (VerifyOptions.ExpectedJKT);
//   - §4.3 step 12 / §7 ath: base64url(SHA-256(access token)) (AccessTokenHash);
//   - §8 and §9 server-provided nonces, as stateless HMAC-SHA256 values valid for
//     the current and previous time window (NonceSource), refused with
//     "use_dpop_nonce";
//   - §11.1 proof replay: every (jkt, jti) is recorded in a ReplayStore
//     (memory, SQL via gorm, or Redis) until the proof could no longer be
//     accepted.
//
// Errors for the client are *Error with Code "invalid_dpop_proof" or
// "use_dpop_nonce" (RFC 9449 §7.1, §12.2) and a precise Description.
package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The error codes a refusal carries (RFC 9449 §7.1, §12.2).
const (
	// CodeInvalidProof refuses a proof that is malformed, badly signed, does
	// not match the request, or was seen before.
	CodeInvalidProof = "invalid_dpop_proof"
	// CodeUseNonce asks the client to retry with the nonce sent in DPoP-Nonce.
	CodeUseNonce = "use_dpop_nonce"
)

// TypeDPoP is the JWS typ header value of a DPoP proof (RFC 9449 §4.2).
const TypeDPoP = "dpop+jwt"

// MaxJTILength is the longest jti accepted, in bytes.
const MaxJTILength = 256

// MinRSABits is the smallest RSA modulus accepted for PS* proofs.
const MinRSABits = 2048

// Defaults used when the corresponding Verifier field is zero.
const (
	DefaultMaxAge = 60 * time.Second
	DefaultLeeway = 5 * time.Second
)

// DefaultAlgs are the proof algorithms accepted when Verifier.Algs is empty.
var DefaultAlgs = []string{"ES256", "PS256"}

// Error is a refusal of a DPoP proof, to be returned to the client as an OAuth
// error (RFC 9449 §7.1): Code is CodeInvalidProof or CodeUseNonce, Description
// says exactly what is wrong.
type Error struct {
	Code        string
	Description string
}

// Error implements error.
func (e *Error) Error() string { return e.Code + ": " + e.Description }

func invalid(desc string) *Error { return &Error{Code: CodeInvalidProof, Description: desc} }

// ReplayError is the refusal of a proof whose jti was used before (RFC 9449
// §11.1), as Verify returns it.
func ReplayError() *Error { return invalid("DPoP proof jti has been used before") }

// Proof is a verified DPoP proof.
type Proof struct {
	JKT             string           // RFC 7638 SHA-256 thumbprint of Key, base64url
	Key             *jose.JSONWebKey // the public key from the jwk header; shared, do not modify
	Method, URL     string           // htm and htu as sent
	IssuedAt        time.Time        // iat, UTC
	ID              string           // jti
	AccessTokenHash string           // ath, "" when absent
	Nonce           string           // nonce, "" when absent
	// ReplayKey and ReplayExpires are what the ReplayStore records (or, with
	// VerifyOptions.DeferReplay, what the caller must record) for this proof:
	// jkt ":" jti, until the proof could no longer be accepted.
	ReplayKey     string
	ReplayExpires time.Time
}

// FromHeader returns the single DPoP header value of a request, refusing zero
// values or several (RFC 9449 §4.3 step 1). A value holding a comma is taken
// as several combined values. Errors are *Error.
func FromHeader(h http.Header) (string, error) {
	vs := h.Values("DPoP")
	switch {
	case len(vs) == 0:
		return "", invalid("missing DPoP header")
	case len(vs) > 1 || strings.Contains(vs[0], ","):
		return "", invalid("more than one DPoP header")
	}
	v := strings.TrimSpace(vs[0])
	if v == "" {
		return "", invalid("DPoP header is empty")
	}
	return v, nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of k's public key,
// base64url without padding: the "jkt" of RFC 9449 §6.
func Thumbprint(k *jose.JSONWebKey) (string, error) {
	if k == nil {
		return "", errors.New("dpop: nil key")
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// AccessTokenHash returns base64url(SHA-256(token)), the ath claim of RFC 9449 §4.2.
func AccessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Verifier checks DPoP proofs. Replay is required; the other fields have
// defaults. A Verifier is safe for concurrent use once configured.
type Verifier struct {
	// Replay records every (jkt, jti) seen; required.
	Replay ReplayStore
	// Nonces issues and checks server nonces; nil means nonces are not used.
	// When set, a proof carrying a nonce must carry a valid one.
	Nonces *NonceSource
	// RequireNonce refuses proofs without a valid nonce with "use_dpop_nonce".
	// It needs Nonces.
	RequireNonce bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxAge is how old a proof's iat may be; default 60s.
	MaxAge time.Duration
	// Leeway is how far in the future iat may be; default 5s.
	Leeway time.Duration
	// Algs are the accepted JWS algorithms; default ES256 and PS256. Only
	// asymmetric algorithms this package implements count (ES256, ES384,
	// ES512, PS256, PS384, PS512, EdDSA); none, HS*, RS* are always refused.
	Algs []string
}

// VerifyOptions are the per-request expectations of Verify.
type VerifyOptions struct {
	// AccessToken, when set, makes ath required and equal to AccessTokenHash(AccessToken).
	AccessToken string
	// ExpectedJKT, when set, is the thumbprint the proof key must have (the
	// cnf.jkt of the access token, or dpop_jkt of an authorization request).
	ExpectedJKT string
	// DeferReplay makes Verify record nothing: the caller must record
	// Proof.ReplayKey until Proof.ReplayExpires itself (for instance with
	// GormReplayStore.UseIn inside the transaction that acts on the request)
	// and refuse the request with ReplayError if it was recorded before.
	DeferReplay bool
}

type proofHeader struct {
	Typ  string          `json:"typ"`
	Alg  string          `json:"alg"`
	JWK  json.RawMessage `json:"jwk"`
	Crit json.RawMessage `json:"crit"`
}

type proofClaims struct {
	JTI   *string  `json:"jti"`
	HTM   *string  `json:"htm"`
	HTU   *string  `json:"htu"`
	IAT   *float64 `json:"iat"`
	ATH   *string  `json:"ath"`
	Nonce *string  `json:"nonce"`
}

// algSpec describes one supported signature algorithm.
type algSpec struct {
	hash    crypto.Hash
	newHash func() hash.Hash
	curve   elliptic.Curve // ECDSA
	rsa     bool           // RSASSA-PSS
	ed      bool           // EdDSA (Ed25519)
}

var supportedAlgs = map[string]algSpec{
	"ES256": {hash: crypto.SHA256, newHash: sha256.New, curve: elliptic.P256()},
	"ES384": {hash: crypto.SHA384, newHash: sha512.New384, curve: elliptic.P384()},
	"ES512": {hash: crypto.SHA512, newHash: sha512.New, curve: elliptic.P521()},
	"PS256": {hash: crypto.SHA256, newHash: sha256.New, rsa: true},
	"PS384": {hash: crypto.SHA384, newHash: sha512.New384, rsa: true},
	"PS512": {hash: crypto.SHA512, newHash: sha512.New, rsa: true},
	"EdDSA": {ed: true},
}

func (v *Verifier) allowed(alg string) (algSpec, bool) {
	spec, ok := supportedAlgs[alg]
	if !ok {
		return algSpec{}, false
	}
	algs := v.Algs
	if len(algs) == 0 {
		algs = DefaultAlgs
	}
	for _, a := range algs {
		if a == alg {
			return spec, true
		}
	}
	return algSpec{}, false
}

// Verify checks one DPoP header value (RFC 9449 §4.3) for a request with the
// given method and absolute URL (scheme://host/path as the server sees it
// under its public issuer URL; any query or fragment is ignored).
//
// Refusals are *Error. The checks run in RFC 9449 §4.3 order, parsing the
// proof once (the jwk header's parse and thumbprint are cached per key), and
// the jti is recorded in the ReplayStore only after every other check passed,
// so a bad proof never burns a jti (with opts.DeferReplay it is not recorded
// at all: the caller records Proof.ReplayKey itself). A non-*Error error means the Verifier is misconfigured
// or the ReplayStore failed; the caller should answer with a server error.
func (v *Verifier) Verify(ctx context.Context, proof string, method, url string, opts VerifyOptions) (*Proof, error) {
	if v.Replay == nil {
		return nil, errors.New("dpop: Verifier.Replay is nil")
	}
	if v.RequireNonce && v.Nonces == nil {
		return nil, errors.New("dpop: Verifier.RequireNonce is set without Nonces")
	}
	wantURL, ok := normalizeURL(url)
	if !ok {
		return nil, fmt.Errorf("dpop: request URL %q is not an absolute URL", url)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	maxAge, leeway := v.MaxAge, v.Leeway
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if leeway <= 0 {
		leeway = DefaultLeeway
	}

	// §4.3 step 2: a well-formed compact JWS.
	if proof == "" {
		return nil, invalid("missing DPoP proof")
	}
	dot1 := strings.IndexByte(proof, '.')
	if dot1 < 0 {
		return nil, invalid("DPoP proof is not a compact JWS")
	}
	dot2 := strings.IndexByte(proof[dot1+1:], '.')
	if dot2 < 0 {
		return nil, invalid("DPoP proof is not a compact JWS")
	}
	dot2 += dot1 + 1
	if strings.IndexByte(proof[dot2+1:], '.') >= 0 {
		return nil, invalid("DPoP proof is not a compact JWS")
	}
	rawHeader, rawPayload, rawSig := proof[:dot1], proof[dot1+1:dot2], proof[dot2+1:]

	headerJSON, err := base64.RawURLEncoding.DecodeString(rawHeader)
	if err != nil {
		return nil, invalid("DPoP proof header is not base64url")
	}
	var hdr proofHeader
	if err := json.Unmarshal(headerJSON, &hdr); err != nil {
		return nil, invalid("DPoP proof header is not a JSON object")
	}
	// §4.3 step 4: typ.
	if !strings.EqualFold(hdr.Typ, TypeDPoP) {
		return nil, invalid("DPoP proof typ must be dpop+jwt")
	}
	// §4.3 step 5: an asymmetric algorithm we accept.
	spec, ok := v.allowed(hdr.Alg)
	if !ok {
		return nil, invalid(fmt.Sprintf("DPoP proof alg %q is not allowed", hdr.Alg))
	}
	// RFC 7515 §4.1.11: we understand no extension header.
	if len(hdr.Crit) > 0 && string(hdr.Crit) != "null" {
		return nil, invalid("DPoP proof has a crit header, which is not supported")
	}
	// §4.3 step 7: a public key in jwk, matching alg.
	if len(hdr.JWK) == 0 || string(hdr.JWK) == "null" {
		return nil, invalid("DPoP proof has no jwk header")
	}
	key, jkt, rerr := parseJWK(hdr.JWK)
	if rerr != nil {
		return nil, rerr
	}
	if err := checkKey(spec, hdr.Alg, key.Key); err != nil {
		return nil, err
	}

	// §4.3 step 6: the signature.
	sig, err := base64.RawURLEncoding.DecodeString(rawSig)
	if err != nil {
		return nil, invalid("DPoP proof signature is not base64url")
	}
	if !verifySignature(spec, key.Key, proof[:dot2], sig) {
		return nil, invalid("DPoP proof signature is invalid")
	}

	// §4.3 step 3: the claims.
	payload, err := base64.RawURLEncoding.DecodeString(rawPayload)
	if err != nil {
		return nil, invalid("DPoP proof payload is not base64url")
	}
	var cl proofClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return nil, invalid("DPoP proof claims are not a JSON object with the expected claim types")
	}
	if cl.JTI == nil || *cl.JTI == "" {
		return nil, invalid("DPoP proof has no jti")
	}
	if len(*cl.JTI) > MaxJTILength {
		return nil, invalid("DPoP proof jti is longer than 256 characters")
	}
	// §4.3 step 8: htm.
	if cl.HTM == nil || *cl.HTM == "" {
		return nil, invalid("DPoP proof has no htm")
	}
	if *cl.HTM != method {
		return nil, invalid("htm does not match the request method")
	}
	// §4.3 step 9: htu.
	if cl.HTU == nil || *cl.HTU == "" {
		return nil, invalid("DPoP proof has no htu")
	}
	gotURL, ok := normalizeURL(*cl.HTU)
	if !ok {
		return nil, invalid("htu is not an absolute URL")
	}
	if gotURL != wantURL {
		return nil, invalid("htu does not match the request URL")
	}
	// §4.3 step 11: iat within the acceptance window.
	if cl.IAT == nil {
		return nil, invalid("DPoP proof has no iat")
	}
	t := now().UTC()
	iatF := *cl.IAT
	if iatF < float64(t.Add(-maxAge).Unix())-1 {
		return nil, invalid("DPoP proof iat is too old")
	}
	if iatF > float64(t.Add(leeway).Unix())+1 {
		return nil, invalid("DPoP proof iat is in the future")
	}
	sec := int64(iatF)
	iat := time.Unix(sec, int64((iatF-float64(sec))*1e9)).UTC()
	if iat.Before(t.Add(-maxAge)) {
		return nil, invalid("DPoP proof iat is too old")
	}
	if iat.After(t.Add(leeway)) {
		return nil, invalid("DPoP proof iat is in the future")
	}
	// §4.3 step 12 / §7: ath.
	if opts.AccessToken != "" {
		if cl.ATH == nil || *cl.ATH == "" {
			return nil, invalid("DPoP proof has no ath")
		}
		if *cl.ATH != AccessTokenHash(opts.AccessToken) {
			return nil, invalid("ath does not match the access token")
		}
	}
	// §4.3 step 12 / §6: the key the token (or code) is bound to.
	if opts.ExpectedJKT != "" && jkt != opts.ExpectedJKT {
		return nil, invalid("DPoP proof key does not match the key the access token is bound to")
	}
	// §4.3 step 10, §8, §9: nonce.
	var nonce string
	if cl.Nonce != nil {
		nonce = *cl.Nonce
	}
	if v.Nonces != nil {
		switch {
		case nonce == "" && v.RequireNonce:
			return nil, &Error{Code: CodeUseNonce, Description: "DPoP proof has no nonce; use the DPoP-Nonce the server sent"}
		case nonce != "" && !v.Nonces.Valid(nonce):
			return nil, &Error{Code: CodeUseNonce, Description: "DPoP proof nonce is invalid or expired"}
		}
	}
	p := &Proof{JKT: jkt, Key: key, Method: *cl.HTM, URL: *cl.HTU, IssuedAt: iat, ID: *cl.JTI, Nonce: nonce,
		ReplayKey: jkt + ":" + *cl.JTI, ReplayExpires: iat.Add(maxAge + leeway)}
	// §11.1: replay, last so a refused proof never burns its jti.
	if !opts.DeferReplay {
		if err := v.Replay.Use(ctx, p.ReplayKey, p.ReplayExpires); err != nil {
			if errors.Is(err, ErrReplay) {
				return nil, ReplayError()
			}
			return nil, fmt.Errorf("dpop: replay store: %w", err)
		}
	}
	if cl.ATH != nil {
		p.AccessTokenHash = *cl.ATH
	}
	return p, nil
}

// checkKey refuses a jwk that cannot be used with alg.
func checkKey(spec algSpec, alg string, k any) *Error {
	mismatch := invalid("DPoP proof jwk does not match alg " + alg)
	switch {
	case spec.curve != nil:
		pub, ok := k.(*ecdsa.PublicKey)
		if !ok || pub.Curve != spec.curve {
			return mismatch
		}
	case spec.rsa:
		pub, ok := k.(*rsa.PublicKey)
		if !ok {
			return mismatch
		}
		if pub.N.BitLen() < MinRSABits {
			return invalid("DPoP proof RSA key is shorter than 2048 bits")
		}
	case spec.ed:
		if _, ok := k.(ed25519.PublicKey); !ok {
			return mismatch
		}
	default:
		return mismatch
	}
	return nil
}

// verifySignature checks a JWS signature (RFC 7518 §3.4, §3.5; RFC 8037 §3.1)
// over signingInput with a key already checked by checkKey.
func verifySignature(spec algSpec, k any, signingInput string, sig []byte) bool {
	if spec.ed {
		return ed25519.Verify(k.(ed25519.PublicKey), []byte(signingInput), sig)
	}
	h := spec.newHash()
	h.Write([]byte(signingInput))
	var buf [64]byte
	digest := h.Sum(buf[:0])
	if spec.rsa {
		return rsa.VerifyPSS(k.(*rsa.PublicKey), spec.hash, digest, sig, nil) == nil
	}
	pub := k.(*ecdsa.PublicKey)
	size := (pub.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*size {
		return false
	}
	r := new(big.Int).SetBytes(sig[:size])
	s := new(big.Int).SetBytes(sig[size:])
	return ecdsa.Verify(pub, digest, r, s)
}

// keyCacheMax bounds the cache of parsed jwk headers; clients sign every
// proof with the same key, so parsing it and computing its thumbprint once
// saves most of Verify's allocations.
const keyCacheMax = 4096

type cachedKey struct {
	key *jose.JSONWebKey
	jkt string
}

var keyCache = struct {
	sync.Mutex
	m map[string]cachedKey
}{m: map[string]cachedKey{}}

// parseJWK parses a jwk header into a public key and its thumbprint,
// refusing private, symmetric and certificate-carrying keys (RFC 9449 §4.3
// step 7). Successful parses are cached by their JSON text.
func parseJWK(raw []byte) (*jose.JSONWebKey, string, *Error) {
	keyCache.Lock()
	c, ok := keyCache.m[string(raw)]
	keyCache.Unlock()
	if ok {
		return c.key, c.jkt, nil
	}
	key := new(jose.JSONWebKey)
	if err := key.UnmarshalJSON(raw); err != nil {
		return nil, "", invalid("DPoP proof jwk header is not a valid JWK")
	}
	if !key.IsPublic() {
		return nil, "", invalid("DPoP proof jwk header must hold a public key, not a private or symmetric key")
	}
	if len(key.Certificates) > 0 {
		return nil, "", invalid("DPoP proof jwk header must not carry x5c")
	}
	jkt, err := Thumbprint(key)
	if err != nil {
		return nil, "", invalid("DPoP proof jwk header is not a valid JWK")
	}
	keyCache.Lock()
	if len(keyCache.m) >= keyCacheMax {
		clear(keyCache.m)
	}
	keyCache.m[string(raw)] = cachedKey{key: key, jkt: jkt}
	keyCache.Unlock()
	return key, jkt, nil
}
