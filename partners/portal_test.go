package partners

import (
	"errors"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/problem"
)

func TestSignUpAndVerify(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r, err := e.s.SignUp(ctx, " Ada@Acme.Example ", testPassword, "Acme Ltd")
		mustOK(t, err)
		if r.User.Email != "ada@acme.example" || r.Partner.Status != StatusSandbox || r.User.EmailVerifiedAt != nil {
			t.Fatalf("signup %+v %+v", r.User, r.Partner)
		}
		ms, err := e.s.Memberships(ctx, r.User.ID)
		mustOK(t, err)
		if len(ms) != 1 || ms[0].Role != RoleOwner || ms[0].Partner.ID != r.Partner.ID {
			t.Fatalf("memberships %+v", ms)
		}
		mails, err := mail.List(ctx, d.DB, "ada@acme.example", 10)
		mustOK(t, err)
		if len(mails) != 1 || mails[0].PartnerID != r.Partner.ID || mails[0].Template != "verify_email" ||
			!strings.Contains(mails[0].Body, "https://bank.example/portal/verify-email?token="+r.VerificationToken) {
			t.Fatalf("outbox %+v", mails)
		}
		for _, tc := range []struct {
			name, email, password, org string
			code                       problem.Code
			detail                     string
		}{
			{"fail/short-password", "bob@acme.example", "short", "X", problem.CodeValidation, "password must be at least 12 characters"},
			{"fail/bad-email", "bob", testPassword, "X", problem.CodeValidation, `email "bob" is not a valid address`},
			{"fail/no-org", "bob@acme.example", testPassword, "", problem.CodeValidation, "organisation name is required"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.s.SignUp(ctx, tc.email, tc.password, tc.org)
				wantProblem(t, err, tc.code, tc.detail)
			})
		}
		// A registered email (in any case) creates nothing: its owner is mailed.
		if _, err := e.s.SignUp(ctx, "ADA@acme.example", testPassword, "X"); !errors.Is(err, ErrEmailRegistered) {
			t.Fatalf("fail/duplicate-email-other-case: %v, want ErrEmailRegistered", err)
		}
		mails, err = mail.List(ctx, d.DB, "ada@acme.example", 10)
		mustOK(t, err)
		if len(mails) != 2 || mails[0].Template != "sign_up_attempt" || mails[0].PartnerID != "" ||
			!strings.Contains(mails[0].Body, "https://bank.example/portal/sign-in") || strings.Contains(mails[0].Body, "token=") {
			t.Fatalf("sign-up attempt mail %+v", mails[0])
		}
		if n, _ := e.s.Memberships(ctx, r.User.ID); len(n) != 1 {
			t.Fatalf("memberships after a repeated sign-up: %+v", n)
		}
		_, err = e.s.VerifyEmail(ctx, "nope")
		wantProblem(t, err, problem.CodeInvalidRequest, "the verification link is not valid")
		u, err := e.s.VerifyEmail(ctx, r.VerificationToken)
		mustOK(t, err)
		if u.EmailVerifiedAt == nil {
			t.Fatal("not verified")
		}
		_, err = e.s.VerifyEmail(ctx, r.VerificationToken)
		wantProblem(t, err, problem.CodeInvalidRequest, "the verification link was already used")
		r2, err := e.s.SignUp(ctx, "late@acme.example", testPassword, "Late Ltd")
		mustOK(t, err)
		e.clock.advance(EmailTokenTTL)
		_, err = e.s.VerifyEmail(ctx, r2.VerificationToken)
		wantProblem(t, err, problem.CodeInvalidRequest, "the verification link has expired")
	})
}

