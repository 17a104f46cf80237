package passkeys

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth/passkeys/passkeystest"
)

var ctx = context.Background()

const (
	testIssuer = "http://localhost:8443"
	testOrigin = "http://localhost:8443"
	testRPID   = "localhost"
)

// wantRefusals is each refusal's exact problem, written out.
var wantRefusals = map[error]struct {
	code   problem.Code
	detail string
}{
	ErrInvalidCustomer:     {problem.CodeValidation, "The customer needs a cus_ id and a username."},
	ErrInvalidName:         {problem.CodeValidation, "A passkey name is 1 to 64 characters, without control characters."},
	ErrInvalidLinkHash:     {problem.CodeValidation, "The link hash is at most 64 bytes."},
	ErrNoPasskey:           {problem.CodeNotFound, "The customer has no passkey."},
	ErrCeremonyNotFound:    {problem.CodeNotFound, "The passkey ceremony is unknown or was already used; start again."},
	ErrCeremonyExpired:     {problem.CodeInvalidRequest, "The passkey ceremony expired; start again."},
	ErrMalformedResponse:   {problem.CodeInvalidRequest, "The passkey response is not a WebAuthn credential."},
	ErrOriginMismatch:      {problem.CodeForbidden, "The passkey response was made for another website."},
	ErrRPIDMismatch:        {problem.CodeForbidden, "The passkey response was made for another relying party."},
	ErrChallengeMismatch:   {problem.CodeForbidden, "The passkey response answers another request."},
	ErrUserNotPresent:      {problem.CodeForbidden, "The authenticator did not confirm the customer's presence."},
	ErrUserNotVerified:     {problem.CodeForbidden, "The authenticator did not verify the customer (PIN or biometrics)."},
	ErrResponseInvalid:     {problem.CodeForbidden, "The passkey response did not verify."},
	ErrLinkChanged:         {problem.CodeForbidden, "What was confirmed with the passkey has changed since; confirm again."},
	ErrClonedAuthenticator: {problem.CodeForbidden, "The passkey's signature counter did not increase; the authenticator may be cloned."},
	ErrCredentialNotFound:  {problem.CodeNotFound, "The customer has no such passkey."},
	ErrCredentialExists:    {problem.CodeConflict, "This passkey is registered already."},
}

// mustRefuse fails unless err is the refusal want: the sentinel (errors.Is)
// and its exact problem code and detail.
func mustRefuse(tb testing.TB, err, want error) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("err = nil, want %v", want)
	}
	if !errors.Is(err, want) {
		tb.Fatalf("err = %v, want %v", err, want)
	}
	var p *problem.Error
	if !errors.As(err, &p) {
		tb.Fatalf("err = %T %v, want a *problem.Error", err, err)
	}
	w := wantRefusals[want]
	if p.Code != w.code || p.Detail != w.detail {
		tb.Fatalf("problem = %s %q, want %s %q", p.Code, p.Detail, w.code, w.detail)
	}
}

// fixture is a service on one database with a clock tests move.
type fixture struct {
	svc *Service
	d   *db.DB
	mu  sync.Mutex
	now time.Time
}

