package secrets

import (
	"errors"

	"golang.org/x/crypto/bcrypt"
)

// ErrPasswordMismatch is returned by CheckPassword for a wrong password.
var ErrPasswordMismatch = errors.New("secrets: password mismatch")

// PasswordCost is the bcrypt cost used for new hashes.
var PasswordCost = 11

// HashPassword returns a bcrypt hash of password.
func HashPassword(password string) (string, error) {
	if len(password) > 72 {
		return "", errors.New("secrets: password longer than 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), PasswordCost)
	return string(h), err
}

// CheckPassword compares password with a hash made by HashPassword in constant time.
func CheckPassword(hash, password string) error {
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)); err != nil {
		return ErrPasswordMismatch
	}
	return nil
}

// dummyHash is compared against when a user does not exist, so that a lookup
// miss costs the same time as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("bankbridge-timing-equaliser"), 11)

// BurnPasswordCheck spends the time of one CheckPassword, for unknown users.
func BurnPasswordCheck(password string) {
	_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
}
