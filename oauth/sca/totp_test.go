package sca_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

func TestBeginTOTP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{})
		e, err := f.svc.BeginTOTP(ctx, "cus_1", "alice")
		wantErr(t, err)
		key, err := otp.NewKeyFromURL(e.URI)
		if err != nil {
			t.Fatalf("parse URI %q: %v", e.URI, err)
		}
		if key.Type() != "totp" || key.Issuer() != "Bankbridge" || key.AccountName() != "alice" || key.Secret() != e.Secret ||
			key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
			t.Fatalf("key = %s: type %s issuer %s account %s period %d digits %v algorithm %v", e.URI, key.Type(), key.Issuer(),
				key.AccountName(), key.Period(), key.Digits(), key.Algorithm())
		}
		if len(e.Secret) != 32 { // 160 bits in base32
			t.Fatalf("secret %q: want 32 base32 characters", e.Secret)
		}
		var sealed string
		if err := d.Raw(`SELECT secret_sealed FROM customer_totp WHERE customer_id = 'cus_1'`).Scan(&sealed).Error; err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sealed, e.Secret) {
			t.Fatalf("secret stored in clear: %q", sealed)
		}
		if pt, err := f.box.Open(sealed, "customer-totp:cus_1"); err != nil || string(pt) != e.Secret {
			t.Fatalf("sealed secret opens to %q, %v", pt, err)
		}
		if _, err := f.box.Open(sealed, "customer-totp:cus_2"); !errors.Is(err, secrets.ErrDecrypt) {
			t.Fatalf("sealed secret opens under another customer's purpose: %v", err)
		}
		has, err := f.svc.HasSecondFactor(ctx, "cus_1")
		if err != nil || has {
			t.Fatalf("pending factor: HasSecondFactor = %v, %v; want false", has, err)
		}

		// A second BeginTOTP replaces the pending secret: the old one no longer confirms.
		e2, err := f.svc.BeginTOTP(ctx, "cus_1", "alice")
		wantErr(t, err)
		wantErr(t, f.svc.ConfirmTOTP(ctx, "cus_1", wrongCodeFor(t, e.Secret, e2.Secret, f.clock.now())), sca.ErrInvalidCode)
		wantErr(t, f.svc.ConfirmTOTP(ctx, "cus_1", code(t, e2.Secret, f.clock.now())))
		wantErr(t, f.svc.ConfirmTOTP(ctx, "cus_1", code(t, e2.Secret, f.clock.now())), sca.ErrNoTOTP)
		_, err = f.svc.BeginTOTP(ctx, "cus_1", "alice")
		wantErr(t, err, sca.ErrTOTPEnrolled)
		has, err = f.svc.HasSecondFactor(ctx, "cus_1")
		if err != nil || !has {
			t.Fatalf("active factor: HasSecondFactor = %v, %v; want true", has, err)
		}

		for name, tc := range map[string]struct {
			customer, username string
			want               error
		}{
			"fail/no customer": {"", "alice", sca.ErrInvalid},
			"fail/no username": {"cus_2", " ", sca.ErrInvalid},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := f.svc.BeginTOTP(ctx, tc.customer, tc.username)
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
			})
		}
	})
}

// wrongCodeFor is a code of old that is not a code of current around at.
func wrongCodeFor(t *testing.T, old, current string, at time.Time) string {
	t.Helper()
	c := code(t, old, at)
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		if code(t, current, at.Add(d)) == c {
			t.Skip("the two secrets share a code (1 in 10^6)")
		}
	}
	return c
}

func TestVerifyTOTP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{Policy: throttle.Policy{Account: throttle.Rule{Limit: 100, Window: time.Hour}}})
		secret := f.mustTOTP(t, "cus_1") // confirmed with the code of step(start)
		now := f.clock.now()
		if _, err := f.svc.BeginTOTP(ctx, "cus_pending", "pending"); err != nil {
			t.Fatal(err)
		}
		// Sequential steps: each case sees what the previous ones left.
		for _, tc := range []struct {
			name, customer, code string
			want                 error
		}{
			{"fail/confirming code reused", "cus_1", code(t, secret, now), sca.ErrCodeUsed},
			{"fail/wrong code", "cus_1", wrongCode(t, secret, now), sca.ErrInvalidCode},
			{"fail/not six digits", "cus_1", "12345", sca.ErrInvalidCode},
			{"fail/two steps ahead", "cus_1", code(t, secret, now.Add(60*time.Second)), sca.ErrInvalidCode},
			{"ok/next step (clock skew)", "cus_1", code(t, secret, now.Add(30*time.Second)), nil},
			{"fail/same code again", "cus_1", code(t, secret, now.Add(30*time.Second)), sca.ErrCodeUsed},
			{"fail/earlier step after a later one", "cus_1", code(t, secret, now), sca.ErrCodeUsed},
			{"fail/previous step after a later one", "cus_1", code(t, secret, now.Add(-30*time.Second)), sca.ErrCodeUsed},
			{"fail/no factor", "cus_none", "123456", sca.ErrNoTOTP},
			{"fail/pending factor", "cus_pending", "123456", sca.ErrNoTOTP},
			{"fail/no customer", "", "123456", sca.ErrInvalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := f.svc.VerifyTOTP(ctx, tc.customer, tc.code, "192.0.2.1")
				if tc.want == sca.ErrInvalid {
					if !errors.Is(err, sca.ErrInvalid) {
						t.Fatalf("err = %v, want ErrInvalid", err)
					}
					return
				}
				if tc.want == nil {
					wantErr(t, err)
					return
				}
				wantErr(t, err, tc.want)
			})
		}
		// Two steps later, a code with spaces is accepted; the step is recorded.
		f.clock.advance(60 * time.Second)
		c := code(t, secret, f.clock.now())
		wantErr(t, f.svc.VerifyTOTP(ctx, "cus_1", c[:3]+" "+c[3:], "192.0.2.1"))
		var last int64
		if err := d.Raw(`SELECT last_step FROM customer_totp WHERE customer_id = 'cus_1'`).Scan(&last).Error; err != nil {
			t.Fatal(err)
		}
		if want := f.clock.now().Unix() / 30; last != want {
			t.Fatalf("last_step = %d, want %d", last, want)
		}

		// RemoveTOTP: the factor is gone; removing again is refused.
		wantErr(t, f.svc.RemoveTOTP(ctx, "cus_1"))
		wantErr(t, f.svc.VerifyTOTP(ctx, "cus_1", code(t, secret, f.clock.now().Add(30*time.Second)), "192.0.2.1"), sca.ErrNoTOTP)
		wantErr(t, f.svc.RemoveTOTP(ctx, "cus_1"), sca.ErrNoTOTP)
		if err := f.svc.RemoveTOTP(ctx, ""); !errors.Is(err, sca.ErrInvalid) {
			t.Fatalf("RemoveTOTP(\"\") = %v, want ErrInvalid", err)
		}
	})
}

