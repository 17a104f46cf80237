package secrets

import (
	"bytes"
	"encoding/base64"
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
	if _, err := LoadOrCreateKey(dir); !errors.Is(err, ErrBadKey) {
		t.Fatalf("short env key: err %v, want ErrBadKey", err)
	}
	want := bytes.Repeat([]byte{9}, 32)
	t.Setenv(KeyEnv, base64.StdEncoding.EncodeToString(want))
	if k, err := LoadOrCreateKey(dir); err != nil || !bytes.Equal(k, want) {
		t.Fatalf("env key not preferred over the file: %v", err)
	}
}

func TestKeyFromEnv(t *testing.T) {
	good := bytes.Repeat([]byte{3}, 32)
	for name, c := range map[string]struct {
		env  string
		want []byte
		err  error
	}{
		"ok/base64-32-bytes":     {" " + base64.StdEncoding.EncodeToString(good) + "\n", good, nil},
		"fail/unset":             {"", nil, ErrNoKey},
		"fail/blank":             {"   ", nil, ErrNoKey},
		"fail/short":             {"c2hvcnQ=", nil, ErrBadKey},
		"fail/not-base64":        {"not base64!", nil, ErrBadKey},
		"fail/url-safe-alphabet": {base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), nil, ErrBadKey},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(KeyEnv, c.env)
			k, err := KeyFromEnv()
			if !errors.Is(err, c.err) || !bytes.Equal(k, c.want) {
				t.Fatalf("KeyFromEnv = %x, %v; want %x, %v", k, err, c.want, c.err)
			}
		})
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
