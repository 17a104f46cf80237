package partners

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Sign-in throttling of portal users (internal/throttle): every attempt is
// counted before its password is checked. The policy is the console's
// (staff.LoginPolicy).
const (
	// MaxFailedLogins is how many passwords one client address may try on one
	// account within LockoutDuration (staff.MaxFailedLogins).
	MaxFailedLogins = staff.MaxFailedLogins
	// LockoutDuration is the window of MaxFailedLogins.
	LockoutDuration = staff.LockoutDuration
	// EmailTokenTTL is how long an email verification link works.
	EmailTokenTTL = 24 * time.Hour
	// InvitationTTL is how long an invitation works.
	InvitationTTL = 7 * 24 * time.Hour
)

// surfacePortal is the throttle's name for portal sign-in.
const surfacePortal = "portal"

// limiter is the sign-in throttle of surface, on the service's database and
// clock.
func (s *Service) limiter(surface string) *throttle.Limiter {
	return throttle.NewStore(s.db.DB, s.clock).Limiter(surface, staff.LoginPolicy)
}

// accountKey is the throttle's name for the account an email names: the
// normalised email, or for input that is not an email the trimmed, lower-cased
// input (so nonsense is throttled like everything else).
func accountKey(email string) string {
	if norm, err := normaliseEmail(email); err == nil {
		return norm
	}
	return strings.ToLower(strings.TrimSpace(email))
}

// refused maps a throttle refusal to CodeLockedOut (other errors: internal).
func refused(err error) error { return staff.Refused(err) }

// busyDetail answers a password operation that found every bcrypt slot taken.
const busyDetail = "the server is busy; please try again in a moment"

func busy() error { return problem.New(problem.CodeBusy, busyDetail) }

// ErrEmailRegistered is returned by SignUp for an email that already has an
// account: nothing was created and the address's owner was mailed that
// someone tried to sign up with it. Callers answer exactly as for a new
// sign-up ("check your email"), so sign-up does not tell which emails exist.
var ErrEmailRegistered = errors.New("partners: the email already has an account")

const purposeVerifyEmail = "verify_email"

// SignUpResult is what SignUp creates. VerificationToken is also in the mail
// written to the email outbox.
type SignUpResult struct {
	User              *User
	Partner           *Partner
	VerificationToken string
}

