// Package secrets encrypts values at rest (private signing keys, webhook
// secrets) with AES-256-GCM under a key from the environment, and hashes
// passwords.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeyEnv names the environment variable holding the base64 32-byte master key.
const KeyEnv = "BANKBRIDGE_ENCRYPTION_KEY"

// ErrDecrypt is returned when a sealed value fails authentication (wrong key,
// tampered ciphertext, or a value sealed for another purpose).
var ErrDecrypt = errors.New("secrets: decryption failed")

// Box seals and opens values. The zero value is unusable; use NewBox.
type Box struct{ aead cipher.AEAD }

// NewBox makes a Box from a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secrets: key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// ErrNoKey is returned by KeyFromEnv when BANKBRIDGE_ENCRYPTION_KEY is not set.
var ErrNoKey = errors.New("secrets: " + KeyEnv + " is not set")

// ErrBadKey is returned when a master key is not base64 of 32 bytes.
var ErrBadKey = errors.New("secrets: " + KeyEnv + " must be base64 of 32 bytes")

// ParseKey decodes a master key: standard base64 of 32 bytes (what
// `openssl rand -base64 32` prints). It returns ErrBadKey otherwise.
func ParseKey(v string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(k) != 32 {
		return nil, ErrBadKey
	}
	return k, nil
}

// KeyFromEnv returns the master key from BANKBRIDGE_ENCRYPTION_KEY: the only
// source in production. It returns ErrNoKey when the variable is unset or
// empty, ErrBadKey when it is not base64 of 32 bytes.
func KeyFromEnv() ([]byte, error) {
	v := strings.TrimSpace(os.Getenv(KeyEnv))
	if v == "" {
		return nil, ErrNoKey
	}
	return ParseKey(v)
}

// LoadOrCreateKey is the development key source: the master key from
// BANKBRIDGE_ENCRYPTION_KEY when set (see KeyFromEnv); otherwise from
// dataDir/master.key, creating that file (mode 0600, and dataDir, 0700) on
// first start. Production never calls it: a generated key file there would
// seal secrets under a key nobody backs up.
func LoadOrCreateKey(dataDir string) ([]byte, error) {
	if k, err := KeyFromEnv(); !errors.Is(err, ErrNoKey) {
		return k, err
	}
	path := filepath.Join(dataDir, "master.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("secrets: %s is not base64 of 32 bytes", path)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

// Seal encrypts plaintext; purpose is bound as associated data so a value sealed
// for one use ("signing-key", "webhook-secret:whe_…") cannot be opened as another.
// The result is "v1." + base64url(nonce || ciphertext).
func (b *Box) Seal(plaintext []byte, purpose string) string {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("secrets: crypto/rand failed: " + err.Error())
	}
	out := b.aead.Seal(nonce, nonce, plaintext, []byte(purpose))
	return "v1." + base64.RawURLEncoding.EncodeToString(out)
}

// Open decrypts a value made by Seal with the same purpose.
func (b *Box) Open(sealed, purpose string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, "v1.")
	if !ok {
		return nil, ErrDecrypt
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return nil, ErrDecrypt
	}
	pt, err := b.aead.Open(nil, raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():], []byte(purpose))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// DeriveKey derives a 32-byte key for one purpose from the master key
// (HMAC-SHA256(master, "bankbridge:"+purpose)), so every node holding the same
// master key derives the same per-purpose keys and no two purposes share one.
func DeriveKey(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("bankbridge:" + purpose))
	return m.Sum(nil)
}
