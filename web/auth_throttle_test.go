package web

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// browserFrom is a browser whose connections come from local address ip
// (every 127.0.0.0/8 address is this machine), so the server sees another
// client address (RemoteAddr).
func (e *pagesEnv) browserFrom(ip string) *browser {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &browser{t: e.t, base: e.srv.URL, c: &http.Client{Jar: jar, Transport: &http.Transport{DialContext: d.DialContext}}}
}

var errorLineRe = regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`)

// answer is what a sign-in page tells: its status and error line.
type answer struct {
	Status int
	Error  string
}

func answerOf(status int, body string) answer {
	a := answer{Status: status}
	if m := errorLineRe.FindStringSubmatch(body); m != nil {
		a.Error = m[1]
	}
	return a
}

// TestPortalSignInAnswersSameForUnknownEmail: the lockout of an unknown email
// looks exactly like the lockout of a known one, answer by answer.
func TestPortalSignInAnswersSameForUnknownEmail(t *testing.T) {
	e := newPagesEnv(t, nil)
	e.verifiedUser("known@wallet.example", "Known Ltd")
	known, unknown := e.browser(), e.browserFrom("127.0.0.2")
	for i := 1; i <= partners.MaxFailedLogins+1; i++ {
		a := answerOf(known.signIn("known@wallet.example", "not the password"))
		b := answerOf(unknown.signIn("unknown@wallet.example", "not the password"))
		if a != b {
			t.Fatalf("fail/attempt-%d: known email answers %+v, unknown %+v", i, a, b)
		}
		if i == partners.MaxFailedLogins+1 && a.Status != http.StatusTooManyRequests {
			t.Fatalf("fail/attempt-%d: %+v, want a lockout", i, a)
		}
	}
}

// TestConsoleSignInAnswersSameForUnknownEmail: the same for staff sign-in.
func TestConsoleSignInAnswersSameForUnknownEmail(t *testing.T) {
	e := newPagesEnv(t, nil)
	admin := e.newStaff("", "admin@bank.example", staff.RoleAdmin)
	known, unknown := e.browser(), e.browserFrom("127.0.0.2")
	known.get("/console/sign-in")
	unknown.get("/console/sign-in")
	for i := 1; i <= partners.MaxFailedLogins+1; i++ {
		a := answerOf(known.post("/console/sign-in", url.Values{"email": {admin.Staff.Email}, "password": {"nope nope nope"}, "code": {"000000"}}))
		b := answerOf(unknown.post("/console/sign-in", url.Values{"email": {"nobody@bank.example"}, "password": {"nope nope nope"}, "code": {"000000"}}))
		if a != b {
			t.Fatalf("fail/attempt-%d: known email answers %+v, unknown %+v", i, a, b)
		}
		if i == partners.MaxFailedLogins+1 && a.Status != http.StatusTooManyRequests {
			t.Fatalf("fail/attempt-%d: %+v, want a lockout", i, a)
		}
	}
}

var csrfValueRe = regexp.MustCompile(`name="csrf_token" value="[^"]+"`)

// TestPortalSignUpExistingEmailLooksNew: signing up with a registered email
// answers byte for byte like a new sign-up; the owner of the address gets a
// mail saying someone tried, and nothing is created.
func TestPortalSignUpExistingEmailLooksNew(t *testing.T) {
	e := newPagesEnv(t, nil)
	e.verifiedUser("taken@wallet.example", "Taken Ltd")
	signUp := func(b *browser, email string) (int, string, string) {
		b.get("/portal/sign-up")
		status, body := b.post("/portal/sign-up", url.Values{"email": {email}, "password": {testPW}, "organisation": {"Other Ltd"}})
		return status, b.url, csrfValueRe.ReplaceAllString(body, "")
	}
	s1, u1, b1 := signUp(e.browser(), "fresh@wallet.example")
	s2, u2, b2 := signUp(e.browserFrom("127.0.0.2"), "Taken@Wallet.example")
	if s1 != http.StatusOK || u1 != "/portal/check-email" || !strings.Contains(b1, "<h1>Check your email</h1>") {
		t.Fatalf("ok/new-email: %d %s\n%s", s1, u1, b1)
	}
	if s1 != s2 || u1 != u2 || b1 != b2 {
		t.Fatalf("fail/existing-email: answers %d %s, want %d %s; bodies equal: %v", s2, u2, s1, u1, b1 == b2)
	}
	ms, err := mail.List(context.Background(), e.d.DB, "taken@wallet.example", 10)
	if err != nil {
		t.Fatal(err)
	}
	var tried *mail.Message
	for i := range ms {
		if ms[i].Template == "sign_up_attempt" {
			tried = &ms[i]
		}
	}
	if tried == nil || !strings.Contains(tried.Body, "Someone tried to create a Bankbridge developer account with this email address") {
		t.Fatalf("no sign-up attempt mail to the existing address: %+v", ms)
	}
	var users int64
	if err := e.d.DB.Table("portal_users").Where("email = ?", "taken@wallet.example").Count(&users).Error; err != nil || users != 1 {
		t.Fatalf("users with the taken email: %d (%v)", users, err)
	}
}