func newFixture(tb testing.TB, d *db.DB) *fixture {
	tb.Helper()
	f := &fixture{d: d, now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	svc, err := New(Config{Issuer: testIssuer, Store: NewGormStore(d), Now: f.clock})
	if err != nil {
		tb.Fatal(err)
	}
	f.svc = svc
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func newCustomer() Customer {
	id := ids.New("cus")
	return Customer{ID: id, Username: "user-" + id[4:12], DisplayName: "Ada Lovelace"}
}

// register registers a's passkey for c (named name) and returns it.
func (f *fixture) register(tb testing.TB, c Customer, a *passkeystest.Authenticator, name string) Credential {
	tb.Helper()
	b, err := f.svc.BeginRegistration(ctx, c)
	if err != nil {
		tb.Fatal(err)
	}
	cred, err := f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID, a.Create(tb, b.Options, nil), name)
	if err != nil {
		tb.Fatalf("FinishRegistration: %v", err)
	}
	return cred
}

// linkHash is a dynamic-linking hash as a caller would make it.
func linkHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestNew(t *testing.T) {
	st := NewGormStore(nil)
	cases := []struct {
		name, issuer     string
		wantRPID, origin string
		wantErr          error
	}{
		{"ok/https", "https://bank.example", "bank.example", "https://bank.example", nil},
		{"ok/https-with-path", "https://Bank.Example/oauth", "bank.example", "https://bank.example", nil},
		{"ok/https-port", "https://bank.example:8443", "bank.example", "https://bank.example:8443", nil},
		{"ok/https-default-port", "https://bank.example:443", "bank.example", "https://bank.example", nil},
		{"ok/localhost", "http://localhost:8080", "localhost", "http://localhost:8080", nil},
		{"ok/sub-localhost", "http://bank.localhost:8080", "bank.localhost", "http://bank.localhost:8080", nil},
		{"fail/ipv4", "http://127.0.0.1:8080", "", "", ErrIssuerIPAddress},
		{"fail/ipv4-https", "https://192.0.2.1", "", "", ErrIssuerIPAddress},
		{"fail/ipv6", "http://[::1]:8080", "", "", ErrIssuerIPAddress},
		{"fail/http-not-localhost", "http://bank.example", "", "", ErrIssuerNotSecure},
		{"fail/not-http", "ftp://bank.example", "", "", ErrIssuerInvalid},
		{"fail/relative", "bank.example", "", "", ErrIssuerInvalid},
		{"fail/empty", "", "", "", ErrIssuerInvalid},
		{"fail/userinfo", "https://u:p@bank.example", "", "", ErrIssuerInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc, err := New(Config{Issuer: tc.issuer, Store: st})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if want := tc.wantErr.Error() + `: "` + tc.issuer + `"`; err.Error() != want {
					t.Fatalf("err = %q, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if svc.RPID() != tc.wantRPID || svc.Origin() != tc.origin {
				t.Fatalf("rp = %q %q, want %q %q", svc.RPID(), svc.Origin(), tc.wantRPID, tc.origin)
			}
		})
	}
	t.Run("fail/no-store", func(t *testing.T) {
		if _, err := New(Config{Issuer: "https://bank.example"}); err != ErrNoStore {
			t.Fatalf("err = %v, want %v", err, ErrNoStore)
		}
	})
}

func TestRegistration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)

		t.Run("ok/registers", func(t *testing.T) {
			c := newCustomer()
			a := passkeystest.New(t, testOrigin)
			b, err := f.svc.BeginRegistration(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			var o map[string]any
			if err := json.Unmarshal(b.Options, &o); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"rp":          map[string]any{"id": "localhost", "name": "Bankbridge"},
				"user":        map[string]any{"id": b64.EncodeToString([]byte(c.ID)), "name": c.Username, "displayName": "Ada Lovelace"},
				"attestation": "none",
				"timeout":     float64(300000),
				"authenticatorSelection": map[string]any{"residentKey": "preferred",
					"userVerification": "required"},
			}
			for k, v := range want {
				if got, _ := json.Marshal(o[k]); string(got) != string(mustJSON(t, v)) {
					t.Errorf("options.%s = %s, want %s", k, got, mustJSON(t, v))
				}
			}
			if _, ok := o["excludeCredentials"]; ok {
				t.Errorf("options.excludeCredentials = %v for a customer without passkeys", o["excludeCredentials"])
			}
			if ch, err := b64.DecodeString(o["challenge"].(string)); err != nil || len(ch) != 32 {
				t.Errorf("challenge = %v (%v), want 32 random bytes", o["challenge"], err)
			}
			got, err := f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID, a.Create(t, b.Options, nil), "  My phone ")
			if err != nil {
				t.Fatal(err)
			}
			wantCred := Credential{ID: a.CredentialID(), Name: "My phone", AAGUID: "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
				Transports: []string{"hybrid", "internal"}, CreatedAt: f.clock()}
			if !credEqual(got, wantCred) {
				t.Fatalf("credential = %+v, want %+v", got, wantCred)
			}
			list, err := f.svc.Credentials(ctx, c.ID)
			if err != nil || len(list) != 1 || !credEqual(list[0], wantCred) {
				t.Fatalf("Credentials = %+v, %v; want [%+v]", list, err, wantCred)
			}
			stored, err := NewGormStore(d).Credential(ctx, c.ID, a.CredentialID())
			if err != nil {
				t.Fatal(err)
			}
			if stored.SignCount != 0 || stored.AttestationFormat != "none" || stored.Attachment != "platform" ||
				!bytes.Equal(stored.RawAAGUID, a.AAGUID()) || !bytes.Equal(stored.PublicKey, a.COSEKey(t)) {
				t.Fatalf("stored = %+v", stored)
			}
			mustAudit(t, d, c.ID, "customer.passkey_registered", a.CredentialID())

			// A second registration excludes the first passkey.
			b2, err := f.svc.BeginRegistration(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			var o2 struct {
				Exclude []struct {
					Type       string   `json:"type"`
					ID         string   `json:"id"`
					Transports []string `json:"transports"`
				} `json:"excludeCredentials"`
			}
			if err := json.Unmarshal(b2.Options, &o2); err != nil {
				t.Fatal(err)
			}
			if len(o2.Exclude) != 1 || o2.Exclude[0].ID != a.CredentialID() || o2.Exclude[0].Type != "public-key" ||
				strings.Join(o2.Exclude[0].Transports, ",") != "hybrid,internal" {
				t.Fatalf("excludeCredentials = %+v, want the first passkey", o2.Exclude)
			}
		})

		t.Run("ok/synced-passkey", func(t *testing.T) {
			c := newCustomer()
			a := passkeystest.New(t, testOrigin)
			a.Synced = true
			got := f.register(t, c, a, "iCloud Keychain")
			if !got.BackupEligible || !got.BackupState {
				t.Fatalf("credential = %+v, want backup eligible and backed up", got)
			}
		})

		t.Run("ok/just-before-expiry", func(t *testing.T) {
			c := newCustomer()
			b, err := f.svc.BeginRegistration(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			f.advance(CeremonyTTL - time.Microsecond)
			if _, err := f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID,
				passkeystest.New(t, testOrigin).Create(t, b.Options, nil), "Key"); err != nil {
				t.Fatal(err)
			}
		})

		forged := []struct {
			name string
			edit func(*passkeystest.Gesture)
			want error
		}{
			{"fail/wrong-origin", func(g *passkeystest.Gesture) { g.Origin = "https://evil.example" }, ErrOriginMismatch},
			{"fail/origin-other-port", func(g *passkeystest.Gesture) { g.Origin = "http://localhost:8444" }, ErrOriginMismatch},
			{"fail/wrong-rp-id", func(g *passkeystest.Gesture) { g.RPID = "evil.example" }, ErrRPIDMismatch},
			{"fail/user-not-verified", func(g *passkeystest.Gesture) { g.Flags &^= passkeystest.FlagUV }, ErrUserNotVerified},
			{"fail/user-not-present", func(g *passkeystest.Gesture) { g.Flags &^= passkeystest.FlagUP }, ErrUserNotPresent},
			{"fail/wrong-ceremony-type", func(g *passkeystest.Gesture) { g.Type = "webauthn.get" }, ErrChallengeMismatch},
			{"fail/wrong-challenge", func(g *passkeystest.Gesture) { g.Challenge = b64.EncodeToString(random(32)) }, ErrChallengeMismatch},
			{"fail/backup-state-not-eligible", func(g *passkeystest.Gesture) { g.Flags |= passkeystest.FlagBS }, ErrResponseInvalid},
		}
		for _, tc := range forged {
			t.Run(tc.name, func(t *testing.T) {
				c := newCustomer()
				a := passkeystest.New(t, testOrigin)
				b, err := f.svc.BeginRegistration(ctx, c)
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID, a.Create(t, b.Options, tc.edit), "Key")
				mustRefuse(t, err, tc.want)
				mustHaveNoPasskey(t, f, c.ID)
				// The ceremony was used by the refused attempt.
				_, err = f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID, a.Create(t, b.Options, nil), "Key")
				mustRefuse(t, err, ErrCeremonyNotFound)
			})
		}

		t.Run("fail/replayed-ceremony", func(t *testing.T) {
			c := newCustomer()
			b, err := f.svc.BeginRegistration(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID, passkeystest.New(t, testOrigin).Create(t, b.Options, nil), "One"); err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID, passkeystest.New(t, testOrigin).Create(t, b.Options, nil), "Two")
			mustRefuse(t, err, ErrCeremonyNotFound)
		})

		t.Run("fail/expired-ceremony", func(t *testing.T) {
			c := newCustomer()
			b, err := f.svc.BeginRegistration(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			f.advance(CeremonyTTL)
			_, err = f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID, passkeystest.New(t, testOrigin).Create(t, b.Options, nil), "Key")
			mustRefuse(t, err, ErrCeremonyExpired)
			mustHaveNoPasskey(t, f, c.ID)
		})

		t.Run("fail/another-customers-ceremony", func(t *testing.T) {
			c, other := newCustomer(), newCustomer()
			a := passkeystest.New(t, testOrigin)
			b, err := f.svc.BeginRegistration(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishRegistration(ctx, b.CeremonyID, other.ID, a.Create(t, b.Options, nil), "Key")
			mustRefuse(t, err, ErrCeremonyNotFound)
			mustHaveNoPasskey(t, f, other.ID)
			// The owner's ceremony was left alone.
			if _, err := f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID, a.Create(t, b.Options, nil), "Key"); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("fail/login-ceremony", func(t *testing.T) {
			c := newCustomer()
			f.register(t, c, passkeystest.New(t, testOrigin), "Key")
			b, err := f.svc.BeginLogin(ctx, c.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID, passkeystest.New(t, testOrigin).Create(t, b.Options, nil), "Key")
			mustRefuse(t, err, ErrCeremonyNotFound)
		})

		for _, tc := range []struct{ name, passkey string }{
			{"fail/name-empty", ""}, {"fail/name-blank", "   "}, {"fail/name-control", "tab\there"},
			{"fail/name-too-long", strings.Repeat("é", 65)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := newCustomer()
				a := passkeystest.New(t, testOrigin)
				b, err := f.svc.BeginRegistration(ctx, c)
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID, a.Create(t, b.Options, nil), tc.passkey)
				mustRefuse(t, err, ErrInvalidName)
				// A bad name leaves the ceremony unused.
				if _, err := f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID, a.Create(t, b.Options, nil), strings.Repeat("é", 64)); err != nil {
					t.Fatal(err)
				}
			})
		}

		t.Run("fail/malformed-response", func(t *testing.T) {
			c := newCustomer()
			b, err := f.svc.BeginRegistration(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID, []byte(`{"type":"public-key"}`), "Key")
			mustRefuse(t, err, ErrMalformedResponse)
		})

		t.Run("fail/already-registered", func(t *testing.T) {
			a := passkeystest.New(t, testOrigin)
			f.register(t, newCustomer(), a, "Key")
			c := newCustomer()
			b, err := f.svc.BeginRegistration(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishRegistration(ctx, b.CeremonyID, c.ID, a.Create(t, b.Options, nil), "Key")
			mustRefuse(t, err, ErrCredentialExists)
			mustHaveNoPasskey(t, f, c.ID)
		})

		for _, tc := range []struct {
			name string
			c    Customer
		}{
			{"fail/customer-not-cus", Customer{ID: "usr_x", Username: "u"}},
			{"fail/customer-no-username", Customer{ID: "cus_x", Username: " "}},
			{"fail/customer-id-too-long", Customer{ID: "cus_" + strings.Repeat("x", 61), Username: "u"}},
			{"fail/customer-empty", Customer{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.BeginRegistration(ctx, tc.c)
				mustRefuse(t, err, ErrInvalidCustomer)
			})
		}
	})
}

