package webhooks

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Key prefixes of the Standard Webhooks specification.
const (
	SecretPrefix     = "whsec_" // HMAC-SHA256 shared secret (v1)
	PrivateKeyPrefix = "whsk_"  // Ed25519 private key (v1a), kept by Bankbridge
	PublicKeyPrefix  = "whpk_"  // Ed25519 public key (v1a), published
)

// Signing schemes an endpoint may use.
const (
	SigningHMAC    = "hmac-sha256"
	SigningEd25519 = "ed25519"
)

// Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is the clock skew Verify accepts by default.
const DefaultTolerance = 5 * time.Minute

// Verification errors returned by Verify.
var (
	ErrMissingHeaders   = errors.New("webhooks: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrBadTimestamp     = errors.New("webhooks: webhook-timestamp is not unix seconds")
	ErrTimestampSkew    = errors.New("webhooks: webhook-timestamp outside tolerance")
	ErrNoValidSignature = errors.New("webhooks: no matching signature")
	ErrBadSecret        = errors.New("webhooks: secret is neither whsec_… nor whpk_… base64")
)

// NewSecret returns a fresh "whsec_" + base64(32 random bytes) HMAC secret.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("webhooks: crypto/rand failed: " + err.Error())
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// NewKeyPair returns a fresh Ed25519 key pair as "whsk_…" (base64 of the 64-byte
// private key) and "whpk_…" (base64 of the 32-byte public key).
func NewKeyPair() (private, public string) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("webhooks: crypto/rand failed: " + err.Error())
	}
	return PrivateKeyPrefix + base64.StdEncoding.EncodeToString(priv), PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// KeyID is a short, stable identifier of a public key (base64url of the first 12
// bytes of its SHA-256), used as "kid" at the public keys document.
func KeyID(public string) string {
	sum := sha256.Sum256([]byte(public))
	return "whk_" + base64.RawURLEncoding.EncodeToString(sum[:12])
}

func decodeKey(key, prefix string) ([]byte, error) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return nil, ErrBadSecret
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, ErrBadSecret
	}
	return b, nil
}

func signedContent(id string, ts int64, body []byte) []byte {
	out := make([]byte, 0, len(id)+len(body)+24)
	out = append(out, id...)
	out = append(out, '.')
	out = strconv.AppendInt(out, ts, 10)
	out = append(out, '.')
	return append(out, body...)
}

// Sign returns one signature ("v1,…" for a whsec_ secret, "v1a,…" for a whsk_
// private key) over id.timestamp.body.
func Sign(key, id string, ts int64, body []byte) (string, error) {
	msg := signedContent(id, ts, body)
	switch {
	case strings.HasPrefix(key, SecretPrefix):
		k, err := decodeKey(key, SecretPrefix)
		if err != nil {
			return "", err
		}
		m := hmac.New(sha256.New, k)
		m.Write(msg)
		return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
	case strings.HasPrefix(key, PrivateKeyPrefix):
		k, err := decodeKey(key, PrivateKeyPrefix)
		if err != nil || len(k) != ed25519.PrivateKeySize {
			return "", ErrBadSecret
		}
		return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(ed25519.PrivateKey(k), msg)), nil
	}
	return "", ErrBadSecret
}

// SignHeaders sets the three Standard Webhooks headers on h, signing with every
// key given (space-separated signatures, as during a rotation overlap).
func SignHeaders(h http.Header, keys []string, id string, at time.Time, body []byte) error {
	ts := at.Unix()
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		s, err := Sign(k, id, ts, body)
		if err != nil {
			return err
		}
		sigs = append(sigs, s)
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, strings.Join(sigs, " "))
	return nil
}

// Verify checks a received webhook as a partner would: secret is the endpoint's
// "whsec_…" secret (checks v1 HMAC-SHA256 signatures) or its "whpk_…" public key
// (checks v1a Ed25519 signatures); headers must carry webhook-id,
// webhook-timestamp (within tolerance of now; 0 means DefaultTolerance) and
// webhook-signature, of which one signature must match id.timestamp.body.
func Verify(secret string, headers http.Header, body []byte, tolerance time.Duration) error {
	return verifyAt(secret, headers, body, tolerance, time.Now())
}

func verifyAt(secret string, headers http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	id, tsS, sigs := headers.Get(HeaderID), headers.Get(HeaderTimestamp), headers.Get(HeaderSignature)
	if id == "" || tsS == "" || sigs == "" {
		return ErrMissingHeaders
	}
	ts, err := strconv.ParseInt(tsS, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s", ErrTimestampSkew, d.Round(time.Second))
	}
	msg := signedContent(id, ts, body)
	var version string
	var check func(sig []byte) bool
	switch {
	case strings.HasPrefix(secret, SecretPrefix):
		k, err := decodeKey(secret, SecretPrefix)
		if err != nil {
			return err
		}
		m := hmac.New(sha256.New, k)
		m.Write(msg)
		want := m.Sum(nil)
		version, check = "v1", func(sig []byte) bool { return subtle.ConstantTimeCompare(sig, want) == 1 }
	case strings.HasPrefix(secret, PublicKeyPrefix):
		k, err := decodeKey(secret, PublicKeyPrefix)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return ErrBadSecret
		}
		version, check = "v1a", func(sig []byte) bool { return ed25519.Verify(ed25519.PublicKey(k), msg, sig) }
	default:
		return ErrBadSecret
	}
	for _, s := range strings.Fields(sigs) {
		v, b64, ok := strings.Cut(s, ",")
		if !ok || v != version {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		if check(sig) {
			return nil
		}
	}
	return ErrNoValidSignature
}