// TestPortalLockIsPerAddress: wrong passwords from one address lock that
// address out of the account; the owner signs in from another address.
func TestPortalLockIsPerAddress(t *testing.T) {
	e := newPagesEnv(t, nil)
	e.verifiedUser("owner@wallet.example", "Wallet Ltd")
	attacker := e.browser() // 127.0.0.1
	for i := 1; i <= partners.MaxFailedLogins; i++ {
		attacker.signIn("owner@wallet.example", "not the password")
	}
	status, body := attacker.signIn("owner@wallet.example", testPW)
	want(t, "fail/locked-for-the-attacker", status, body, 429, "Too many failed sign-in attempts")
	owner := e.browserFrom("127.0.0.2")
	status, body = owner.signIn("owner@wallet.example", testPW)
	want(t, "ok/owner-from-another-address", status, body, 200, "Wallet Ltd")
}

// TestConsoleLockIsPerAddress: the same for staff.
func TestConsoleLockIsPerAddress(t *testing.T) {
	e := newPagesEnv(t, nil)
	admin := e.newStaff("", "admin@bank.example", staff.RoleAdmin)
	attacker := e.browser()
	attacker.get("/console/sign-in")
	for i := 1; i <= partners.MaxFailedLogins; i++ {
		attacker.post("/console/sign-in", url.Values{"email": {admin.Staff.Email}, "password": {"nope nope nope"}, "code": {"000000"}})
	}
	status, body := attacker.post("/console/sign-in", url.Values{"email": {admin.Staff.Email}, "password": {admin.OneTimePassword},
		"code": {totpCode(t, admin.TOTPSecret, time.Now())}})
	want(t, "fail/locked-for-the-attacker", status, body, 429, "Too many failed sign-in attempts")
	staff := e.browserFrom("127.0.0.2")
	staff.get("/console/sign-in")
	status, body = staff.post("/console/sign-in", url.Values{"email": {admin.Staff.Email}, "password": {admin.OneTimePassword},
		"code": {totpCode(t, admin.TOTPSecret, time.Now().Add(30*time.Second))}})
	want(t, "ok/staff-from-another-address", status, body, 200, "Choose a new password")
}

// TestPortalSprayingRefused: one address trying one password across many
// accounts is refused once its budget of failures is spent; another address
// is not affected.
func TestPortalSprayingRefused(t *testing.T) {
	e := newPagesEnv(t, nil)
	e.verifiedUser("victim@wallet.example", "Victim Ltd")
	sprayer := e.browser()
	var status int
	var body string
	// throttle.DefaultPolicy.Address.Limit is 20: the 20th failure spends it.
	for i := 0; i < 20; i++ {
		status, body = sprayer.signIn("user"+string(rune('a'+i))+"@wallet.example", "Summer2026!Summer")
		if i < 19 {
			want(t, "fail/spray-within-budget", status, body, 401, "Unknown email or wrong password.")
		}
	}
	want(t, "fail/spray-budget-spent", status, body, 429, "Too many failed sign-in attempts")
	status, body = sprayer.signIn("victim@wallet.example", testPW)
	want(t, "fail/spray-refused-even-with-right-password", status, body, 429, "Too many failed sign-in attempts")
	status, body = e.browserFrom("127.0.0.2").signIn("victim@wallet.example", testPW)
	want(t, "ok/other-address", status, body, 200, "Victim Ltd")
}