// SignUp creates a portal user, a partner in status sandbox owned by that user
// and an email verification token (mailed through the outbox). The client
// address in ctx (throttle.WithClient; the portal always sets it) may sign up
// throttle.SignUpRule times per window, counted before the password is
// hashed. For an email that
// already has an account nothing is created: the address is mailed that
// someone tried to sign up and SignUp returns ErrEmailRegistered, after the
// same password hashing work. Errors: CodeValidation (email, password,
// organisation name), CodeRateLimited, CodeBusy, ErrEmailRegistered.
func (s *Service) SignUp(ctx context.Context, email, password, orgName string) (*SignUpResult, error) {
	email, err := normaliseEmail(email)
	if err != nil {
		return nil, err
	}
	if err := checkPassword(password); err != nil {
		return nil, err
	}
	if err := checkLen("organisation name", orgName, 1, 200); err != nil {
		return nil, err
	}
	hash, err := s.hashForSignUp(ctx, password)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	u := &userRow{ID: ids.New("usr"), Email: email, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	p := &Partner{ID: ids.New("ptn"), LegalName: orgName, Status: StatusSandbox, CreatedAt: now, UpdatedAt: now}
	token, tokenHash := newToken("")
	registered := false
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var existing userRow
		switch err := tx.Where("email = ?", email).Take(&existing).Error; {
		case err == nil:
			registered = true
			if err := s.sendMail(ctx, tx, "", email, "sign_up_attempt", "Someone tried to sign up to Bankbridge with your email address",
				"Someone tried to create a Bankbridge developer account with this email address, which already has one. "+
					"Nothing was changed.\n\nIf it was you, sign in instead:\n"+s.portalURL+"/sign-in\n\n"+
					"If it was not you, you can ignore this email."); err != nil {
				return err
			}
			return s.audit(ctx, tx, systemActor("portal-sign-up"), "user.sign_up_attempted", "user", existing.ID, "", nil)
		case !isNotFound(err):
			return internal(err, "check email")
		}
		if err := s.createUser(tx, u); err != nil {
			return err
		}
		if err := s.createPartner(ctx, tx, p, userActor(u.ID)); err != nil {
			return err
		}
		if err := tx.Create(&Membership{PartnerID: p.ID, UserID: u.ID, Role: RoleOwner, CreatedAt: now}).Error; err != nil {
			return internal(err, "create membership")
		}
		if err := tx.Create(&emailToken{TokenHash: tokenHash, UserID: u.ID, Purpose: purposeVerifyEmail,
			ExpiresAt: now.Add(EmailTokenTTL), CreatedAt: now}).Error; err != nil {
			return internal(err, "create email token")
		}
		if err := s.sendMail(ctx, tx, p.ID, email, purposeVerifyEmail, "Verify your Bankbridge email address",
			fmt.Sprintf("Welcome to Bankbridge.\n\nConfirm your email address for %s:\n%s\n\nThe link works for 24 hours.",
				orgName, s.link("/verify-email", token))); err != nil {
			return err
		}
		return s.audit(ctx, tx, userActor(u.ID), "user.signed_up", "user", u.ID, p.ID, map[string]any{"email": email})
	})
	if registered || problem.CodeOf(err) == problem.CodeConflict {
		// A parallel sign-up with the same email won the race: it mailed the
		// verification link to that address.
		return nil, ErrEmailRegistered
	}
	if err != nil {
		return nil, err
	}
	return &SignUpResult{User: u.user(), Partner: p, VerificationToken: token}, nil
}

// hashForSignUp counts a sign-up of the client address in ctx
// (throttle.SignUpRule) and hashes password. A ctx without a client address
// is a caller inside the process (the CLI, seeding, tests), not a network
// client, and is not counted. Errors: CodeRateLimited, CodeBusy.
func (s *Service) hashForSignUp(ctx context.Context, password string) (string, error) {
	var err error
	if addr := throttle.Address(ctx); addr != "" {
		err = throttle.NewStore(s.db.DB, s.clock).Admit(ctx, throttle.SignUpRule, surfacePortal, "sign-up", addr)
	}
	var le *throttle.LockedError
	if errors.As(err, &le) {
		return "", problem.New(problem.CodeRateLimited, "too many sign-ups from your network; please try again after %s UTC",
			le.Until.UTC().Format("15:04")).With("locked_until", le.Until.UTC())
	}
	if err != nil {
		return "", internal(err, "count sign-up")
	}
	hash, err := secrets.HashPassword(password)
	if errors.Is(err, secrets.ErrBusy) {
		return "", busy()
	}
	if err != nil {
		return "", internal(err, "hash password")
	}
	return hash, nil
}

func (s *Service) createUser(tx *gorm.DB, u *userRow) error {
	if err := u.validate(); err != nil {
		return err
	}
	var n int64
	if err := tx.Model(&userRow{}).Where("email = ?", u.Email).Count(&n).Error; err != nil {
		return internal(err, "check email")
	}
	if n > 0 {
		return problem.New(problem.CodeConflict, "an account with email %s already exists", u.Email)
	}
	if err := tx.Create(u).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return problem.New(problem.CodeConflict, "an account with email %s already exists", u.Email)
		}
		return internal(err, "create user")
	}
	return nil
}

func (s *Service) createPartner(ctx context.Context, tx *gorm.DB, p *Partner, by actor) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := tx.Create(p).Error; err != nil {
		return internal(err, "create partner")
	}
	return s.audit(ctx, tx, by, "partner.created", "partner", p.ID, p.ID, map[string]any{"legal_name": p.LegalName, "status": string(p.Status)})
}

