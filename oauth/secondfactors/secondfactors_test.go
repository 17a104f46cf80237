package secondfactors_test

import (
	"context"
	"errors"
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
		f := secondfactors.New(svc)
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
			want     bool
		}{{"ok/with app", "cus_app", true}, {"ok/without app", "cus_none", false}} {
			t.Run(tc.name, func(t *testing.T) {
				if got, err := f.HasAuthenticatorApp(ctx, tc.customer); err != nil || got != tc.want {
					t.Fatalf("HasAuthenticatorApp = %v, %v; want %v", got, err, tc.want)
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
