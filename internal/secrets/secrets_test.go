package secrets

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestBox(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	b, err := NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed := b.Seal([]byte("private key"), "signing-key")
	if bytes.Contains([]byte(sealed), []byte("private key")) {
		t.Fatal("plaintext visible")
	}
	got, err := b.Open(sealed, "signing-key")
	if err != nil || string(got) != "private key" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := NewBox(bytes.Repeat([]byte{8}, 32))
	for name, open := range map[string]func() ([]byte, error){
		"fail/wrong-purpose": func() ([]byte, error) { return b.Open(sealed, "webhook-secret") },
		"fail/wrong-key":     func() ([]byte, error) { return other.Open(sealed, "signing-key") },
		"fail/tampered":      func() ([]byte, error) { return b.Open(sealed[:len(sealed)-2]+"AA", "signing-key") },
		"fail/garbage":       func() ([]byte, error) { return b.Open("nope", "signing-key") },
	} {
		if _, err := open(); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: err %v, want ErrDecrypt", name, err)
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	t.Setenv(KeyEnv, "")
	dir := t.TempDir()
	k1, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dir, "master.key"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	k2, _ := LoadOrCreateKey(dir)
	if !bytes.Equal(k1, k2) {
		t.Fatal("key not stable across loads")
	}
	t.Setenv(KeyEnv, "c2hvcnQ=")
	if _, err := LoadOrCreateKey(dir); err == nil {
		t.Fatal("short env key accepted")
	}
}

func TestPassword(t *testing.T) {
	PasswordCost = 4
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if CheckPassword(h, "correct horse") != nil || !errors.Is(CheckPassword(h, "wrong"), ErrPasswordMismatch) {
		t.Fatal("password check broken")
	}
}

func TestDeriveKey(t *testing.T) {
	m := bytes.Repeat([]byte{1}, 32)
	a, b := DeriveKey(m, "fosite-hmac"), DeriveKey(m, "pairwise")
	if len(a) != 32 || bytes.Equal(a, b) || !bytes.Equal(a, DeriveKey(m, "fosite-hmac")) {
		t.Fatal("DeriveKey must be 32 bytes, stable, and differ per purpose")
	}
	if bytes.Equal(a, DeriveKey(bytes.Repeat([]byte{2}, 32), "fosite-hmac")) {
		t.Fatal("DeriveKey ignores the master key")
	}
}
