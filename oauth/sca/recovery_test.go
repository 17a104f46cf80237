package sca_test

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

var recoveryFormat = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$`)

func TestRecoveryCodes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{Policy: throttle.Policy{Account: throttle.Rule{Limit: 100, Window: time.Hour}}})
		codes, err := f.svc.GenerateRecoveryCodes(ctx, "cus_1")
		wantErr(t, err)
		if len(codes) != sca.RecoveryCodeCount || sca.RecoveryCodeCount != 10 {
			t.Fatalf("%d codes, want 10", len(codes))
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if !recoveryFormat.MatchString(c) || seen[c] {
				t.Fatalf("code %q: malformed or repeated in %v", c, codes)
			}
			seen[c] = true
		}
		var stored []string
		if err := d.Raw(`SELECT code_hash FROM customer_recovery_codes WHERE customer_id = 'cus_1'`).Scan(&stored).Error; err != nil {
			t.Fatal(err)
		}
		if len(stored) != 10 {
			t.Fatalf("%d stored codes, want 10", len(stored))
		}
		for _, h := range stored {
			for _, c := range codes {
				if strings.Contains(h, strings.ReplaceAll(c, "-", "")) || len(h) != 64 {
					t.Fatalf("stored %q is not a SHA-256 hex of a code", h)
				}
			}
		}
		other, err := f.svc.GenerateRecoveryCodes(ctx, "cus_2")
		wantErr(t, err)

		// Sequential steps: each case sees what the previous ones left.
		for _, tc := range []struct {
			name, customer, code string
			remaining            int
			want                 error
		}{
			{"ok/first code", "cus_1", codes[0], 9, nil},
			{"fail/same code again", "cus_1", codes[0], 0, sca.ErrRecoveryCodeUsed},
			{"ok/upper case, no hyphens", "cus_1", strings.ToUpper(strings.ReplaceAll(codes[1], "-", "")), 8, nil},
			{"fail/another customer's code", "cus_1", other[0], 0, sca.ErrInvalidRecoveryCode},
			{"fail/unknown code", "cus_1", "0000-0000-0000", 0, sca.ErrInvalidRecoveryCode},
			{"fail/malformed code", "cus_1", "0000-0000-000u", 0, sca.ErrInvalidRecoveryCode},
			{"fail/too long", "cus_1", codes[2] + "0", 0, sca.ErrInvalidRecoveryCode},
			{"fail/too short", "cus_1", codes[2][:13], 0, sca.ErrInvalidRecoveryCode},
			{"fail/customer without codes", "cus_3", codes[2], 0, sca.ErrInvalidRecoveryCode},
			{"ok/spaces", "cus_1", strings.ReplaceAll(codes[2], "-", " "), 7, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n, err := f.svc.UseRecoveryCode(ctx, tc.customer, tc.code, "192.0.2.1")
				if tc.want == nil {
					wantErr(t, err)
				} else {
					wantErr(t, err, tc.want)
				}
				if n != tc.remaining {
					t.Fatalf("remaining = %d, want %d", n, tc.remaining)
				}
			})
		}
		if _, err := f.svc.UseRecoveryCode(ctx, "", codes[3], "192.0.2.1"); !errors.Is(err, sca.ErrInvalid) {
			t.Fatalf("no customer: %v, want ErrInvalid", err)
		}

		// Regenerating replaces the set: an unused old code is refused.
		fresh, err := f.svc.GenerateRecoveryCodes(ctx, "cus_1")
		wantErr(t, err)
		_, err = f.svc.UseRecoveryCode(ctx, "cus_1", codes[3], "192.0.2.1")
		wantErr(t, err, sca.ErrInvalidRecoveryCode)
		n, err := f.svc.UseRecoveryCode(ctx, "cus_1", fresh[9], "192.0.2.1")
		if err != nil || n != 9 {
			t.Fatalf("fresh code: %d, %v; want 9, nil", n, err)
		}
	})
}

func TestRecoveryCodeLockout(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{})
		codes, err := f.svc.GenerateRecoveryCodes(ctx, "cus_1")
		wantErr(t, err)
		for i := 1; i <= 4; i++ {
			_, err := f.svc.UseRecoveryCode(ctx, "cus_1", "0000-0000-0000", "192.0.2.1")
			wantErr(t, err, sca.ErrInvalidRecoveryCode)
		}
		_, err = f.svc.UseRecoveryCode(ctx, "cus_1", "0000-0000-0000", "192.0.2.1")
		wantErr(t, err, sca.ErrInvalidRecoveryCode, throttle.ErrLocked)
		_, err = f.svc.UseRecoveryCode(ctx, "cus_1", codes[0], "192.0.2.3")
		var le *throttle.LockedError
		if !errors.As(err, &le) || errors.Is(err, sca.ErrInvalidRecoveryCode) {
			t.Fatalf("locked: %v, want only a *throttle.LockedError", err)
		}
	})
}

func TestRecoveryCodeRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{Policy: throttle.Policy{Account: throttle.Rule{Limit: 1000, Window: time.Hour}}})
		nodes := []*sca.Service{f.svc, f.node(t, sca.Config{Policy: throttle.Policy{Account: throttle.Rule{Limit: 1000, Window: time.Hour}}})}
		codes, err := f.svc.GenerateRecoveryCodes(ctx, "cus_1")
		wantErr(t, err)
		const n = 12
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = nodes[i%2].UseRecoveryCode(ctx, "cus_1", codes[4], "192.0.2.1")
			}(i)
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case err != sca.ErrRecoveryCodeUsed:
				t.Fatalf("err = %v, want nil or ErrRecoveryCodeUsed", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d goroutines used the code, want 1", ok)
		}
	})
}

func TestFactors(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{})
		got, err := f.svc.Factors(ctx, "cus_1")
		if err != nil || len(got) != 0 {
			t.Fatalf("no factors: %v, %v", got, err)
		}
		wantEnrolment(t, f.svc, "cus_1", sca.Enrolment{})
		if _, err := f.svc.BeginTOTP(ctx, "cus_1", "alice"); err != nil {
			t.Fatal(err)
		}
		got, err = f.svc.Factors(ctx, "cus_1")
		if err != nil || len(got) != 0 {
			t.Fatalf("pending TOTP is no factor: %v, %v", got, err)
		}
		wantEnrolment(t, f.svc, "cus_1", sca.Enrolment{})
		wantErr(t, f.svc.RemoveTOTP(ctx, "cus_1"))
		secret := f.mustTOTP(t, "cus_1")
		enrolled := f.clock.now()
		f.clock.advance(time.Minute)
		codes, err := f.svc.GenerateRecoveryCodes(ctx, "cus_1")
		wantErr(t, err)
		generated := f.clock.now()
		f.clock.advance(time.Minute)
		wantErr(t, f.svc.VerifyTOTP(ctx, "cus_1", code(t, secret, f.clock.now()), "192.0.2.1"))
		totpUsed := f.clock.now()
		f.clock.advance(time.Minute)
		if _, err := f.svc.UseRecoveryCode(ctx, "cus_1", codes[0], "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		codeUsed := f.clock.now()
		wantEnrolment(t, f.svc, "cus_1", sca.Enrolment{TOTPActive: true, RecoveryRemaining: 9})
		wantEnrolment(t, f.svc, "cus_2", sca.Enrolment{})

		got, err = f.svc.Factors(ctx, "cus_1")
		wantErr(t, err)
		want := []sca.Factor{
			{Kind: sca.KindTOTP, Name: "Authenticator app", CreatedAt: enrolled, LastUsedAt: &totpUsed},
			{Kind: sca.KindRecoveryCodes, Name: "Recovery codes", CreatedAt: generated, LastUsedAt: &codeUsed, Remaining: 9},
		}
		if len(got) != len(want) {
			t.Fatalf("factors = %+v, want %+v", got, want)
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.Kind != w.Kind || g.Name != w.Name || !g.CreatedAt.Equal(w.CreatedAt) || g.LastUsedAt == nil ||
				!g.LastUsedAt.Equal(*w.LastUsedAt) || g.Remaining != w.Remaining {
				t.Fatalf("factor %d = %+v, want %+v", i, g, w)
			}
		}
		has, err := f.svc.HasSecondFactor(ctx, "cus_1")
		if err != nil || !has {
			t.Fatalf("HasSecondFactor = %v, %v; want true", has, err)
		}
		wantErr(t, f.svc.RemoveTOTP(ctx, "cus_1"))
		has, err = f.svc.HasSecondFactor(ctx, "cus_1")
		if err != nil || has {
			t.Fatalf("recovery codes only: HasSecondFactor = %v, %v; want false", has, err)
		}
		got, err = f.svc.Factors(ctx, "cus_1")
		if err != nil || len(got) != 1 || got[0].Kind != sca.KindRecoveryCodes {
			t.Fatalf("after RemoveTOTP: %+v, %v", got, err)
		}
		wantEnrolment(t, f.svc, "cus_1", sca.Enrolment{RecoveryRemaining: 9})
		if _, err := f.svc.Enrolment(ctx, ""); !errors.Is(err, sca.ErrInvalid) {
			t.Fatalf("Enrolment(\"\") = %v, want ErrInvalid", err)
		}
		if _, err := f.svc.Factors(ctx, ""); !errors.Is(err, sca.ErrInvalid) {
			t.Fatalf("Factors(\"\") = %v, want ErrInvalid", err)
		}
		if _, err := f.svc.HasSecondFactor(ctx, ""); !errors.Is(err, sca.ErrInvalid) {
			t.Fatalf("HasSecondFactor(\"\") = %v, want ErrInvalid", err)
		}
	})
}

// wantEnrolment checks Service.Enrolment (one read) against want.
func wantEnrolment(t *testing.T, svc *sca.Service, customerID string, want sca.Enrolment) {
	t.Helper()
	got, err := svc.Enrolment(ctx, customerID)
	if err != nil || got != want {
		t.Fatalf("Enrolment(%s) = %+v, %v; want %+v", customerID, got, err, want)
	}
}

// TestRegenerateRace: concurrent regenerations leave exactly one set, one
// of those returned.
func TestRegenerateRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{Policy: throttle.Policy{Account: throttle.Rule{Limit: 1000, Window: time.Hour}}})
		nodes := []*sca.Service{f.svc, f.node(t, sca.Config{Policy: throttle.Policy{Account: throttle.Rule{Limit: 1000, Window: time.Hour}}})}
		const n = 6
		sets := make([][]string, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				var err error
				if sets[i], err = nodes[i%2].GenerateRecoveryCodes(ctx, "cus_1"); err != nil {
					t.Errorf("GenerateRecoveryCodes: %v", err)
				}
			}(i)
		}
		wg.Wait()
		var stored int
		if err := d.Raw(`SELECT COUNT(*) FROM customer_recovery_codes WHERE customer_id = 'cus_1'`).Scan(&stored).Error; err != nil {
			t.Fatal(err)
		}
		if stored != sca.RecoveryCodeCount {
			t.Fatalf("%d codes stored, want %d", stored, sca.RecoveryCodeCount)
		}
		whole := 0
		for _, set := range sets {
			valid := 0
			for _, c := range set {
				if _, err := f.svc.UseRecoveryCode(ctx, "cus_1", c, "192.0.2.1"); err == nil {
					valid++
				} else if err != sca.ErrInvalidRecoveryCode {
					t.Fatalf("err = %v", err)
				}
			}
			switch valid {
			case sca.RecoveryCodeCount:
				whole++
			case 0:
			default:
				t.Fatalf("a set with %d valid codes", valid)
			}
		}
		if whole != 1 {
			t.Fatalf("%d sets valid, want 1", whole)
		}
	})
}
