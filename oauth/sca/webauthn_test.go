package sca_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// TestConfirmWithWebAuthn: a passkey confirmation records the amr its
// verifier reports; refusals (ErrInvalidAssertion) count with wrong codes
// and lock the customer's second factor; other errors of the verifier
// count nothing.
func TestConfirmWithWebAuthn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{})
		hashA := sca.LinkHash(consentA, amountA, payeeA)
		const addr = "192.0.2.7"
		errSignature := errors.New("signature did not verify")
		errStorage := errors.New("database gone")
		amr := func(a string) func(context.Context) (string, error) {
			return func(context.Context) (string, error) { return a, nil }
		}
		refuse := func(context.Context) (string, error) {
			return "", fmt.Errorf("%w: %w", sca.ErrInvalidAssertion, errSignature)
		}
		called := false
		broken := func(context.Context) (string, error) { called = true; return "", errStorage }
		check := func(t *testing.T, interaction, want string) {
			t.Helper()
			c, err := f.svc.CheckConfirmation(ctx, interaction, "cus_1", hashA)
			if err != nil || c.Method != sca.MethodWebAuthn || c.AMR != want {
				t.Fatalf("confirmation = %+v, %v; want method webauthn, amr %q", c, err, want)
			}
		}

		for _, tc := range []struct {
			name   string
			run    func(t *testing.T) error
			want   []error // nil: success
			exact  bool    // the error is want[0] itself
			verify func(t *testing.T)
		}{
			{name: "ok/device-bound key records hwk",
				run: func(t *testing.T) error {
					return f.svc.ConfirmWithWebAuthn(ctx, "int_1", "cus_1", hashA, addr, amr(sca.AMRHardwareKey))
				},
				verify: func(t *testing.T) { check(t, "int_1", sca.AMRHardwareKey) }},
			{name: "ok/synced key records swk",
				run: func(t *testing.T) error {
					return f.svc.ConfirmWithWebAuthn(ctx, "int_2", "cus_1", hashA, addr, amr(sca.AMRSoftwareKey))
				},
				verify: func(t *testing.T) { check(t, "int_2", sca.AMRSoftwareKey) }},
			{name: "fail/bad link hash, verifier not called",
				run: func(t *testing.T) error {
					return f.svc.ConfirmWithWebAuthn(ctx, "int_3", "cus_1", "nothex", addr, broken)
				},
				want: []error{sca.ErrInvalid}},
			{name: "fail/amr of no key",
				run: func(t *testing.T) error {
					return f.svc.ConfirmWithWebAuthn(ctx, "int_3", "cus_1", hashA, addr, amr("otp"))
				},
				want: []error{sca.ErrInvalid}},
			{name: "fail/storage error of the verifier is not counted",
				run: func(t *testing.T) error {
					return f.svc.ConfirmWithWebAuthn(ctx, "int_3", "cus_1", hashA, addr, broken)
				},
				want: []error{errStorage}, exact: true},
			{name: "fail/refusal 1", run: func(t *testing.T) error { return f.svc.ConfirmWithWebAuthn(ctx, "int_3", "cus_1", hashA, addr, refuse) },
				want: []error{sca.ErrInvalidAssertion, errSignature}},
			{name: "fail/refusal 2", run: func(t *testing.T) error { return f.svc.ConfirmWithWebAuthn(ctx, "int_3", "cus_1", hashA, addr, refuse) },
				want: []error{sca.ErrInvalidAssertion, errSignature}},
			{name: "fail/refusal 3", run: func(t *testing.T) error { return f.svc.ConfirmWithWebAuthn(ctx, "int_3", "cus_1", hashA, addr, refuse) },
				want: []error{sca.ErrInvalidAssertion, errSignature}},
			{name: "fail/refusal 4", run: func(t *testing.T) error { return f.svc.ConfirmWithWebAuthn(ctx, "int_3", "cus_1", hashA, addr, refuse) },
				want: []error{sca.ErrInvalidAssertion, errSignature}},
			{name: "fail/refusal 5 locks", run: func(t *testing.T) error { return f.svc.ConfirmWithWebAuthn(ctx, "int_3", "cus_1", hashA, addr, refuse) },
				want: []error{sca.ErrInvalidAssertion, throttle.ErrLocked}},
			{name: "fail/locked: the verifier is not called",
				run: func(t *testing.T) error {
					called = false
					return f.svc.ConfirmWithWebAuthn(ctx, "int_3", "cus_1", hashA, addr, broken)
				},
				want: []error{throttle.ErrLocked},
				verify: func(t *testing.T) {
					if called {
						t.Fatal("verifier called while locked")
					}
				}},
			{name: "fail/nothing recorded for the refused interaction",
				run:  func(t *testing.T) error { _, err := f.svc.CheckConfirmation(ctx, "int_3", "cus_1", hashA); return err },
				want: []error{sca.ErrNoConfirmation}, exact: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.run(t)
				if tc.want == nil && err != nil {
					t.Fatalf("err = %v", err)
				}
				if tc.want != nil && err == nil {
					t.Fatalf("err = nil, want %v", tc.want)
				}
				for _, w := range tc.want {
					if !errors.Is(err, w) {
						t.Fatalf("err = %v, want %v", err, tc.want)
					}
				}
				if tc.exact && err != tc.want[0] {
					t.Fatalf("err = %#v, want exactly %v", err, tc.want[0])
				}
				if tc.verify != nil {
					tc.verify(t)
				}
			})
		}
	})
}
