package sca

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/bankbridge/bankbridge/internal/money"
)

// linkDomain separates link hashes from every other SHA-256 of the platform
// and versions the encoding.
const linkDomain = "bankbridge/sca/dynamic-link/v1"

// LinkHash is the dynamic-linking code of a payment (PSD2 RTS art. 5): the
// hex SHA-256 over a canonical encoding of the consent id, the amount in
// minor units, the currency, and the payee's name, account scheme and
// identification. Each field is written as its 8-byte big-endian length and
// its bytes (the amount as its 8-byte big-endian two's complement), after a
// length-prefixed domain tag, so no two different payments encode alike:
// moving characters from one field to the next changes the lengths. The
// fields are hashed exactly as given (no normalisation): what the customer
// was shown is what is bound.
func LinkHash(consentID string, amount money.Money, payee Payee) string {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	var minor [8]byte
	binary.BigEndian.PutUint64(minor[:], uint64(amount.Minor))
	field([]byte(linkDomain))
	field([]byte(consentID))
	field(minor[:])
	field([]byte(amount.Currency))
	field([]byte(payee.Name))
	field([]byte(payee.Scheme))
	field([]byte(payee.Identification))
	return hex.EncodeToString(h.Sum(nil))
}
