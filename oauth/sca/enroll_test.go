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
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// given is a fixed 160-bit secret (RFC 6238's test key "12345678901234567890").
const given = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func TestEnrollTOTP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{})
		for name, tc := range map[string]struct {
			customer, secret string
			want             string // the canonical secret; "" for a random one
		}{
			"ok/random":                         {"cus_r", "", ""},
			"ok/given":                          {"cus_g", given, given},
			"ok/given-lower-case-spaced-padded": {"cus_l", "gezd gnbv gy3t qojq gezd gnbv gy3t qojq====", given},
			"ok/128-bit":                        {"cus_s", "GEZDGNBVGY3TQOJQGEZDGNBVGY", "GEZDGNBVGY3TQOJQGEZDGNBVGY"},
		} {
			t.Run(name, func(t *testing.T) {
				e, err := f.svc.EnrollTOTP(ctx, tc.customer, "jo", tc.secret)
				wantErr(t, err)
				if tc.want != "" && e.Secret != tc.want || tc.want == "" && len(e.Secret) != 32 {
					t.Fatalf("secret %q, want %q (32 base32 characters when random)", e.Secret, tc.want)
				}
				key, err := otp.NewKeyFromURL(e.URI)
				if err != nil || key.Secret() != e.Secret || key.Issuer() != "Bankbridge" || key.AccountName() != "jo" ||
					key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
					t.Fatalf("URI %q: %v", e.URI, err)
				}
				if uri, err := sca.TOTPURI("jo", e.Secret); err != nil || uri != e.URI {
					t.Fatalf("TOTPURI = %q, %v; want %q", uri, err, e.URI)
				}
				var sealed string
				if err := d.Raw(`SELECT secret_sealed FROM customer_totp WHERE customer_id = ?`, tc.customer).Scan(&sealed).Error; err != nil {
					t.Fatal(err)
				}
				if strings.Contains(sealed, e.Secret) {
					t.Fatalf("secret stored in clear: %q", sealed)
				}
				// Active at once, and no step is used yet: the current code verifies once.
				has, err := f.svc.HasSecondFactor(ctx, tc.customer)
				if err != nil || !has {
					t.Fatalf("HasSecondFactor = %v, %v", has, err)
				}
				c := code(t, e.Secret, f.clock.now())
				wantErr(t, f.svc.VerifyTOTP(ctx, tc.customer, c, "192.0.2.1"))
				wantErr(t, f.svc.VerifyTOTP(ctx, tc.customer, c, "192.0.2.1"), sca.ErrCodeUsed)
			})
		}

		t.Run("ok/replaces-pending", func(t *testing.T) {
			pending, err := f.svc.BeginTOTP(ctx, "cus_p", "jo")
			wantErr(t, err)
			e, err := f.svc.EnrollTOTP(ctx, "cus_p", "jo", given)
			wantErr(t, err)
			wantErr(t, f.svc.ConfirmTOTP(ctx, "cus_p", code(t, pending.Secret, f.clock.now())), sca.ErrNoTOTP)
			wantErr(t, f.svc.VerifyTOTP(ctx, "cus_p", code(t, e.Secret, f.clock.now()), "192.0.2.1"))
		})
		t.Run("fail/already-active", func(t *testing.T) {
			old := f.mustTOTP(t, "cus_a")
			_, err := f.svc.EnrollTOTP(ctx, "cus_a", "jo", given)
			wantErr(t, err, sca.ErrTOTPEnrolled)
			_, err = f.svc.EnrollTOTP(ctx, "cus_g", "jo", "")
			wantErr(t, err, sca.ErrTOTPEnrolled)
			// The active app is kept: its next code verifies, the refused secret's does not.
			f.clock.advance(30 * time.Second)
			wantErr(t, f.svc.VerifyTOTP(ctx, "cus_a", wrongCodeFor(t, given, old, f.clock.now()), "192.0.2.1"), sca.ErrInvalidCode)
			wantErr(t, f.svc.VerifyTOTP(ctx, "cus_a", code(t, old, f.clock.now()), "192.0.2.1"))
		})
		t.Run("ok/two-nodes-racing-one-wins", func(t *testing.T) {
			nodes := []*sca.Service{f.svc, f.node(t, sca.Config{})}
			errs := make([]error, len(nodes))
			var wg sync.WaitGroup
			for i, n := range nodes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = n.EnrollTOTP(ctx, "cus_race", "jo", "")
				}()
			}
			wg.Wait()
			if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), sca.ErrTOTPEnrolled) {
				t.Fatalf("errs = %v, want one nil and one ErrTOTPEnrolled", errs)
			}
		})
		for name, tc := range map[string]struct{ customer, username, secret, want string }{
			"fail/no-customer": {" ", "jo", "", "sca: invalid argument: customer id is empty"},
			"fail/no-username": {"cus_x", " ", "", "sca: invalid argument: username is empty"},
			"fail/not-base32":  {"cus_x", "jo", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1", "sca: invalid argument: TOTP secret is not base32"},
			"fail/too-short":   {"cus_x", "jo", "GEZDGNBVGY3TQOJQGEZDGNBV", "sca: invalid argument: TOTP secret has 120 bits, at least 128 are needed"},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := f.svc.EnrollTOTP(ctx, tc.customer, tc.username, tc.secret)
				if !errors.Is(err, sca.ErrInvalid) || err.Error() != tc.want {
					t.Fatalf("err = %v, want %s", err, tc.want)
				}
				var n int64
				if err := d.Raw(`SELECT COUNT(*) FROM customer_totp WHERE customer_id = 'cus_x'`).Scan(&n).Error; err != nil || n != 0 {
					t.Fatalf("refused enrolment stored %d rows (%v)", n, err)
				}
			})
		}
	})
}

func TestTOTPURI(t *testing.T) {
	for name, tc := range map[string]struct{ username, secret, want string }{
		"ok/given":         {"hana.totp", given, "otpauth://totp/Bankbridge:hana.totp?algorithm=SHA1&digits=6&issuer=Bankbridge&period=30&secret=" + given},
		"fail/no-username": {"", given, "sca: invalid argument: username is empty"},
		"fail/empty":       {"jo", "", "sca: invalid argument: TOTP secret has 0 bits, at least 128 are needed"},
		"fail/not-base32":  {"jo", "not base32!", "sca: invalid argument: TOTP secret is not base32"},
	} {
		t.Run(name, func(t *testing.T) {
			uri, err := sca.TOTPURI(tc.username, tc.secret)
			if strings.HasPrefix(name, "ok/") {
				if err != nil || uri != tc.want {
					t.Fatalf("TOTPURI = %q, %v; want %q", uri, err, tc.want)
				}
				return
			}
			if !errors.Is(err, sca.ErrInvalid) || err.Error() != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
}
