package partners

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// parallel runs n copies of fn at once and collects their errors.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// codes counts the problem codes (or "ok") among errs.
func codes(errs []error) map[string]int {
	out := map[string]int{}
	for _, err := range errs {
		if err == nil {
			out["ok"]++
			continue
		}
		out[string(problem.CodeOf(err))]++
	}
	return out
}

// TestPortalLoginParallel: 50 wrong passwords at once for one portal user
// check at most MaxFailedLogins passwords (bcrypt comparisons counted in
// internal/secrets), and the right password is refused while locked.
func TestPortalLoginParallel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signUp("ada@acme.example", "Acme")
		c := context.Background()
		before := secrets.PasswordChecks()
		errs := parallel(50, func(int) error { _, err := e.s.Login(c, "ada@acme.example", "wrong password!"); return err })
		if n := secrets.PasswordChecks() - before; n > MaxFailedLogins {
			t.Fatalf("fail/parallel: %d passwords checked for 50 parallel attempts, want at most %d (answers %v)", n, MaxFailedLogins, codes(errs))
		}
		if got := codes(errs); got["ok"] != 0 || got[string(problem.CodeUnauthorized)] > MaxFailedLogins-1 {
			t.Fatalf("fail/parallel: answers %v", got)
		}
		before = secrets.PasswordChecks()
		_, err := e.s.Login(c, "ada@acme.example", testPassword)
		if problem.CodeOf(err) != problem.CodeLockedOut {
			t.Fatalf("fail/right-password-while-locked: err %v, want %s", err, problem.CodeLockedOut)
		}
		if n := secrets.PasswordChecks() - before; n != 0 {
			t.Fatalf("fail/right-password-while-locked: %d passwords checked while locked", n)
		}
	})
}

// at is ctx carrying client address addr.
func at(addr string) context.Context { return throttle.WithAddress(context.Background(), addr) }

// TestLoginAddressPolicy: a lockout from one address does not refuse the
// account at another; one address spraying one password across accounts is
// refused once its budget is spent; unknown and known emails get identical
// answers all the way into the lockout.
func TestLoginAddressPolicy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signUp("ada@acme.example", "Acme")
		n, err := e.s.Staff().Bootstrap(ctx, "risk@bank.example", staff.RoleRiskOfficer)
		mustOK(t, err)
		const locked = "too many failed sign-in attempts; please try again after 10:15 UTC"

		// Unknown and known: the same answers, attempt by attempt.
		for i := 1; i <= MaxFailedLogins+1; i++ {
			_, known := e.s.Login(at("192.0.2.1"), "ada@acme.example", "wrong password!")
			_, unknown := e.s.Login(at("192.0.2.2"), "nobody@acme.example", "wrong password!")
			wantSame(t, "portal", i, known, unknown)
			_, known = e.s.Staff().Login(at("192.0.2.1"), "risk@bank.example", "wrong password!", "000000")
			_, unknown = e.s.Staff().Login(at("192.0.2.2"), "nobody@bank.example", "wrong password!", "000000")
			wantSame(t, "staff", i, known, unknown)
			if i >= MaxFailedLogins {
				wantProblem(t, known, problem.CodeLockedOut, locked)
			}
		}

		// 192.0.2.1 is locked out of ada; ada signs in from 192.0.2.3.
		_, err = e.s.Login(at("192.0.2.1"), "ada@acme.example", testPassword)
		wantProblem(t, err, problem.CodeLockedOut, locked)
		_, err = e.s.Login(at("192.0.2.3"), "ada@acme.example", testPassword)
		mustOK(t, err)
		code, err := totp.GenerateCode(n.TOTPSecret, e.clock.now())
		mustOK(t, err)
		_, err = e.s.Staff().Login(at("192.0.2.1"), "risk@bank.example", n.OneTimePassword, code)
		wantProblem(t, err, problem.CodeLockedOut, locked)
		_, err = e.s.Staff().Login(at("192.0.2.3"), "risk@bank.example", n.OneTimePassword, code)
		mustOK(t, err)

		// Spraying from 198.51.100.7: throttle.DefaultPolicy.Address.Limit
		// failures across as many accounts, then every account is refused
		// from there, unchecked; elsewhere ada still signs in.
		e.clock.advance(time.Hour)
		budget := throttle.DefaultPolicy.Address.Limit
		for i := range budget {
			_, err := e.s.Login(at("198.51.100.7"), fmt.Sprintf("user%d@acme.example", i), "Summer2026!Summer")
			if i < budget-1 {
				wantProblem(t, err, problem.CodeUnauthorized, "unknown email or wrong password")
			}
		}
		before := secrets.PasswordChecks()
		_, err = e.s.Login(at("198.51.100.7"), "ada@acme.example", testPassword)
		wantProblem(t, err, problem.CodeLockedOut, "too many failed sign-in attempts; please try again after 11:15 UTC")
		if got := secrets.PasswordChecks() - before; got != 0 {
			t.Fatalf("fail/spray-refused: %d passwords checked", got)
		}
		_, err = e.s.Login(at("198.51.100.8"), "ada@acme.example", testPassword)
		mustOK(t, err)
	})
}

func wantSame(t *testing.T, surface string, i int, known, unknown error) {
	t.Helper()
	var k, u *problem.Error
	if !errors.As(known, &k) || !errors.As(unknown, &u) {
		t.Fatalf("fail/%s-attempt-%d: %v / %v", surface, i, known, unknown)
	}
	if k.Code != u.Code || k.Detail != u.Detail || fmt.Sprint(k.Extra) != fmt.Sprint(u.Extra) {
		t.Fatalf("fail/%s-attempt-%d: known email %s %q %v, unknown %s %q %v", surface, i, k.Code, k.Detail, k.Extra, u.Code, u.Detail, u.Extra)
	}
}
