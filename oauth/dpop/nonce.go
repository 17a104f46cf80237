package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// nonceLabel separates these MACs from any other use of the same key.
const nonceLabel = "bankbridge/dpop-nonce/v1"

// nonceMACLen is how many bytes of the HMAC a nonce carries.
const nonceMACLen = 16

// NonceSource issues and checks stateless server nonces (RFC 9449 §8, §9):
// base64url(window || HMAC-SHA256(key, label || window)[:16]), where window is
// the number of whole windows since the Unix epoch. A nonce is valid during
// the window it was issued in and the next one, on every node sharing the
// key, with no shared state. Safe for concurrent use.
type NonceSource struct {
	key    []byte
	window time.Duration
	now    func() time.Time
}

// NewNonceSource makes a NonceSource. key must be at least 16 bytes (32
// random bytes recommended) and the same on every node; window must be
// positive; now nil means time.Now. It panics on a short key or a
// non-positive window, which are programming errors.
func NewNonceSource(key []byte, window time.Duration, now func() time.Time) *NonceSource {
	if len(key) < 16 {
		panic("dpop: nonce key shorter than 16 bytes")
	}
	if window <= 0 {
		panic("dpop: nonce window must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &NonceSource{key: append([]byte(nil), key...), window: window, now: now}
}

func (n *NonceSource) current() uint64 {
	return uint64(n.now().UnixNano() / int64(n.window))
}

func (n *NonceSource) mac(w uint64) []byte {
	h := hmac.New(sha256.New, n.key)
	h.Write([]byte(nonceLabel))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], w)
	h.Write(b[:])
	return h.Sum(nil)[:nonceMACLen]
}

// Nonce returns the nonce of the current window, to send as DPoP-Nonce.
func (n *NonceSource) Nonce() string {
	w := n.current()
	var b [8 + nonceMACLen]byte
	binary.BigEndian.PutUint64(b[:8], w)
	copy(b[8:], n.mac(w))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Valid reports whether nonce was issued (by any node with the same key) in
// the current or the previous window.
func (n *NonceSource) Valid(nonce string) bool {
	if len(nonce) != base64.RawURLEncoding.EncodedLen(8+nonceMACLen) {
		return false
	}
	var b [8 + nonceMACLen]byte
	if k, err := base64.RawURLEncoding.Decode(b[:], []byte(nonce)); err != nil || k != len(b) {
		return false
	}
	w := binary.BigEndian.Uint64(b[:8])
	cur := n.current()
	if w != cur && w+1 != cur {
		return false
	}
	return hmac.Equal(b[8:], n.mac(w))
}