// emailToken is a single-use token mailed to a user.
type emailToken struct {
	TokenHash string `gorm:"primaryKey"`
	UserID    string
	Purpose   string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

func (emailToken) TableName() string { return "email_tokens" }

// VerifyEmail marks the user's email verified. Errors: CodeInvalidRequest for an
// unknown, used or expired token.
func (s *Service) VerifyEmail(ctx context.Context, token string) (*User, error) {
	var u userRow
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var t emailToken
		if err := s.forUpdate(tx).Where("token_hash = ? AND purpose = ?", hashToken(token), purposeVerifyEmail).Take(&t).Error; err != nil {
			if isNotFound(err) {
				return problem.New(problem.CodeInvalidRequest, "the verification link is not valid")
			}
			return internal(err, "load email token")
		}
		now := s.clock()
		if t.UsedAt != nil {
			return problem.New(problem.CodeInvalidRequest, "the verification link was already used")
		}
		if !now.Before(t.ExpiresAt) {
			return problem.New(problem.CodeInvalidRequest, "the verification link has expired")
		}
		if err := tx.Model(&emailToken{}).Where("token_hash = ?", t.TokenHash).Update("used_at", now).Error; err != nil {
			return internal(err, "use email token")
		}
		if err := tx.Model(&userRow{}).Where("id = ?", t.UserID).Updates(map[string]any{"email_verified_at": now, "updated_at": now}).Error; err != nil {
			return internal(err, "verify user")
		}
		if err := tx.Where("id = ?", t.UserID).Take(&u).Error; err != nil {
			return internal(err, "load user")
		}
		return s.audit(ctx, tx, userActor(u.ID), "user.email_verified", "user", u.ID, "", nil)
	})
	if err != nil {
		return nil, err
	}
	return u.user(), nil
}

// badLoginDetail is the detail of a failed login (the same for unknown users).
const badLoginDetail = "unknown email or wrong password"

// Login checks a portal user's password, throttled (internal/throttle,
// loginPolicy) on the email — whether or not it has an account — and on the
// client address in ctx (throttle.WithClient): the attempt is counted before
// the password is checked, and refused unchecked over a limit. Errors:
// CodeUnauthorized (unknown email or wrong password: the same detail, and
// the same password hashing work, for both), CodeLockedOut (the same detail
// for unknown and known emails; it says until when), CodeBusy (no password
// was checked).
func (s *Service) Login(ctx context.Context, email, password string) (*User, error) {
	att, err := s.limiter(surfacePortal).Begin(ctx, accountKey(email), throttle.Address(ctx))
	if err != nil {
		return nil, refused(err)
	}
	var u userRow
	found := false
	if norm, err := normaliseEmail(email); err == nil {
		switch err := s.db.WithContext(ctx).Where("email = ?", norm).Take(&u).Error; {
		case err == nil:
			found = true
		case !isNotFound(err):
			att.Cancel(ctx)
			return nil, internal(err, "load user")
		}
	}
	if found {
		err = secrets.CheckPassword(u.PasswordHash, password)
	} else if err = secrets.BurnPasswordCheck(password); err == nil {
		err = secrets.ErrPasswordMismatch
	}
	switch {
	case errors.Is(err, secrets.ErrBusy):
		att.Cancel(ctx)
		return nil, busy()
	case err != nil:
		lock := att.Failed()
		if lock == nil {
			return nil, problem.New(problem.CodeUnauthorized, badLoginDetail)
		}
		if found {
			if err := s.tx(ctx, func(tx *gorm.DB) error {
				return s.audit(ctx, tx, userActor(u.ID), "user.locked_out", "user", u.ID, "", map[string]any{"address": throttle.Address(ctx)})
			}); err != nil {
				return nil, err
			}
		}
		return nil, refused(lock)
	}
	if err := att.Succeeded(ctx); err != nil {
		s.log.Warn("partners: reset sign-in throttle", "err", err)
	}
	return u.user(), nil
}

// MembershipView is one of a user's partners, for the portal's switcher.
type MembershipView struct {
	Partner Partner
	Role    Role
}

