package core_test

import (
	"context"
	"encoding/base32"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// recordingFactors is a SandboxFactors that records its calls and answers err.
type recordingFactors struct {
	mu    sync.Mutex
	calls []string // "customer id|username|secret"
	err   error
}

func (f *recordingFactors) EnrollSandboxTOTP(_ context.Context, customerID, username, secret string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, customerID+"|"+username+"|"+secret)
	return f.err
}

func TestSandboxTOTPSecret(t *testing.T) {
	// The documented secret (README, docs/sandbox.md): a change here must change the docs.
	if got := core.SandboxTOTPSecret("hana.totp"); got != "BMDNPK4343MSOHIOY4YDFODPIZI6P4HK" {
		t.Fatalf("SandboxTOTPSecret(hana.totp) = %s, the documented secret is BMDNPK4343MSOHIOY4YDFODPIZI6P4HK", got)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(core.SandboxTOTPSecret("hana.totp"))
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret decodes to %d bytes, %v; want 160 bits", len(raw), err)
	}
	if core.SandboxTOTPSecret("other") == core.SandboxTOTPSecret("hana.totp") {
		t.Fatal("two personas share a secret")
	}
	var withTOTP, without []string
	for _, p := range core.Personas() {
		if p.TOTPSecret == "" {
			without = append(without, p.Username)
		} else if p.TOTPSecret == core.SandboxTOTPSecret(p.Username) {
			withTOTP = append(withTOTP, p.Username)
		} else {
			t.Fatalf("persona %s: TOTPSecret %q is not SandboxTOTPSecret", p.Username, p.TOTPSecret)
		}
	}
	if !reflect.DeepEqual(withTOTP, []string{"hana.totp"}) || len(without) != len(core.Personas())-1 {
		t.Fatalf("personas with an authenticator app %v, without %v", withTOTP, without)
	}
}

func TestSeedEnrollsSandboxFactors(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) { testSeedEnrollsSandboxFactors(t, e) })
	}
}

func testSeedEnrollsSandboxFactors(t *testing.T, e dbtest.Engine) {
	{
		f := &recordingFactors{}
		r := core.NewReference(e.Open(t), core.Options{Now: func() time.Time { return seedNow.Add(time.Hour) }, SandboxFactors: f})
		if _, err := r.Seed(ctx, core.SeedOptions{Now: seedNow}); err != nil {
			t.Fatal(err)
		}
		hana := mustCustomer(t, r, "hana.totp")
		want := []string{hana.ID + "|hana.totp|" + core.SandboxTOTPSecret("hana.totp")}
		t.Run("ok/seed", func(t *testing.T) {
			if !reflect.DeepEqual(f.calls, want) {
				t.Fatalf("calls %v, want %v", f.calls, want)
			}
		})
		t.Run("ok/re-seed-asks-again-with-the-same-secret", func(t *testing.T) {
			rep, err := r.Seed(ctx, core.SeedOptions{Now: seedNow})
			if err != nil || rep.Customers != 0 {
				t.Fatalf("re-seed %+v, %v", rep, err)
			}
			if !reflect.DeepEqual(f.calls, append(want, want...)) {
				t.Fatalf("calls %v", f.calls)
			}
		})
		t.Run("ok/reset", func(t *testing.T) {
			f.calls = nil
			if _, err := r.ResetSandbox(ctx); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.calls, want) {
				t.Fatalf("calls %v, want %v", f.calls, want)
			}
		})
		t.Run("fail/factors-refuse", func(t *testing.T) {
			refused := errors.New("refused")
			r := core.NewReference(e.Open(t), core.Options{SandboxFactors: &recordingFactors{err: refused}})
			_, err := r.Seed(ctx, core.SeedOptions{Now: seedNow})
			if !errors.Is(err, refused) || err.Error() != "core: seed: authenticator app of hana.totp: refused" {
				t.Fatalf("err = %v", err)
			}
			// The customers stay seeded; running Seed again completes the enrolment.
			if _, err := r.CustomerByUsername(ctx, environment.Sandbox, "hana.totp"); err != nil {
				t.Fatalf("hana after a refused enrolment: %v", err)
			}
		})
	}
}

func TestSeedWithoutSandboxFactors(t *testing.T) {
	// Without Options.SandboxFactors the personas are seeded with no second factor, and nothing fails.
	_, rep := MustSeeded(t, dbtest.MustSQLite(t))
	if rep.Customers != len(core.Personas()) {
		t.Fatalf("report %+v", rep)
	}
}