func TestLoginThrottling(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signUp("ada@acme.example", "Acme")
		_, err := e.s.Login(ctx, "ADA@acme.example", testPassword)
		mustOK(t, err)
		_, err = e.s.Login(ctx, "nobody@acme.example", testPassword)
		wantProblem(t, err, problem.CodeUnauthorized, "unknown email or wrong password")
		for i := 1; i < MaxFailedLogins; i++ {
			_, err = e.s.Login(ctx, "ada@acme.example", "wrong password!")
			wantProblem(t, err, problem.CodeUnauthorized, "unknown email or wrong password")
		}
		_, err = e.s.Login(ctx, "ada@acme.example", "wrong password!")
		wantProblem(t, err, problem.CodeLockedOut, "too many failed sign-in attempts; please try again after 10:15 UTC")
		_, err = e.s.Login(ctx, "ada@acme.example", testPassword)
		wantProblem(t, err, problem.CodeLockedOut, "too many failed sign-in attempts; please try again after 10:15 UTC")
		e.clock.advance(LockoutDuration)
		// After the window, a fresh count of failures locks again.
		for i := 1; i < MaxFailedLogins; i++ {
			_, err = e.s.Login(ctx, "ada@acme.example", "wrong password!")
			wantProblem(t, err, problem.CodeUnauthorized, "unknown email or wrong password")
		}
		_, err = e.s.Login(ctx, "ada@acme.example", "wrong password!")
		wantProblem(t, err, problem.CodeLockedOut, "too many failed sign-in attempts; please try again after 10:30 UTC")
		e.clock.advance(LockoutDuration)
		_, err = e.s.Login(ctx, "ada@acme.example", testPassword)
		mustOK(t, err)
		// The success reset the count: four failures do not lock.
		for i := 1; i < MaxFailedLogins; i++ {
			_, err = e.s.Login(ctx, "ada@acme.example", "wrong password!")
			wantProblem(t, err, problem.CodeUnauthorized, "unknown email or wrong password")
		}
		_, err = e.s.Login(ctx, "ada@acme.example", testPassword)
		mustOK(t, err)
	})
}

func TestTeam(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		owner, pid := e.signUp("owner@acme.example", "Acme")
		dev := e.member(owner, pid, "dev@acme.example", RoleDeveloper)
		viewer := e.member(owner, pid, "viewer@acme.example", RoleViewer)
		team, err := e.s.Team(ctx, viewer, pid)
		mustOK(t, err)
		if len(team) != 3 || team[1].Role != RoleOwner || team[1].Email != "owner@acme.example" {
			t.Fatalf("team %+v", team)
		}
		_, err = e.s.Invite(ctx, dev, pid, "x@acme.example", RoleViewer)
		wantProblem(t, err, problem.CodeForbidden, "role developer may not team.manage")
		_, err = e.s.Invite(ctx, owner, pid, "DEV@acme.example", RoleViewer)
		wantProblem(t, err, problem.CodeConflict, "dev@acme.example is already a member")
		_, err = e.s.Invite(ctx, owner, pid, "x@acme.example", Role("admin"))
		wantProblem(t, err, problem.CodeValidation, `role must be owner, developer or viewer, got "admin"`)

		wantProblem(t, e.s.RemoveMember(ctx, owner, pid, owner), problem.CodeConflict, "the organisation must keep at least one owner")
		wantProblem(t, e.s.ChangeRole(ctx, owner, pid, owner, RoleViewer), problem.CodeConflict, "the organisation must keep at least one owner")
		wantProblem(t, e.s.RemoveMember(ctx, viewer, pid, dev), problem.CodeForbidden, "role viewer may not team.manage")
		mustOK(t, e.s.ChangeRole(ctx, owner, pid, dev, RoleOwner))
		mustOK(t, e.s.ChangeRole(ctx, dev, pid, owner, RoleViewer)) // two owners: demoting one is fine
		wantProblem(t, e.s.RemoveMember(ctx, dev, pid, dev), problem.CodeConflict, "the organisation must keep at least one owner")
		mustOK(t, e.s.RemoveMember(ctx, viewer, pid, viewer)) // leaving is allowed

		// Invitation tokens: other email, used, expired, unknown.
		other, _ := e.signUp("other@acme.example", "Other")
		inv, err := e.s.Invite(ctx, dev, pid, "new@acme.example", RoleDeveloper)
		mustOK(t, err)
		_, err = e.s.AcceptInvitation(ctx, other, inv.Token)
		wantProblem(t, err, problem.CodeForbidden, "this invitation was sent to a different email address")
		_, err = e.s.SignUpWithInvitation(ctx, inv.Token, testPassword)
		mustOK(t, err)
		_, err = e.s.SignUpWithInvitation(ctx, inv.Token, testPassword)
		wantProblem(t, err, problem.CodeInvalidRequest, "the invitation was already accepted")
		_, err = e.s.AcceptInvitation(ctx, other, "nope")
		wantProblem(t, err, problem.CodeInvalidRequest, "the invitation is not valid")
		inv2, err := e.s.Invite(ctx, dev, pid, "other@acme.example", RoleViewer)
		mustOK(t, err)
		e.clock.advance(InvitationTTL)
		_, err = e.s.AcceptInvitation(ctx, other, inv2.Token)
		wantProblem(t, err, problem.CodeInvalidRequest, "the invitation has expired")
		inv3, err := e.s.Invite(ctx, dev, pid, "other@acme.example", RoleViewer)
		mustOK(t, err)
		m, err := e.s.AcceptInvitation(ctx, other, inv3.Token)
		mustOK(t, err)
		if m.Role != RoleViewer {
			t.Fatalf("membership %+v", m)
		}
	})
}