// Memberships lists the partners a user belongs to.
func (s *Service) Memberships(ctx context.Context, userID string) ([]MembershipView, error) {
	var ms []Membership
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("created_at").Find(&ms).Error; err != nil {
		return nil, internal(err, "list memberships")
	}
	out := make([]MembershipView, 0, len(ms))
	for _, m := range ms {
		p, err := s.loadPartner(s.db.WithContext(ctx), m.PartnerID, false)
		if err != nil {
			return nil, err
		}
		out = append(out, MembershipView{Partner: *p, Role: m.Role})
	}
	return out, nil
}

// User returns a portal user, or CodeNotFound.
func (s *Service) User(ctx context.Context, userID string) (*User, error) {
	var u userRow
	if err := s.db.WithContext(ctx).Where("id = ?", userID).Take(&u).Error; err != nil {
		if isNotFound(err) {
			return nil, notFound("user", userID)
		}
		return nil, internal(err, "load user")
	}
	return u.user(), nil
}

// PartnerForMember returns the partner and the user's role in it; CodeNotFound
// when the user is not a member.
func (s *Service) PartnerForMember(ctx context.Context, userID, partnerID string) (*Partner, Role, error) {
	return s.requireMember(s.db.WithContext(ctx), userID, partnerID, ActOrgRead, false)
}

// UpdateProfile lets an owner change the organisation details. Errors:
// CodeNotFound, CodeForbidden, CodeValidation, CodeInvalidState (terminated).
func (s *Service) UpdateProfile(ctx context.Context, userID, partnerID string, in ProfileInput) (*Partner, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var p *Partner
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		if p, _, err = s.requireMember(tx, userID, partnerID, ActOrgUpdate, true); err != nil {
			return err
		}
		if p.Status == StatusTerminated {
			return invalidState("update the profile", p.Status, StatusSandbox, StatusLive)
		}
		p.LegalName, p.TradingName, p.CompanyNumber, p.Country = in.LegalName, in.TradingName, in.CompanyNumber, in.Country
		p.LicenceNumber, p.Website, p.IntendedUse = in.LicenceNumber, in.Website, in.IntendedUse
		p.ExpectedMonthlyAPICalls, p.ExpectedMonthlyPayments = in.ExpectedMonthlyAPICalls, in.ExpectedMonthlyPayments
		p.ExpectedMonthlyPaymentValue, p.Currency = in.ExpectedMonthlyPaymentValue, in.Currency
		p.UpdatedAt = s.clock()
		if err := tx.Save(p).Error; err != nil {
			return internal(err, "update partner")
		}
		s.cache.invalidatePartner(p.ID)
		return s.audit(ctx, tx, userActor(userID), "partner.profile_updated", "partner", p.ID, p.ID, nil)
	})
	if err != nil {
		return nil, err
	}
	s.cache.invalidatePartner(partnerID)
	return p, nil
}

