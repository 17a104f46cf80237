package secondfactors_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/passkeys"
	"github.com/bankbridge/bankbridge/oauth/passkeys/passkeystest"
	"github.com/bankbridge/bankbridge/oauth/sca"
	"github.com/bankbridge/bankbridge/oauth/secondfactors"
)

// TestSecondFactorsAdapter: oauth's SecondFactors over the real
// *sca.Service answers oauth's refusals for sca's.
func TestSecondFactorsAdapter(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := throttle.WithAddress(context.Background(), "203.0.113.7")
		var mu sync.Mutex
		clock := time.Date(2026, 12, 4, 10, 0, 15, 0, time.UTC)
		now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
		next := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
		box, err := secrets.NewBox(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		svc, err := sca.New(sca.Config{Store: sca.NewGormStore(d), Box: box, Throttle: throttle.NewStore(d.DB, now), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		f := secondfactors.New(svc, nil)
		const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
		code := func() string {
			c, err := totp.GenerateCodeCustom(secret, now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		wrong := "000000"
		if code() == wrong {
			wrong = "111111"
		}
		if _, err := svc.EnrollTOTP(ctx, "cus_app", "app", secret); err != nil {
			t.Fatal(err)
		}
		rec, err := svc.GenerateRecoveryCodes(ctx, "cus_app")
		if err != nil {
			t.Fatal(err)
		}
		link := sca.LinkHash("pcn_1", money.GBP(1250), sca.Payee{Name: "Corner Shop"})
		changed := sca.LinkHash("pcn_1", money.GBP(1251), sca.Payee{Name: "Corner Shop"})

		for _, tc := range []struct {
			name     string
			customer string
			want     oauth.EnrolledFactors
		}{
			{"ok/with app", "cus_app", oauth.EnrolledFactors{AuthenticatorApp: true, RecoveryCodes: true}},
			{"ok/without app", "cus_none", oauth.EnrolledFactors{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got, err := f.Enrolled(ctx, tc.customer); err != nil || got != tc.want {
					t.Fatalf("Enrolled = %+v, %v; want %+v", got, err, tc.want)
				}
			})
		}

		used := code()
		steps := []struct {
			name string
			run  func() error
			want error // nil: success
		}{
			{"fail/no confirmation", func() error { _, err := f.CheckConfirmation(ctx, "int_1", "cus_app", link); return err }, oauth.ErrNotConfirmed},
			{"fail/no app", func() error { return f.ConfirmTOTP(ctx, "int_1", "cus_none", used, link) }, oauth.ErrNoSecondFactor},
			{"fail/wrong code", func() error { return f.ConfirmTOTP(ctx, "int_1", "cus_app", wrong, link) }, oauth.ErrSecondFactorWrong},
			{"ok/TOTP", func() error { return f.ConfirmTOTP(ctx, "int_1", "cus_app", used, link) }, nil},
			{"ok/check gives otp", func() error {
				amr, err := f.CheckConfirmation(ctx, "int_1", "cus_app", link)
				if err == nil && amr != oauth.AMROTP {
					return errors.New("amr " + amr)
				}
				return err
			}, nil},
			{"fail/checked twice", func() error { _, err := f.CheckConfirmation(ctx, "int_1", "cus_app", link); return err }, oauth.ErrNotConfirmed},
			{"fail/used code", func() error { return f.ConfirmTOTP(ctx, "int_2", "cus_app", used, link) }, oauth.ErrSecondFactorUsed},
			{"ok/recovery code", func() error { return f.ConfirmRecoveryCode(ctx, "int_2", "cus_app", rec[0], link) }, nil},
			{"fail/payment changed", func() error { _, err := f.CheckConfirmation(ctx, "int_2", "cus_app", changed); return err }, oauth.ErrConfirmationChanged},
			{"fail/used recovery code", func() error { return f.ConfirmRecoveryCode(ctx, "int_3", "cus_app", rec[0], link) }, oauth.ErrSecondFactorUsed},
			{"fail/wrong recovery code", func() error { return f.ConfirmRecoveryCode(ctx, "int_3", "cus_app", "zzzz-zzzz-zzzz", link) }, oauth.ErrSecondFactorWrong},
			{"fail/wrong code 3", func() error { return f.ConfirmTOTP(ctx, "int_3", "cus_app", wrong, link) }, oauth.ErrSecondFactorWrong},
			{"fail/wrong code 4", func() error { return f.ConfirmTOTP(ctx, "int_3", "cus_app", wrong, link) }, oauth.ErrSecondFactorWrong},
			{"fail/wrong code 5 locks", func() error { return f.ConfirmTOTP(ctx, "int_3", "cus_app", wrong, link) }, oauth.ErrSecondFactorLocked},
			{"fail/locked", func() error { next(30 * time.Second); return f.ConfirmTOTP(ctx, "int_3", "cus_app", code(), link) }, oauth.ErrSecondFactorLocked},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				err := st.run()
				switch {
				case st.want == nil && err != nil:
					t.Fatalf("err %v", err)
				case st.want != nil && !errors.Is(err, st.want):
					t.Fatalf("err %v, want %v", err, st.want)
				case strings.HasPrefix(st.name, "ok/") != (err == nil):
					t.Fatalf("err %v", err)
				}
			})
		}
	})
}

// TestSecondFactorsPasskeys: oauth's passkey confirmations over the real
// oauth/passkeys and oauth/sca services, with a software authenticator:
// the confirmation carries the passkey's amr, a refused assertion is
// ErrPasskeyRefused (ErrConfirmationChanged too for another link) and
// counts with wrong codes.
func TestSecondFactorsPasskeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := throttle.WithAddress(context.Background(), "203.0.113.9")
		box, err := secrets.NewBox(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		svc, err := sca.New(sca.Config{Store: sca.NewGormStore(d), Box: box, Throttle: throttle.NewStore(d.DB, time.Now)})
		if err != nil {
			t.Fatal(err)
		}
		const issuer = "http://localhost:8443"
		pk, err := passkeys.New(passkeys.Config{Issuer: issuer, Store: passkeys.NewGormStore(d)})
		if err != nil {
			t.Fatal(err)
		}
		f := secondfactors.New(svc, pk)
		off := secondfactors.New(svc, nil)
		register := func(t *testing.T, customer string, synced bool) *passkeystest.Authenticator {
			t.Helper()
			a := passkeystest.New(t, issuer)
			a.Synced = synced
			begun, err := pk.BeginRegistration(ctx, passkeys.Customer{ID: customer, Username: customer})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pk.FinishRegistration(ctx, begun.CeremonyID, customer, a.Create(t, begun.Options, nil), "Laptop"); err != nil {
				t.Fatal(err)
			}
			return a
		}
		device := register(t, "cus_key", false)
		synced := register(t, "cus_sync", true)
		link := sca.LinkHash("pcn_1", money.GBP(4500), sca.Payee{Name: "Corner Shop"})
		other := sca.LinkHash("pcn_2", money.GBP(4500), sca.Payee{Name: "Corner Shop"})
		// assert begins a ceremony for begin, answers it with a (edited by
		// edit) and posts the answer for interaction against confirm.
		assert := func(t *testing.T, a *passkeystest.Authenticator, customer, interaction, begin, confirm string, edit func(*passkeystest.Gesture)) error {
			t.Helper()
			req, err := f.BeginPasskey(ctx, interaction, customer, begin)
			if err != nil {
				t.Fatal(err)
			}
			return f.ConfirmPasskey(ctx, interaction, customer, req.CeremonyID, a.Get(t, req.Options, edit), confirm)
		}
		amrOf := func(interaction, customer string) (string, error) {
			return f.CheckConfirmation(ctx, interaction, customer, link)
		}

		for _, tc := range []struct {
			name     string
			f        secondfactors.Factors
			customer string
			want     oauth.EnrolledFactors
		}{
			{"ok/passkey", f, "cus_key", oauth.EnrolledFactors{Passkey: true}},
			{"ok/passkeys off", off, "cus_key", oauth.EnrolledFactors{}},
			{"ok/none", f, "cus_none", oauth.EnrolledFactors{}},
		} {
			t.Run("enrolled/"+tc.name, func(t *testing.T) {
				if got, err := tc.f.Enrolled(ctx, tc.customer); err != nil || got != tc.want {
					t.Fatalf("Enrolled = %+v, %v; want %+v", got, err, tc.want)
				}
			})
		}

		steps := []struct {
			name string
			run  func(t *testing.T) error
			want []error // nil: success
		}{
			{"fail/begin without a passkey", func(t *testing.T) error { _, err := f.BeginPasskey(ctx, "int_1", "cus_none", link); return err },
				[]error{oauth.ErrNoSecondFactor}},
			{"fail/begin with passkeys off", func(t *testing.T) error { _, err := off.BeginPasskey(ctx, "int_1", "cus_key", link); return err },
				[]error{oauth.ErrNoSecondFactor}},
			{"fail/confirm with passkeys off", func(t *testing.T) error { return off.ConfirmPasskey(ctx, "int_1", "cus_key", "x", []byte("{}"), link) },
				[]error{oauth.ErrNoSecondFactor}},
			{"ok/device-bound passkey", func(t *testing.T) error { return assert(t, device, "cus_key", "int_1", link, link, nil) }, nil},
			{"ok/check gives hwk", func(t *testing.T) error {
				if amr, err := amrOf("int_1", "cus_key"); err != nil || amr != oauth.AMRHardwareKey {
					return fmt.Errorf("amr %q, %w", amr, err)
				}
				return nil
			}, nil},
			{"ok/synced passkey", func(t *testing.T) error { return assert(t, synced, "cus_sync", "int_2", link, link, nil) }, nil},
			{"ok/check gives swk", func(t *testing.T) error {
				if amr, err := amrOf("int_2", "cus_sync"); err != nil || amr != oauth.AMRSoftwareKey {
					return fmt.Errorf("amr %q, %w", amr, err)
				}
				return nil
			}, nil},
			{"fail/challenge of another payment", func(t *testing.T) error { return assert(t, device, "cus_key", "int_3", other, link, nil) },
				[]error{oauth.ErrPasskeyRefused, oauth.ErrConfirmationChanged, passkeys.ErrLinkChanged}},
			{"fail/nothing recorded for it", func(t *testing.T) error { _, err := amrOf("int_3", "cus_key"); return err },
				[]error{oauth.ErrNotConfirmed}},
			{"fail/wrong signature", func(t *testing.T) error {
				return assert(t, device, "cus_key", "int_3", link, link, func(g *passkeystest.Gesture) { g.BadSig = true })
			}, []error{oauth.ErrPasskeyRefused, passkeys.ErrResponseInvalid}},
			{"fail/counter went back", func(t *testing.T) error {
				return assert(t, device, "cus_key", "int_3", link, link, func(g *passkeystest.Gesture) { g.Count = 1 })
			}, []error{oauth.ErrPasskeyRefused, passkeys.ErrClonedAuthenticator}},
			{"fail/another customer's ceremony", func(t *testing.T) error {
				req, err := f.BeginPasskey(ctx, "int_3", "cus_sync", link)
				if err != nil {
					t.Fatal(err)
				}
				return f.ConfirmPasskey(ctx, "int_3", "cus_key", req.CeremonyID, device.Get(t, req.Options, nil), link)
			}, []error{oauth.ErrPasskeyRefused, passkeys.ErrCeremonyNotFound}},
			{"fail/fifth refusal locks", func(t *testing.T) error {
				return assert(t, device, "cus_key", "int_3", link, link, func(g *passkeystest.Gesture) { g.Origin = "http://localhost:9999" })
			}, []error{oauth.ErrSecondFactorLocked, passkeys.ErrOriginMismatch}},
			{"fail/locked: a good assertion is not checked", func(t *testing.T) error { return assert(t, device, "cus_key", "int_3", link, link, nil) },
				[]error{oauth.ErrSecondFactorLocked}},
			{"fail/ceremony of another interaction", func(t *testing.T) error {
				req, err := f.BeginPasskey(ctx, "int_8", "cus_sync", link)
				if err != nil {
					t.Fatal(err)
				}
				return f.ConfirmPasskey(ctx, "int_9", "cus_sync", req.CeremonyID, synced.Get(t, req.Options, nil), link)
			}, []error{oauth.ErrPasskeyRefused, passkeys.ErrLinkChanged}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				err := st.run(t)
				if st.want == nil && err != nil {
					t.Fatalf("err %v", err)
				}
				if st.want != nil && err == nil {
					t.Fatalf("err nil, want %v", st.want)
				}
				for _, w := range st.want {
					if !errors.Is(err, w) {
						t.Fatalf("err %v, want %v", err, w)
					}
				}
			})
		}
	})
}
