// Package ids makes the opaque, prefixed, random public identifiers Bankbridge
// hands out (pay_…, cns_…, app_…).
package ids

import (
	"crypto/rand"
	"strings"
)

// alphabet is Crockford-free lower-case base32: no padding, URL and log safe.
const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// New returns prefix + "_" + 26 characters encoding 128 random bits.
func New(prefix string) string {
	return prefix + "_" + Random(26)
}

// Random returns n characters from a 32-symbol alphabet (5 bits each) read from
// crypto/rand.
func Random(n int) string {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		panic("ids: crypto/rand failed: " + err.Error())
	}
	var b strings.Builder
	b.Grow(n)
	for _, c := range buf {
		b.WriteByte(alphabet[c&31])
	}
	return b.String()
}

// HasPrefix reports whether id is shaped like an id made by New(prefix).
func HasPrefix(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"_")
	if !ok || len(rest) != 26 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(alphabet, rest[i]) < 0 {
			return false
		}
	}
	return true
}