func TestProfileAndApplication(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		owner, pid := e.signUp("owner@acme.example", "Acme")
		dev := e.member(owner, pid, "dev@acme.example", RoleDeveloper)
		stranger, _ := e.signUp("stranger@evil.example", "Evil")
		in := ProfileInput{LegalName: "Acme Ltd", TradingName: "Acme Pay", Country: "GB", Website: "https://acme.example"}
		_, err := e.s.UpdateProfile(ctx, dev, pid, in)
		wantProblem(t, err, problem.CodeForbidden, "role developer may not org.update")
		_, err = e.s.UpdateProfile(ctx, stranger, pid, in)
		wantProblem(t, err, problem.CodeNotFound, "partner "+pid+" not found")
		bad := in
		bad.Country = "gb"
		_, err = e.s.UpdateProfile(ctx, owner, pid, bad)
		wantProblem(t, err, problem.CodeValidation, `country must be an ISO 3166-1 alpha-2 code such as GB, got "gb"`)
		bad = in
		bad.Website = "http://acme.example"
		_, err = e.s.UpdateProfile(ctx, owner, pid, bad)
		wantProblem(t, err, problem.CodeValidation, `website must be an absolute https URL without credentials or fragment, got "http://acme.example"`)
		p, err := e.s.UpdateProfile(ctx, owner, pid, in)
		mustOK(t, err)
		if p.Name() != "Acme Pay" {
			t.Fatalf("name %q", p.Name())
		}
		for _, tc := range []struct {
			name   string
			mut    func(a *Application)
			detail string
		}{
			{"fail/no-company-number", func(a *Application) { a.CompanyNumber = "" }, "company_number is required"},
			{"fail/short-intended-use", func(a *Application) { a.IntendedUse = "wallet" }, "intended_use must be at least 20 characters"},
			{"fail/negative-volume", func(a *Application) { a.ExpectedMonthlyPayments = -1 }, "expected monthly volumes must not be negative"},
			{"fail/value-without-currency", func(a *Application) { a.Currency = "" }, `currency must be an ISO 4217 code such as GBP when a payment value is given, got ""`},
			{"fail/contact-email", func(a *Application) { a.ContactEmail = "ada" }, `contact_email: email "ada" is not a valid address`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := application
				tc.mut(&a)
				_, err := e.s.SubmitApplication(ctx, owner, pid, a)
				wantProblem(t, err, problem.CodeValidation, tc.detail)
			})
		}
		_, err = e.s.SubmitApplication(ctx, dev, pid, application)
		wantProblem(t, err, problem.CodeForbidden, "role developer may not application.submit")
		a, err := e.s.SubmitApplication(ctx, owner, pid, application)
		mustOK(t, err)
		got, err := e.s.LatestApplication(ctx, pid)
		mustOK(t, err)
		if got.ID != a.ID || got.SubmittedBy != owner || e.status(pid) != StatusApplied {
			t.Fatalf("application %+v", got)
		}
	})
}