func TestLogin(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		payA := linkHash("cns_a|1000|GBP|Acme")

		// login begins an assertion for c bound to link, answers it with a
		// (edited by edit) and finishes it with current.
		login := func(t *testing.T, c Customer, a *passkeystest.Authenticator, link, current []byte, edit func(*passkeystest.Gesture)) (Assertion, error) {
			t.Helper()
			b, err := f.svc.BeginLogin(ctx, c.ID, link)
			if err != nil {
				t.Fatal(err)
			}
			return f.svc.FinishLogin(ctx, b.CeremonyID, c.ID, a.Get(t, b.Options, edit), current)
		}

		t.Run("ok/device-bound-key", func(t *testing.T) {
			c := newCustomer()
			a := passkeystest.New(t, testOrigin)
			f.register(t, c, a, "YubiKey")
			b, err := f.svc.BeginLogin(ctx, c.ID, payA)
			if err != nil {
				t.Fatal(err)
			}
			var o struct {
				Challenge        string `json:"challenge"`
				RPID             string `json:"rpId"`
				UserVerification string `json:"userVerification"`
				Timeout          int    `json:"timeout"`
				Allow            []struct {
					Type string `json:"type"`
					ID   string `json:"id"`
				} `json:"allowCredentials"`
			}
			if err := json.Unmarshal(b.Options, &o); err != nil {
				t.Fatal(err)
			}
			if o.RPID != testRPID || o.UserVerification != "required" || o.Timeout != 300000 ||
				len(o.Allow) != 1 || o.Allow[0].ID != a.CredentialID() || o.Allow[0].Type != "public-key" {
				t.Fatalf("request options = %s", b.Options)
			}
			// The challenge is r ‖ SHA-256(label ‖ r ‖ link hash).
			ch, err := b64.DecodeString(o.Challenge)
			if err != nil || len(ch) != 64 {
				t.Fatalf("challenge = %q (%v), want 64 bytes", o.Challenge, err)
			}
			sum := sha256.Sum256(append(append([]byte("bankbridge/passkeys/link/v1"), ch[:32]...), payA...))
			if !bytes.Equal(ch[32:], sum[:]) {
				t.Fatalf("challenge does not commit to the link hash")
			}
			f.advance(time.Minute)
			got, err := f.svc.FinishLogin(ctx, b.CeremonyID, c.ID, a.Get(t, b.Options, nil), payA)
			if err != nil {
				t.Fatal(err)
			}
			if want := (Assertion{CredentialID: a.CredentialID(), AMR: AMRHardwareKey, SignCount: 1}); got != want {
				t.Fatalf("assertion = %+v, want %+v", got, want)
			}
			list, err := f.svc.Credentials(ctx, c.ID)
			if err != nil || len(list) != 1 || !list[0].LastUsedAt.Equal(f.clock()) {
				t.Fatalf("Credentials = %+v, %v; want last used now", list, err)
			}
			// The next assertion, counter 2, passes too.
			if got, err := login(t, c, a, payA, payA, nil); err != nil || got.SignCount != 2 {
				t.Fatalf("second assertion = %+v, %v", got, err)
			}
		})

		t.Run("ok/synced-passkey-without-counter", func(t *testing.T) {
			c := newCustomer()
			a := passkeystest.New(t, testOrigin)
			a.Synced, a.Step = true, 0
			f.register(t, c, a, "Google Password Manager")
			for i := 0; i < 2; i++ {
				got, err := login(t, c, a, payA, payA, nil)
				if err != nil {
					t.Fatal(err)
				}
				if want := (Assertion{CredentialID: a.CredentialID(), AMR: AMRSoftwareKey}); got != want {
					t.Fatalf("assertion = %+v, want %+v", got, want)
				}
			}
		})

		t.Run("ok/no-link", func(t *testing.T) {
			c := newCustomer()
			a := passkeystest.New(t, testOrigin)
			f.register(t, c, a, "Key")
			if _, err := login(t, c, a, nil, nil, nil); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("ok/second-passkey", func(t *testing.T) {
			c := newCustomer()
			a1, a2 := passkeystest.New(t, testOrigin), passkeystest.New(t, testOrigin)
			f.register(t, c, a1, "Laptop")
			f.register(t, c, a2, "Phone")
			got, err := login(t, c, a2, payA, payA, nil)
			if err != nil || got.CredentialID != a2.CredentialID() {
				t.Fatalf("assertion = %+v, %v", got, err)
			}
		})

		forged := []struct {
			name    string
			current []byte
			edit    func(*passkeystest.Gesture)
			want    error
		}{
			{"fail/wrong-origin", payA, func(g *passkeystest.Gesture) { g.Origin = "https://evil.example" }, ErrOriginMismatch},
			{"fail/wrong-rp-id", payA, func(g *passkeystest.Gesture) { g.RPID = "evil.example" }, ErrRPIDMismatch},
			{"fail/user-not-verified", payA, func(g *passkeystest.Gesture) { g.Flags &^= passkeystest.FlagUV }, ErrUserNotVerified},
			{"fail/user-not-present", payA, func(g *passkeystest.Gesture) { g.Flags &^= passkeystest.FlagUP }, ErrUserNotPresent},
			{"fail/wrong-ceremony-type", payA, func(g *passkeystest.Gesture) { g.Type = "webauthn.create" }, ErrChallengeMismatch},
			{"fail/bad-signature", payA, func(g *passkeystest.Gesture) { g.BadSig = true }, ErrResponseInvalid},
			{"fail/backup-eligibility-changed", payA, func(g *passkeystest.Gesture) { g.Flags |= passkeystest.FlagBE }, ErrResponseInvalid},
			{"fail/link-changed-amount", linkHash("cns_a|1001|GBP|Acme"), nil, ErrLinkChanged},
			{"fail/link-changed-payee", linkHash("cns_a|1000|GBP|Evil"), nil, ErrLinkChanged},
			{"fail/link-removed", nil, nil, ErrLinkChanged},
			{"fail/counter-not-increasing", payA, func(g *passkeystest.Gesture) { g.Count = 5 }, ErrClonedAuthenticator},
			{"fail/counter-decreasing", payA, func(g *passkeystest.Gesture) { g.Count = 4 }, ErrClonedAuthenticator},
			{"fail/counter-zero-after-non-zero", payA, func(g *passkeystest.Gesture) { g.Count = 0 }, ErrClonedAuthenticator},
		}
		for _, tc := range forged {
			t.Run(tc.name, func(t *testing.T) {
				c := newCustomer()
				a := passkeystest.New(t, testOrigin)
				f.register(t, c, a, "Key")
				a.Count = 4
				if _, err := login(t, c, a, payA, payA, nil); err != nil { // stored counter: 5
					t.Fatal(err)
				}
				b, err := f.svc.BeginLogin(ctx, c.ID, payA)
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.svc.FinishLogin(ctx, b.CeremonyID, c.ID, a.Get(t, b.Options, tc.edit), tc.current)
				mustRefuse(t, err, tc.want)
				stored, err := NewGormStore(d).Credential(ctx, c.ID, a.CredentialID())
				if err != nil || stored.SignCount != 5 {
					t.Fatalf("stored counter = %d (%v), want 5 unchanged", stored.SignCount, err)
				}
				// The refused attempt used the ceremony.
				_, err = f.svc.FinishLogin(ctx, b.CeremonyID, c.ID, a.Get(t, b.Options, nil), payA)
				mustRefuse(t, err, ErrCeremonyNotFound)
			})
		}

		t.Run("fail/replayed-ceremony", func(t *testing.T) {
			c := newCustomer()
			a := passkeystest.New(t, testOrigin)
			f.register(t, c, a, "Key")
			b, err := f.svc.BeginLogin(ctx, c.ID, payA)
			if err != nil {
				t.Fatal(err)
			}
			resp := a.Get(t, b.Options, nil)
			if _, err := f.svc.FinishLogin(ctx, b.CeremonyID, c.ID, resp, payA); err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishLogin(ctx, b.CeremonyID, c.ID, resp, payA)
			mustRefuse(t, err, ErrCeremonyNotFound)
			_, err = f.svc.FinishLogin(ctx, b.CeremonyID, c.ID, a.Get(t, b.Options, nil), payA)
			mustRefuse(t, err, ErrCeremonyNotFound)
		})

		t.Run("fail/expired-ceremony", func(t *testing.T) {
			c := newCustomer()
			a := passkeystest.New(t, testOrigin)
			f.register(t, c, a, "Key")
			b, err := f.svc.BeginLogin(ctx, c.ID, payA)
			if err != nil {
				t.Fatal(err)
			}
			f.advance(CeremonyTTL)
			_, err = f.svc.FinishLogin(ctx, b.CeremonyID, c.ID, a.Get(t, b.Options, nil), payA)
			mustRefuse(t, err, ErrCeremonyExpired)
		})

		t.Run("fail/response-to-another-ceremony", func(t *testing.T) {
			c := newCustomer()
			a := passkeystest.New(t, testOrigin)
			f.register(t, c, a, "Key")
			b1, err := f.svc.BeginLogin(ctx, c.ID, payA)
			if err != nil {
				t.Fatal(err)
			}
			b2, err := f.svc.BeginLogin(ctx, c.ID, payA)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishLogin(ctx, b2.CeremonyID, c.ID, a.Get(t, b1.Options, nil), payA)
			mustRefuse(t, err, ErrChallengeMismatch)
		})

		t.Run("fail/another-customers-credential", func(t *testing.T) {
			c, other := newCustomer(), newCustomer()
			mine, theirs := passkeystest.New(t, testOrigin), passkeystest.New(t, testOrigin)
			f.register(t, c, mine, "Mine")
			f.register(t, other, theirs, "Theirs")
			_, err := login(t, c, theirs, payA, payA, nil)
			mustRefuse(t, err, ErrCredentialNotFound)
		})

		t.Run("fail/another-customers-ceremony", func(t *testing.T) {
			c, other := newCustomer(), newCustomer()
			a := passkeystest.New(t, testOrigin)
			f.register(t, c, a, "Key")
			f.register(t, other, passkeystest.New(t, testOrigin), "Key")
			b, err := f.svc.BeginLogin(ctx, c.ID, payA)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishLogin(ctx, b.CeremonyID, other.ID, a.Get(t, b.Options, nil), payA)
			mustRefuse(t, err, ErrCeremonyNotFound)
			if _, err := f.svc.FinishLogin(ctx, b.CeremonyID, c.ID, a.Get(t, b.Options, nil), payA); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("fail/registration-ceremony", func(t *testing.T) {
			c := newCustomer()
			a := passkeystest.New(t, testOrigin)
			f.register(t, c, a, "Key")
			b, err := f.svc.BeginRegistration(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishLogin(ctx, b.CeremonyID, c.ID, []byte(`{}`), nil)
			mustRefuse(t, err, ErrCeremonyNotFound)
		})

		t.Run("fail/malformed-response", func(t *testing.T) {
			c := newCustomer()
			f.register(t, c, passkeystest.New(t, testOrigin), "Key")
			b, err := f.svc.BeginLogin(ctx, c.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishLogin(ctx, b.CeremonyID, c.ID, []byte(`not json`), nil)
			mustRefuse(t, err, ErrMalformedResponse)
		})

		t.Run("fail/no-passkey", func(t *testing.T) {
			_, err := f.svc.BeginLogin(ctx, newCustomer().ID, payA)
			mustRefuse(t, err, ErrNoPasskey)
		})

		t.Run("fail/link-hash-too-long", func(t *testing.T) {
			c := newCustomer()
			f.register(t, c, passkeystest.New(t, testOrigin), "Key")
			_, err := f.svc.BeginLogin(ctx, c.ID, make([]byte, 65))
			mustRefuse(t, err, ErrInvalidLinkHash)
			_, err = f.svc.FinishLogin(ctx, "x", c.ID, []byte(`{}`), make([]byte, 65))
			mustRefuse(t, err, ErrInvalidLinkHash)
		})

		// Assertions of one credential with the same counter, finished at
		// once (as on several nodes): the conditional UPDATE lets one through.
		t.Run("ok/concurrent-same-counter-accepted-once", func(t *testing.T) {
			c := newCustomer()
			a := passkeystest.New(t, testOrigin)
			f.register(t, c, a, "Key")
			const n = 4
			begun := make([]Begun, n)
			resps := make([][]byte, n)
			for i := range begun {
				var err error
				if begun[i], err = f.svc.BeginLogin(ctx, c.ID, payA); err != nil {
					t.Fatal(err)
				}
				resps[i] = a.Get(t, begun[i].Options, func(g *passkeystest.Gesture) { g.Count = 7 })
			}
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range begun {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = f.svc.FinishLogin(ctx, begun[i].CeremonyID, c.ID, resps[i], payA)
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
					continue
				}
				mustRefuse(t, err, ErrClonedAuthenticator)
			}
			if ok != 1 {
				t.Fatalf("%d assertions accepted, want 1 (errors %v)", ok, errs)
			}
		})
	})
}

// otherNodeFirst is a Store where another node records an assertion with the
// same counter between this node's checks and its RecordUse.
type otherNodeFirst struct{ Store }

func (s otherNodeFirst) RecordUse(ctx context.Context, customerID, id string, signCount uint32, backupState bool, at time.Time) error {
	if err := s.Store.RecordUse(ctx, customerID, id, signCount, backupState, at); err != nil {
		return err
	}
	return s.Store.RecordUse(ctx, customerID, id, signCount, backupState, at)
}

// TestLoginCounterRace: when another node accepted an assertion with the same
// counter after this node read the stored one, the conditional UPDATE refuses.
func TestLoginCounterRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		c := newCustomer()
		a := passkeystest.New(t, testOrigin)
		f.register(t, c, a, "Key")
		racing, err := New(Config{Issuer: testIssuer, Store: otherNodeFirst{NewGormStore(d)}, Now: f.clock})
		if err != nil {
			t.Fatal(err)
		}
		b, err := racing.BeginLogin(ctx, c.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = racing.FinishLogin(ctx, b.CeremonyID, c.ID, a.Get(t, b.Options, nil), nil)
		mustRefuse(t, err, ErrClonedAuthenticator)
	})
}

func TestRemove(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		c, other := newCustomer(), newCustomer()
		a1, a2 := passkeystest.New(t, testOrigin), passkeystest.New(t, testOrigin)
		f.register(t, c, a1, "Laptop")
		f.register(t, c, a2, "Phone")
		theirs := passkeystest.New(t, testOrigin)
		f.register(t, other, theirs, "Theirs")

		t.Run("fail/another-customers-passkey", func(t *testing.T) {
			mustRefuse(t, f.svc.Remove(ctx, c.ID, theirs.CredentialID()), ErrCredentialNotFound)
			if list, err := f.svc.Credentials(ctx, other.ID); err != nil || len(list) != 1 {
				t.Fatalf("other's passkeys = %+v, %v; want theirs kept", list, err)
			}
		})
		t.Run("fail/unknown", func(t *testing.T) {
			mustRefuse(t, f.svc.Remove(ctx, c.ID, "AAAA"), ErrCredentialNotFound)
		})
		t.Run("ok/own", func(t *testing.T) {
			if err := f.svc.Remove(ctx, c.ID, a1.CredentialID()); err != nil {
				t.Fatal(err)
			}
			list, err := f.svc.Credentials(ctx, c.ID)
			if err != nil || len(list) != 1 || list[0].ID != a2.CredentialID() {
				t.Fatalf("Credentials = %+v, %v; want the phone only", list, err)
			}
			mustAudit(t, d, c.ID, "customer.passkey_removed", a1.CredentialID())
			// The removed passkey no longer asserts.
			b, err := f.svc.BeginLogin(ctx, c.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishLogin(ctx, b.CeremonyID, c.ID, a1.Get(t, b.Options, nil), nil)
			mustRefuse(t, err, ErrCredentialNotFound)
			mustRefuse(t, f.svc.Remove(ctx, c.ID, a1.CredentialID()), ErrCredentialNotFound)
		})
	})
}

