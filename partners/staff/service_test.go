package staff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
)

func TestMain(m *testing.M) {
	secrets.PasswordCost = 4 // bcrypt's minimum: tests hash many passwords
	os.Exit(m.Run())
}

var ctx = context.Background()

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	s     *Service
	clock *testClock
}

func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	box, err := secrets.NewBox(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{clock: &testClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}}
	if e.s, err = New(Config{DB: d, Box: box, Now: e.clock.now}); err != nil {
		t.Fatal(err)
	}
	return e
}

// sealedOf reads staff member id's sealed TOTP secret.
func sealedOf(t *testing.T, d *db.DB, id string) string {
	t.Helper()
	var row staffRow
	mustOK(t, d.DB.Where("id = ?", id).Take(&row).Error)
	return row.TOTPSecretSealed
}

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

// wantProblem asserts err is a *problem.Error with code and detail.
func wantProblem(t testing.TB, err error, code problem.Code, detail string) {
	t.Helper()
	var p *problem.Error
	if !errors.As(err, &p) {
		t.Fatalf("err = %v, want problem %s %q", err, code, detail)
	}
	if p.Code != code || p.Detail != detail {
		t.Fatalf("problem = %s %q, want %s %q", p.Code, p.Detail, code, detail)
	}
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestStaffLoginParallel: 50 wrong passwords at once for one staff member
// check at most MaxFailedLogins passwords, and the right password (with a
// valid code) is refused while locked.
func TestStaffLoginParallel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		n, err := e.s.Bootstrap(ctx, "risk@bank.example", RoleRiskOfficer)
		mustOK(t, err)
		c := context.Background()
		code, err := totp.GenerateCode(n.TOTPSecret, e.clock.now())
		mustOK(t, err)
		before := secrets.PasswordChecks()
		errs := parallel(50, func(int) error {
			_, err := e.s.Login(c, "risk@bank.example", "not the password", code)
			return err
		})
		if got := secrets.PasswordChecks() - before; got > MaxFailedLogins {
			t.Fatalf("fail/parallel: %d passwords checked for 50 parallel attempts, want at most %d (answers %v)", got, MaxFailedLogins, codes(errs))
		}
		if got := codes(errs); got["ok"] != 0 || got[string(problem.CodeUnauthorized)] > MaxFailedLogins-1 {
			t.Fatalf("fail/parallel: answers %v", got)
		}
		before = secrets.PasswordChecks()
		_, err = e.s.Login(c, "risk@bank.example", n.OneTimePassword, code)
		if problem.CodeOf(err) != problem.CodeLockedOut {
			t.Fatalf("fail/right-password-while-locked: err %v, want %s", err, problem.CodeLockedOut)
		}
		if got := secrets.PasswordChecks() - before; got != 0 {
			t.Fatalf("fail/right-password-while-locked: %d passwords checked while locked", got)
		}
	})
}

func TestStaffLogin(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		n, err := e.s.Bootstrap(ctx, "Risk@Bank.example", RoleRiskOfficer)
		mustOK(t, err)
		if !strings.HasPrefix(n.TOTPProvisionURI, "otpauth://totp/Bankbridge:risk@bank.example?") ||
			!strings.Contains(n.TOTPProvisionURI, "issuer=Bankbridge") || len(n.OneTimePassword) < MinPasswordLength {
			t.Fatalf("new staff %+v", n)
		}
		var row staffRow
		mustOK(t, d.DB.Where("id = ?", n.Staff.ID).Take(&row).Error)
		if strings.Contains(row.TOTPSecretSealed, n.TOTPSecret) {
			t.Fatal("TOTP secret stored in clear")
		}
		_, err = e.s.Bootstrap(ctx, "risk@bank.example", RoleAdmin)
		wantProblem(t, err, problem.CodeConflict, "a staff account with email risk@bank.example already exists")
		_, err = e.s.Bootstrap(ctx, "x@bank.example", Role("owner"))
		wantProblem(t, err, problem.CodeValidation, `staff role must be admin, partner_manager, risk_officer, finance or auditor, got "owner"`)
		_, err = e.s.Bootstrap(ctx, "jobs@bank.example", RoleSystem)
		wantProblem(t, err, problem.CodeValidation, `staff role must be admin, partner_manager, risk_officer, finance or auditor, got "system"`)

		code := func() string {
			c, err := totp.GenerateCode(n.TOTPSecret, e.clock.now())
			mustOK(t, err)
			return c
		}
		const bad = "unknown email, wrong password or wrong code"
		st, err := e.s.Login(ctx, "risk@bank.example", n.OneTimePassword, code())
		mustOK(t, err)
		if !st.MustChangePassword {
			t.Fatal("first login must ask for a new password")
		}
		// The same code again, in the same window: replay.
		_, err = e.s.Login(ctx, "risk@bank.example", n.OneTimePassword, code())
		wantProblem(t, err, problem.CodeUnauthorized, bad)
		e.clock.advance(30 * time.Second)
		wrong := fmt.Sprintf("%06d", (func() int { var x int; fmt.Sscanf(code(), "%d", &x); return (x + 1) % 1000000 })())
		for _, tc := range []struct{ name, email, pw, code string }{
			{"fail/wrong-totp", "risk@bank.example", n.OneTimePassword, wrong},
			{"fail/wrong-password", "risk@bank.example", "not the password", code()},
			{"fail/unknown", "nobody@bank.example", n.OneTimePassword, code()},
			{"fail/empty-code", "risk@bank.example", n.OneTimePassword, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.s.Login(ctx, tc.email, tc.pw, tc.code)
				wantProblem(t, err, problem.CodeUnauthorized, bad)
			})
		}
		// Failures so far: replay, wrong-totp, wrong-password, empty-code = 4; the 5th locks.
		_, err = e.s.Login(ctx, "risk@bank.example", "not the password", code())
		wantProblem(t, err, problem.CodeLockedOut, "too many failed sign-in attempts; please try again after 10:15 UTC")
		_, err = e.s.Login(ctx, "risk@bank.example", n.OneTimePassword, code())
		wantProblem(t, err, problem.CodeLockedOut, "too many failed sign-in attempts; please try again after 10:15 UTC")
		e.clock.advance(LockoutDuration)
		_, err = e.s.Login(ctx, "risk@bank.example", n.OneTimePassword, code())
		mustOK(t, err)

		wantProblem(t, e.s.ChangePassword(ctx, st.ID, "wrong", "a brand new password"), problem.CodeUnauthorized, "the current password is wrong")
		wantProblem(t, e.s.ChangePassword(ctx, st.ID, n.OneTimePassword, "short"), problem.CodeValidation, "password must be at least 12 characters")
		mustOK(t, e.s.ChangePassword(ctx, st.ID, n.OneTimePassword, "a brand new password"))
		e.clock.advance(30 * time.Second)
		st, err = e.s.Login(ctx, "risk@bank.example", "a brand new password", code())
		mustOK(t, err)
		if st.MustChangePassword {
			t.Fatal("must_change_password not cleared")
		}
	})
}

