package main

import (
	"context"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// TestSandboxTOTPPersona: the sandbox seed at start-up gives hana.totp the
// documented authenticator app (its codes verify) and ivan.nofactor no
// second factor; seeding again keeps hana's app; the portal's persona list
// shows hana's secret and otpauth URI (both engines).
func TestSandboxTOTPPersona(t *testing.T) {
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, dbURL(t))
			ctx := context.Background()
			svc := s.Main.Platform.Services
			customer := func(username string) string {
				c, err := svc.Core.CustomerByUsername(ctx, environment.Sandbox, username)
				if err != nil {
					t.Fatalf("persona %s: %v", username, err)
				}
				return c.ID
			}
			hana, ivan := customer("hana.totp"), customer("ivan.nofactor")
			secret := core.SandboxTOTPSecret("hana.totp")
			verify := func(t *testing.T, at time.Time) error {
				code, err := totp.GenerateCode(secret, at)
				if err != nil {
					t.Fatal(err)
				}
				return svc.SCA.VerifyTOTP(ctx, hana, code, "192.0.2.20")
			}
			t.Run("ok/hana-code-verifies-once", func(t *testing.T) {
				now := time.Now()
				if err := verify(t, now); err != nil {
					t.Fatalf("VerifyTOTP: %v", err)
				}
				if err := verify(t, now); err != sca.ErrCodeUsed {
					t.Fatalf("the same code again: %v, want %v", err, sca.ErrCodeUsed)
				}
			})
			t.Run("ok/ivan-has-no-second-factor", func(t *testing.T) {
				if has, err := svc.SCA.HasSecondFactor(ctx, ivan); err != nil || has {
					t.Fatalf("HasSecondFactor(ivan) = %v, %v", has, err)
				}
			})
			t.Run("ok/re-seed-keeps-the-secret", func(t *testing.T) {
				if err := s.Main.Platform.SeedSandbox(ctx); err != nil {
					t.Fatal(err)
				}
				if customer("hana.totp") != hana {
					t.Fatal("re-seed changed hana's id")
				}
				// The next step's code (accepted with one step of skew) verifies: the
				// app is the same secret, and its used step was kept.
				if err := verify(t, time.Now().Add(30*time.Second)); err != nil {
					t.Fatalf("VerifyTOTP after re-seed: %v", err)
				}
			})
			t.Run("ok/portal-shows-hana-secret", func(t *testing.T) {
				uri, err := sca.TOTPURI("hana.totp", secret)
				if err != nil {
					t.Fatal(err)
				}
				found := 0
				for _, v := range sandboxPersonaViews() {
					switch {
					case v.Username == "hana.totp" && v.TOTPSecret == secret && v.TOTPURI == uri:
						found++
					case v.TOTPSecret != "" || v.TOTPURI != "":
						t.Fatalf("persona %s shows a TOTP secret", v.Username)
					}
				}
				if found != 1 {
					t.Fatalf("hana.totp's secret and URI not listed: %+v", sandboxPersonaViews())
				}
			})
		})
	}
}