func TestPurge(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		c := newCustomer()
		old, err := f.svc.BeginRegistration(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		f.advance(time.Minute)
		live, err := f.svc.BeginRegistration(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		f.advance(CeremonyTTL - time.Minute)
		if n, err := f.svc.Purge(ctx); err != nil || n != 1 {
			t.Fatalf("Purge = %d, %v; want 1", n, err)
		}
		_, err = f.svc.FinishRegistration(ctx, old.CeremonyID, c.ID, passkeystest.New(t, testOrigin).Create(t, old.Options, nil), "Key")
		mustRefuse(t, err, ErrCeremonyNotFound)
		if _, err := f.svc.FinishRegistration(ctx, live.CeremonyID, c.ID, passkeystest.New(t, testOrigin).Create(t, live.Options, nil), "Key"); err != nil {
			t.Fatal(err)
		}
	})
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func random(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func credEqual(a, b Credential) bool {
	return a.ID == b.ID && a.Name == b.Name && a.AAGUID == b.AAGUID &&
		strings.Join(a.Transports, ",") == strings.Join(b.Transports, ",") &&
		a.BackupEligible == b.BackupEligible && a.BackupState == b.BackupState &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastUsedAt.Equal(b.LastUsedAt)
}

func mustHaveNoPasskey(tb testing.TB, f *fixture, customerID string) {
	tb.Helper()
	if list, err := f.svc.Credentials(ctx, customerID); err != nil || len(list) != 0 {
		tb.Fatalf("Credentials = %+v, %v; want none", list, err)
	}
}

func mustAudit(tb testing.TB, d *db.DB, customerID, action, credentialID string) {
	tb.Helper()
	evs, err := audit.List(ctx, d.DB, audit.Filter{ActorType: audit.ActorCustomer, ActorID: customerID, Action: action})
	if err != nil {
		tb.Fatal(err)
	}
	if len(evs) != 1 || evs[0].ObjectType != "passkey" || evs[0].ObjectID != credentialID {
		tb.Fatalf("audit %s = %+v, want one for passkey %s", action, evs, credentialID)
	}
}