// SubmitApplication records a partnership application and moves the partner
// sandbox → applied; the profile takes the application's details. Errors:
// CodeNotFound, CodeForbidden (not owner), CodeValidation, CodeInvalidState.
func (s *Service) SubmitApplication(ctx context.Context, userID, partnerID string, a Application) (*Application, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		p, _, err := s.requireMember(tx, userID, partnerID, ActApplicationSubmit, true)
		if err != nil {
			return err
		}
		if p.Status != StatusSandbox {
			return invalidState("submit an application", p.Status, StatusSandbox)
		}
		now := s.clock()
		a.ID, a.PartnerID, a.SubmittedBy, a.SubmittedAt = ids.New("apl"), partnerID, userID, now
		a.ContactEmail, _ = normaliseEmail(a.ContactEmail)
		if err := tx.Create(&a).Error; err != nil {
			return internal(err, "create application")
		}
		if err := tx.Model(&Partner{}).Where("id = ?", p.ID).Updates(map[string]any{
			"legal_name": a.LegalName, "trading_name": a.TradingName, "company_number": a.CompanyNumber,
			"country": a.Country, "licence_number": a.LicenceNumber, "website": a.Website,
			"intended_use": a.IntendedUse, "expected_monthly_api_calls": a.ExpectedMonthlyAPICalls,
			"expected_monthly_payments": a.ExpectedMonthlyPayments, "expected_monthly_payment_value": a.ExpectedMonthlyPaymentValue,
			"currency": a.Currency}).Error; err != nil {
			return internal(err, "update partner")
		}
		if err := s.audit(ctx, tx, userActor(userID), "application.submitted", "application", a.ID, p.ID, nil); err != nil {
			return err
		}
		return s.setStatus(ctx, tx, p, StatusApplied, "", userActor(userID), "submit an application", StatusSandbox)
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// LatestApplication returns the partner's most recent application (staff or
// member reads), or CodeNotFound.
func (s *Service) LatestApplication(ctx context.Context, partnerID string) (*Application, error) {
	var a Application
	if err := s.db.WithContext(ctx).Where("partner_id = ?", partnerID).Order("submitted_at DESC").Take(&a).Error; err != nil {
		if isNotFound(err) {
			return nil, notFound("application for partner", partnerID)
		}
		return nil, internal(err, "load application")
	}
	return &a, nil
}

// Team lists a partner's members (any member may read).
func (s *Service) Team(ctx context.Context, userID, partnerID string) ([]Member, error) {
	g := s.db.WithContext(ctx)
	if _, _, err := s.requireMember(g, userID, partnerID, ActOrgRead, false); err != nil {
		return nil, err
	}
	var out []Member
	rows := []struct {
		UserID          string
		Email           string
		Role            Role
		EmailVerifiedAt *time.Time
		CreatedAt       time.Time
	}{}
	err := g.Table("memberships m").Select("m.user_id, u.email, m.role, u.email_verified_at, m.created_at").
		Joins("JOIN portal_users u ON u.id = m.user_id").Where("m.partner_id = ?", partnerID).
		Order("m.created_at, u.email").Scan(&rows).Error
	if err != nil {
		return nil, internal(err, "list team")
	}
	for _, r := range rows {
		out = append(out, Member{UserID: r.UserID, Email: r.Email, Role: r.Role, EmailVerified: r.EmailVerifiedAt != nil, Since: r.CreatedAt})
	}
	return out, nil
}

// InviteResult carries the invitation and its token (shown once, also mailed).
type InviteResult struct {
	Invitation *Invitation
	Token      string
}

// Invite invites email into the partner with role (owner only). A pending
// invitation to the same email is replaced. Errors: CodeNotFound,
// CodeForbidden, CodeValidation, CodeConflict (already a member).
func (s *Service) Invite(ctx context.Context, userID, partnerID, email string, role Role) (*InviteResult, error) {
	email, err := normaliseEmail(email)
	if err != nil {
		return nil, err
	}
	inv := &Invitation{ID: ids.New("inv"), PartnerID: partnerID, Email: email, Role: role, InvitedBy: userID}
	if err := inv.Validate(); err != nil {
		return nil, err
	}
	token, hash := newToken("")
	err = s.tx(ctx, func(tx *gorm.DB) error {
		p, _, err := s.requireMember(tx, userID, partnerID, ActTeamManage, true)
		if err != nil {
			return err
		}
		var n int64
		if err := tx.Table("memberships m").Joins("JOIN portal_users u ON u.id = m.user_id").
			Where("m.partner_id = ? AND u.email = ?", partnerID, email).Count(&n).Error; err != nil {
			return internal(err, "check membership")
		}
		if n > 0 {
			return problem.New(problem.CodeConflict, "%s is already a member", email)
		}
		if err := tx.Where("partner_id = ? AND email = ? AND accepted_at IS NULL", partnerID, email).Delete(&Invitation{}).Error; err != nil {
			return internal(err, "replace invitation")
		}
		now := s.clock()
		inv.TokenHash, inv.ExpiresAt, inv.CreatedAt = hash, now.Add(InvitationTTL), now
		if err := tx.Create(inv).Error; err != nil {
			return internal(err, "create invitation")
		}
		if err := s.sendMail(ctx, tx, p.ID, email, "invitation", "You are invited to "+p.Name()+" on Bankbridge",
			fmt.Sprintf("You have been invited to join %s on Bankbridge as %s.\n\nAccept the invitation:\n%s\n\nThe link works for 7 days.",
				p.Name(), role, s.link("/invitations/accept", token))); err != nil {
			return err
		}
		return s.audit(ctx, tx, userActor(userID), "member.invited", "invitation", inv.ID, partnerID, map[string]any{"email": email, "role": string(role)})
	})
	if err != nil {
		return nil, err
	}
	return &InviteResult{Invitation: inv, Token: token}, nil
}

func (s *Service) takeInvitation(tx *gorm.DB, token string) (*Invitation, error) {
	var inv Invitation
	if err := s.forUpdate(tx).Where("token_hash = ?", hashToken(token)).Take(&inv).Error; err != nil {
		if isNotFound(err) {
			return nil, problem.New(problem.CodeInvalidRequest, "the invitation is not valid")
		}
		return nil, internal(err, "load invitation")
	}
	if inv.AcceptedAt != nil {
		return nil, problem.New(problem.CodeInvalidRequest, "the invitation was already accepted")
	}
	if !s.clock().Before(inv.ExpiresAt) {
		return nil, problem.New(problem.CodeInvalidRequest, "the invitation has expired")
	}
	return &inv, nil
}

func (s *Service) acceptInvitation(ctx context.Context, tx *gorm.DB, inv *Invitation, u *userRow) error {
	now := s.clock()
	var n int64
	if err := tx.Model(&Membership{}).Where("partner_id = ? AND user_id = ?", inv.PartnerID, u.ID).Count(&n).Error; err != nil {
		return internal(err, "check membership")
	}
	if n > 0 {
		return problem.New(problem.CodeConflict, "%s is already a member", u.Email)
	}
	if err := tx.Create(&Membership{PartnerID: inv.PartnerID, UserID: u.ID, Role: inv.Role, CreatedAt: now}).Error; err != nil {
		return internal(err, "create membership")
	}
	if err := tx.Model(&Invitation{}).Where("id = ?", inv.ID).Update("accepted_at", now).Error; err != nil {
		return internal(err, "accept invitation")
	}
	return s.audit(ctx, tx, userActor(u.ID), "member.joined", "membership", u.ID, inv.PartnerID, map[string]any{"role": string(inv.Role)})
}

// AcceptInvitation adds the signed-in user to the inviting partner. The
// invitation must be addressed to the user's email. Errors: CodeInvalidRequest
// (unknown, used, expired), CodeForbidden (other email), CodeConflict.
func (s *Service) AcceptInvitation(ctx context.Context, userID, token string) (*Membership, error) {
	var m Membership
	err := s.tx(ctx, func(tx *gorm.DB) error {
		inv, err := s.takeInvitation(tx, token)
		if err != nil {
			return err
		}
		var u userRow
		if err := tx.Where("id = ?", userID).Take(&u).Error; err != nil {
			return internal(err, "load user")
		}
		if u.Email != inv.Email {
			return problem.New(problem.CodeForbidden, "this invitation was sent to a different email address")
		}
		m = Membership{PartnerID: inv.PartnerID, UserID: u.ID, Role: inv.Role}
		return s.acceptInvitation(ctx, tx, inv, &u)
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// SignUpWithInvitation creates an account for an invited email (verified by
// the invitation link) and joins the partner. Like SignUp it counts against
// the client address's sign-up budget before hashing the password. Errors:
// CodeInvalidRequest, CodeValidation, CodeRateLimited, CodeBusy,
// CodeConflict (the email already has an account: sign in and use
// AcceptInvitation; only the holder of an invitation to that email learns
// it).
func (s *Service) SignUpWithInvitation(ctx context.Context, token, password string) (*User, error) {
	if err := checkPassword(password); err != nil {
		return nil, err
	}
	hash, err := s.hashForSignUp(ctx, password)
	if err != nil {
		return nil, err
	}
	var u userRow
	err = s.tx(ctx, func(tx *gorm.DB) error {
		inv, err := s.takeInvitation(tx, token)
		if err != nil {
			return err
		}
		now := s.clock()
		u = userRow{ID: ids.New("usr"), Email: inv.Email, PasswordHash: hash, EmailVerifiedAt: &now, CreatedAt: now, UpdatedAt: now}
		if err := s.createUser(tx, &u); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, userActor(u.ID), "user.signed_up", "user", u.ID, inv.PartnerID, map[string]any{"email": u.Email, "invitation": inv.ID}); err != nil {
			return err
		}
		return s.acceptInvitation(ctx, tx, inv, &u)
	})
	if err != nil {
		return nil, err
	}
	return u.user(), nil
}

func (s *Service) ownerCount(tx *gorm.DB, partnerID string) (int64, error) {
	var n int64
	err := tx.Model(&Membership{}).Where("partner_id = ? AND role = ?", partnerID, RoleOwner).Count(&n).Error
	return n, internal(err, "count owners")
}

const lastOwnerDetail = "the organisation must keep at least one owner"

// ChangeRole changes a member's role (owner only). Demoting the last owner is
// refused. Errors: CodeNotFound (partner or member), CodeForbidden,
// CodeValidation, CodeConflict (last owner).
func (s *Service) ChangeRole(ctx context.Context, userID, partnerID, memberUserID string, role Role) error {
	if !role.IsMemberRole() {
		return invalid("role must be owner, developer or viewer, got %q", role)
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		if _, _, err := s.requireMember(tx, userID, partnerID, ActTeamManage, true); err != nil {
			return err
		}
		var m Membership
		if err := tx.Where("partner_id = ? AND user_id = ?", partnerID, memberUserID).Take(&m).Error; err != nil {
			if isNotFound(err) {
				return notFound("member", memberUserID)
			}
			return internal(err, "load member")
		}
		if m.Role == role {
			return nil
		}
		if m.Role == RoleOwner {
			n, err := s.ownerCount(tx, partnerID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return problem.New(problem.CodeConflict, lastOwnerDetail)
			}
		}
		if err := tx.Model(&Membership{}).Where("partner_id = ? AND user_id = ?", partnerID, memberUserID).Update("role", role).Error; err != nil {
			return internal(err, "change role")
		}
		return s.audit(ctx, tx, userActor(userID), "member.role_changed", "membership", memberUserID, partnerID,
			map[string]any{"from": string(m.Role), "to": string(role)})
	})
}

// RemoveMember removes a member (owner only; a member may also remove
// themselves). The last owner is never removed. Errors: CodeNotFound,
// CodeForbidden, CodeConflict (last owner).
func (s *Service) RemoveMember(ctx context.Context, userID, partnerID, memberUserID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		action := ActTeamManage
		if userID == memberUserID {
			action = ActOrgRead
		}
		if _, _, err := s.requireMember(tx, userID, partnerID, action, true); err != nil {
			return err
		}
		var m Membership
		if err := tx.Where("partner_id = ? AND user_id = ?", partnerID, memberUserID).Take(&m).Error; err != nil {
			if isNotFound(err) {
				return notFound("member", memberUserID)
			}
			return internal(err, "load member")
		}
		if m.Role == RoleOwner {
			n, err := s.ownerCount(tx, partnerID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return problem.New(problem.CodeConflict, lastOwnerDetail)
			}
		}
		if err := tx.Where("partner_id = ? AND user_id = ?", partnerID, memberUserID).Delete(&Membership{}).Error; err != nil {
			return internal(err, "remove member")
		}
		return s.audit(ctx, tx, userActor(userID), "member.removed", "membership", memberUserID, partnerID, map[string]any{"role": string(m.Role)})
	})
}
