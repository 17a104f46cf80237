package webhooks

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks reference vector (standard-webhooks libraries' tests).
func TestSignReferenceVector(t *testing.T) {
	sig, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; sig != want {
		t.Fatalf("signature %s, want %s", sig, want)
	}
}

func TestVerify(t *testing.T) {
	now := time.Now()
	secret, other := NewSecret(), NewSecret()
	priv, pub := NewKeyPair()
	_, otherPub := NewKeyPair()
	body := []byte(`{"type":"payment.created","timestamp":"2026-01-01T00:00:00Z","data":{"payment_id":"pay_1"}}`)
	signed := func(keys ...string) http.Header {
		h := http.Header{}
		if err := SignHeaders(h, keys, "evt_1", now, body); err != nil {
			t.Fatal(err)
		}
		return h
	}
	with := func(h http.Header, k, v string) http.Header { h = h.Clone(); h.Set(k, v); return h }
	cases := []struct {
		name    string
		secret  string
		h       http.Header
		body    []byte
		wantErr error
	}{
		{"ok/hmac", secret, signed(secret), body, nil},
		{"ok/hmac-second-of-two", secret, signed(other, secret), body, nil},
		{"ok/ed25519", pub, signed(priv), body, nil},
		{"ok/ed25519-with-hmac-too", pub, signed(secret, priv), body, nil},
		{"fail/wrong-secret", other, signed(secret), body, ErrNoValidSignature},
		{"fail/tampered-body", secret, signed(secret), append([]byte(nil), append(body, ' ')...), ErrNoValidSignature},
		{"fail/tampered-id", secret, with(signed(secret), HeaderID, "evt_2"), body, ErrNoValidSignature},
		{"fail/wrong-public-key", otherPub, signed(priv), body, ErrNoValidSignature},
		{"fail/v1-not-accepted-for-public-key", pub, signed(secret), body, ErrNoValidSignature},
		{"fail/missing-signature", secret, with(signed(secret), HeaderSignature, ""), body, ErrMissingHeaders},
		{"fail/bad-timestamp", secret, with(signed(secret), HeaderTimestamp, "soon"), body, ErrBadTimestamp},
		{"fail/old-timestamp", secret, with(signed(secret), HeaderTimestamp, strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)), body, ErrTimestampSkew},
		{"fail/future-timestamp", secret, with(signed(secret), HeaderTimestamp, strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10)), body, ErrTimestampSkew},
		{"fail/bad-secret", "sekrit", signed(secret), body, ErrBadSecret},
		{"fail/bad-secret-base64", "whsec_***", signed(secret), body, ErrBadSecret},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.h, tc.body, 0)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestSecretFormat(t *testing.T) {
	s := NewSecret()
	raw, err := decodeKey(s, SecretPrefix)
	if err != nil || len(raw) < 24 || len(raw) > 32 || !strings.HasPrefix(s, "whsec_") {
		t.Fatalf("secret %q: %d bytes, %v", s, len(raw), err)
	}
	if NewSecret() == s {
		t.Fatal("secrets repeat")
	}
	_, pub := NewKeyPair()
	if raw, err := decodeKey(pub, PublicKeyPrefix); err != nil || len(raw) != 32 {
		t.Fatalf("public key %q", pub)
	}
}