// TestConsolePasswordChangeEndsOtherSessions: after a staff member changes
// the password in one browser, their session in another browser is gone;
// the browser that made the change stays signed in.
func TestConsolePasswordChangeEndsOtherSessions(t *testing.T) {
	e := newPagesEnv(t, nil)
	admin := e.newStaff("", "admin@bank.example", staff.RoleAdmin)
	base := time.Now()
	a := e.browser()
	a.get("/console/sign-in")
	status, body := a.post("/console/sign-in", url.Values{"email": {admin.Staff.Email}, "password": {admin.OneTimePassword},
		"code": {totpCode(t, admin.TOTPSecret, base)}})
	want(t, "ok/a-signs-in", status, body, 200, "Choose a new password")
	status, body = a.post("/console/password", url.Values{"current_password": {admin.OneTimePassword}, "new_password": {staffPW}, "confirm_password": {staffPW}})
	want(t, "ok/a-sets-password", status, body, 200, "Password changed.")
	b := e.browser()
	b.get("/console/sign-in")
	status, body = b.post("/console/sign-in", url.Values{"email": {admin.Staff.Email}, "password": {staffPW},
		"code": {totpCode(t, admin.TOTPSecret, base.Add(30*time.Second))}})
	want(t, "ok/b-signs-in", status, body, 200, "<h1>Partners</h1>")

	a.get("/console/password")
	status, body = a.post("/console/password", url.Values{"current_password": {staffPW}, "new_password": {"another staff password"}, "confirm_password": {"another staff password"}})
	want(t, "ok/a-changes-password", status, body, 200, "Password changed.")
	status, body = b.get("/console/partners")
	want(t, "fail/b-signed-out", status, body, 200, `<label for="code">Authenticator code</label>`)
	status, body = a.get("/console/partners")
	want(t, "ok/a-still-signed-in", status, body, 200, "<h1>Partners</h1>")
}

// TestSignInBusy: with every bcrypt slot taken, sign-in and sign-up answer
// "busy" (503) without checking or hashing anything, and the refused
// attempts do not count towards a lockout.
func TestSignInBusy(t *testing.T) {
	e := newPagesEnv(t, nil)
	e.verifiedUser("dev@wallet.example", "Wallet Ltd")
	admin := e.newStaff("", "admin@bank.example", staff.RoleAdmin)
	secrets.SetPasswordConcurrency(1, 0)
	defer secrets.SetPasswordConcurrency(0, secrets.DefaultPasswordWait)
	release := secrets.OccupyPasswordSlots(1)
	const busy = "The server is busy; please try again in a moment."
	b := e.browser()
	for i := range partners.MaxFailedLogins + 1 {
		status, body := b.signIn("dev@wallet.example", "not the password")
		want(t, fmt.Sprintf("fail/portal-sign-in-busy-%d", i), status, body, 503, busy)
	}
	b.get("/portal/sign-up")
	status, body := b.post("/portal/sign-up", url.Values{"email": {"new@wallet.example"}, "password": {testPW}, "organisation": {"New Ltd"}})
	want(t, "fail/sign-up-busy", status, body, 503, busy)
	b.get("/console/sign-in")
	status, body = b.post("/console/sign-in", url.Values{"email": {admin.Staff.Email}, "password": {admin.OneTimePassword},
		"code": {totpCode(t, admin.TOTPSecret, time.Now())}})
	want(t, "fail/console-sign-in-busy", status, body, 503, busy)
	release()
	status, body = b.signIn("dev@wallet.example", testPW)
	want(t, "ok/not-locked-by-busy-answers", status, body, 200, "Wallet Ltd")
}

// TestPortalSignUpRateLimited: one address may sign up
// throttle.SignUpRule.Limit times an hour (counted before the password is
// hashed); another address is not affected.
func TestPortalSignUpRateLimited(t *testing.T) {
	e := newPagesEnv(t, nil)
	b := e.browser()
	b.get("/portal/sign-up")
	var status int
	var body string
	for i := range throttle.SignUpRule.Limit + 1 {
		status, body = b.post("/portal/sign-up", url.Values{"email": {fmt.Sprintf("dev%d@wallet.example", i)}, "password": {testPW}, "organisation": {"Wallet Ltd"}})
		if i < throttle.SignUpRule.Limit {
			want(t, "ok/sign-up", status, body, 200, "Check your email")
			b.get("/portal/sign-up")
		}
	}
	want(t, "fail/sign-up-rate-limited", status, body, 429, "Too many sign-ups from your network; please try again after ")
	o := e.browserFrom("127.0.0.2")
	o.get("/portal/sign-up")
	status, body = o.post("/portal/sign-up", url.Values{"email": {"other@wallet.example"}, "password": {testPW}, "organisation": {"Other Ltd"}})
	want(t, "ok/other-address", status, body, 200, "Check your email")
}