// TestVerifyTOTPLockout: 5 wrong codes lock the customer's second factor
// for 15 minutes, from every address; an address is limited across
// customers.
func TestVerifyTOTPLockout(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{})
		secret := f.mustTOTP(t, "cus_1")
		f.clock.advance(30 * time.Second)
		now := f.clock.now()
		bad := wrongCode(t, secret, now)
		for i := 1; i <= 4; i++ {
			wantErr(t, f.svc.VerifyTOTP(ctx, "cus_1", bad, "192.0.2.1"), sca.ErrInvalidCode)
		}
		err := f.svc.VerifyTOTP(ctx, "cus_1", bad, "192.0.2.2") // the 5th wrong code, from another address
		wantErr(t, err, sca.ErrInvalidCode, throttle.ErrLocked)
		var le *throttle.LockedError
		if !errors.As(err, &le) || !le.Until.Equal(start.Add(30*time.Second).Add(15*time.Minute).Truncate(time.Microsecond)) {
			t.Fatalf("5th wrong code: %v, want locked for 15 minutes from the first", err)
		}
		// Locked: the right code is not even checked, from any address.
		good := code(t, secret, now)
		for _, addr := range []string{"192.0.2.1", "198.51.100.7"} {
			err := f.svc.VerifyTOTP(ctx, "cus_1", good, addr)
			if !errors.As(err, &le) || errors.Is(err, sca.ErrInvalidCode) {
				t.Fatalf("locked, right code from %s: %v, want only a *throttle.LockedError", addr, err)
			}
			_, err = f.svc.UseRecoveryCode(ctx, "cus_1", "0000-0000-0000", addr)
			if !errors.As(err, &le) {
				t.Fatalf("locked, recovery code from %s: %v, want a *throttle.LockedError", addr, err)
			}
		}
		// After the window, the right code is accepted.
		f.clock.advance(15 * time.Minute)
		wantErr(t, f.svc.VerifyTOTP(ctx, "cus_1", code(t, secret, f.clock.now()), "192.0.2.1"))

		// One address: 20 wrong codes across customers, then that address is refused for anyone.
		for i, cus := range []string{"cus_a", "cus_b", "cus_c", "cus_d"} {
			s := f.mustTOTP(t, cus)
			for j := 0; j < 5; j++ {
				err := f.svc.VerifyTOTP(ctx, cus, wrongCode(t, s, f.clock.now()), "203.0.113.9")
				if j < 4 {
					wantErr(t, err, sca.ErrInvalidCode)
				} else if !errors.Is(err, sca.ErrInvalidCode) || !errors.Is(err, throttle.ErrLocked) {
					t.Fatalf("customer %d, 5th wrong code: %v", i, err)
				}
			}
		}
		s := f.mustTOTP(t, "cus_e")
		f.clock.advance(30 * time.Second)
		err = f.svc.VerifyTOTP(ctx, "cus_e", code(t, s, f.clock.now()), "203.0.113.9")
		if !errors.As(err, &le) {
			t.Fatalf("address budget spent: %v, want a *throttle.LockedError", err)
		}
		wantErr(t, f.svc.VerifyTOTP(ctx, "cus_e", code(t, s, f.clock.now()), "203.0.113.10"))
	})
}

// TestVerifyTOTPRace: one code, many goroutines (as many nodes): exactly
// one is accepted, on both engines.
func TestVerifyTOTPRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{Policy: throttle.Policy{Account: throttle.Rule{Limit: 1000, Window: time.Hour}}})
		secret := f.mustTOTP(t, "cus_1")
		// A second service on the same database stands for a second node.
		nodes := []*sca.Service{f.svc, f.node(t, sca.Config{Policy: throttle.Policy{Account: throttle.Rule{Limit: 1000, Window: time.Hour}}})}
		for round := 1; round <= 3; round++ {
			f.clock.advance(30 * time.Second)
			c := code(t, secret, f.clock.now())
			const n = 12
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					errs[i] = nodes[i%2].VerifyTOTP(ctx, "cus_1", c, "192.0.2.1")
				}(i)
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case err != sca.ErrCodeUsed:
					t.Fatalf("round %d: err = %v, want nil or ErrCodeUsed", round, err)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d goroutines accepted the code, want 1", round, ok)
			}
		}
	})
}