// TestStaffTOTPSecretBoundToStaff: a sealed TOTP secret copied onto another
// staff row does not open there; secrets sealed under the old fixed purpose
// are re-sealed by ResealTOTP and work again.
func TestStaffTOTPSecretBoundToStaff(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		a, err := e.s.Bootstrap(ctx, "a@bank.example", RoleAdmin)
		mustOK(t, err)
		b, err := e.s.Bootstrap(ctx, "b@bank.example", RoleRiskOfficer)
		mustOK(t, err)
		code := func(secret string) string {
			c, err := totp.GenerateCode(secret, e.clock.now())
			mustOK(t, err)
			return c
		}
		// The attacker copies a's sealed secret onto b's row and uses a's code
		// with b's password: refused.
		mustOK(t, d.DB.Model(&staffRow{}).Where("id = ?", b.Staff.ID).Update("totp_secret_sealed", sealedOf(t, d, a.Staff.ID)).Error)
		_, err = e.s.Login(ctx, "b@bank.example", b.OneTimePassword, code(a.TOTPSecret))
		wantProblem(t, err, problem.CodeUnauthorized, badStaffDetail)
		var reason string
		mustOK(t, d.DB.Raw(`SELECT details FROM audit_events WHERE action = 'staff.login_failed' AND object_id = ?`, b.Staff.ID).Scan(&reason).Error)
		if !strings.Contains(reason, "totp_secret_unreadable") {
			t.Fatalf("audit details %q", reason)
		}
		_, err = e.s.Login(ctx, "a@bank.example", a.OneTimePassword, code(a.TOTPSecret))
		mustOK(t, err)

		// Legacy: b's own secret sealed under the old fixed purpose.
		legacy := e.s.box.Seal([]byte(b.TOTPSecret), purposeTOTP)
		mustOK(t, d.DB.Model(&staffRow{}).Where("id = ?", b.Staff.ID).Update("totp_secret_sealed", legacy).Error)
		e.clock.advance(30 * time.Second)
		_, err = e.s.Login(ctx, "b@bank.example", b.OneTimePassword, code(b.TOTPSecret))
		wantProblem(t, err, problem.CodeUnauthorized, badStaffDetail)
		n, err := e.s.ResealTOTP(ctx)
		if err != nil || n != 1 {
			t.Fatalf("ResealTOTP = %d, %v; want 1", n, err)
		}
		if n, err := e.s.ResealTOTP(ctx); err != nil || n != 0 {
			t.Fatalf("ResealTOTP again = %d, %v; want 0", n, err)
		}
		st, err := e.s.Login(ctx, "b@bank.example", b.OneTimePassword, code(b.TOTPSecret))
		mustOK(t, err)
		if _, err := e.s.box.Open(sealedOf(t, d, st.ID), purposeTOTP); err == nil {
			t.Fatal("re-sealed secret still opens under the fixed purpose")
		}
	})
}
