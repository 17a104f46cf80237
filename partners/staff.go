package partners

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
)

// TOTPIssuer is the issuer shown in authenticator apps.
const TOTPIssuer = "Bankbridge"

const (
	totpPeriod     = 30
	purposeTOTP    = "staff-totp"
	badStaffDetail = "unknown email, wrong password or wrong code"
)

// NewStaff is what CreateStaff returns: the account and its one-time
// credentials, shown once.
type NewStaff struct {
	Staff            *StaffUser
	OneTimePassword  string // must be changed at first sign-in
	TOTPSecret       string // base32
	TOTPProvisionURI string // otpauth://totp/Bankbridge:email?...
}

// CreateStaff creates a staff account (actor needs staff.manage). Errors:
// CodeForbidden, CodeValidation, CodeConflict (email taken).
func (s *Service) CreateStaff(ctx context.Context, actorStaffID, email string, role Role) (*NewStaff, error) {
	return s.createStaff(ctx, &actorStaffID, email, role)
}

// BootstrapStaff creates a staff account without an acting staff member (the
// CLI, to create the first admin). Errors: CodeValidation, CodeConflict.
func (s *Service) BootstrapStaff(ctx context.Context, email string, role Role) (*NewStaff, error) {
	return s.createStaff(ctx, nil, email, role)
}

func (s *Service) createStaff(ctx context.Context, actorID *string, email string, role Role) (*NewStaff, error) {
	email, err := normaliseEmail(email)
	if err != nil {
		return nil, err
	}
	if !role.IsStaffRole() {
		return nil, invalid("staff role must be admin, partner_manager, risk_officer, finance or auditor, got %q", role)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: email, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, internal(err, "generate TOTP secret")
	}
	pw := oneTimePassword()
	hash, err := secrets.HashPassword(pw)
	if err != nil {
		return nil, internal(err, "hash password")
	}
	now := s.clock()
	st := &StaffUser{ID: ids.New("stf"), Email: email, Role: role, PasswordHash: hash,
		TOTPSecretSealed: s.box.Seal([]byte(key.Secret()), purposeTOTP), MustChangePassword: true,
		CreatedAt: now, UpdatedAt: now}
	by := systemActor("cli")
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if actorID != nil {
			if _, err := s.requireStaff(tx, *actorID, ActStaffManage); err != nil {
				return err
			}
			by = staffActor(*actorID)
		}
		if err := st.Validate(); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&StaffUser{}).Where("email = ?", email).Count(&n).Error; err != nil {
			return internal(err, "check staff email")
		}
		if n > 0 {
			return problem.New(problem.CodeConflict, "a staff account with email %s already exists", email)
		}
		if err := tx.Create(st).Error; err != nil {
			return internal(err, "create staff")
		}
		return s.audit(ctx, tx, by, "staff.created", "staff", st.ID, "", map[string]any{"email": email, "role": string(role)})
	})
	if err != nil {
		return nil, err
	}
	return &NewStaff{Staff: st, OneTimePassword: pw, TOTPSecret: key.Secret(), TOTPProvisionURI: key.URL()}, nil
}

func oneTimePassword() string {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		panic("partners: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b) // 20 characters
}

// totpStep finds which time step (within ±1 of now) code belongs to, in
// constant time per candidate; 0 when none matches.
func totpStep(secret, code string, now time.Time) int64 {
	if len(code) != 6 {
		return 0
	}
	cur := now.Unix() / totpPeriod
	var found int64
	for _, step := range []int64{cur - 1, cur, cur + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0).UTC(),
			totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found = step
		}
	}
	return found
}

// StaffLogin checks a staff member's password and TOTP code. A code is
// accepted once: a code of the same or an earlier time step than the last
// accepted one is refused (replay). MaxFailedLogins failures lock the account
// for LockoutDuration. Errors: CodeUnauthorized (same detail for every
// credential failure), CodeLockedOut. The returned staff user's
// MustChangePassword tells the console to ask for a new password.
func (s *Service) StaffLogin(ctx context.Context, email, password, code string) (*StaffUser, error) {
	norm, err := normaliseEmail(email)
	if err != nil {
		secrets.BurnPasswordCheck(password)
		return nil, problem.New(problem.CodeUnauthorized, badStaffDetail)
	}
	var (
		st     StaffUser
		result error
	)
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := s.forUpdate(tx).Where("email = ?", norm).Take(&st).Error; err != nil {
			if isNotFound(err) {
				secrets.BurnPasswordCheck(password)
				result = problem.New(problem.CodeUnauthorized, badStaffDetail)
				return nil
			}
			return internal(err, "load staff")
		}
		now := s.clock()
		if st.LockedUntil != nil && now.Before(*st.LockedUntil) {
			secrets.BurnPasswordCheck(password)
			result = problem.New(problem.CodeLockedOut, "%s", lockedDetail(*st.LockedUntil)).With("locked_until", st.LockedUntil.UTC())
			return nil
		}
		pwOK := secrets.CheckPassword(st.PasswordHash, password) == nil
		var step int64
		reason := "password"
		if pwOK {
			secret, err := s.box.Open(st.TOTPSecretSealed, purposeTOTP)
			if err != nil {
				return internal(err, "open TOTP secret")
			}
			step = totpStep(string(secret), code, now)
			switch {
			case step == 0:
				reason = "totp"
			case step <= st.LastTOTPStep:
				reason, step = "totp_replay", 0
			}
		}
		if !pwOK || step == 0 {
			failed := st.FailedAttempts + 1
			upd := map[string]any{"failed_attempts": failed, "updated_at": now}
			if st.LockedUntil != nil { // an expired lock: start a new count
				failed = 1
				upd["failed_attempts"], upd["locked_until"] = failed, nil
			}
			result = problem.New(problem.CodeUnauthorized, badStaffDetail)
			details := map[string]any{"reason": reason}
			if failed >= MaxFailedLogins {
				until := now.Add(LockoutDuration)
				upd["locked_until"], upd["failed_attempts"] = until, 0
				result = problem.New(problem.CodeLockedOut, "%s", lockedDetail(until)).With("locked_until", until)
				details["locked_until"] = until
			}
			if err := s.audit(ctx, tx, staffActor(st.ID), "staff.login_failed", "staff", st.ID, "", details); err != nil {
				return err
			}
			return internal(tx.Model(&StaffUser{}).Where("id = ?", st.ID).Updates(upd).Error, "record failed login")
		}
		// Conditional on the last step so two nodes cannot both accept the same code.
		res := tx.Model(&StaffUser{}).Where("id = ? AND last_totp_step < ?", st.ID, step).Updates(map[string]any{
			"last_totp_step": step, "failed_attempts": 0, "locked_until": nil, "updated_at": now})
		if res.Error != nil {
			return internal(res.Error, "record login")
		}
		if res.RowsAffected != 1 {
			result = problem.New(problem.CodeUnauthorized, badStaffDetail)
			return nil
		}
		st.LastTOTPStep, st.FailedAttempts, st.LockedUntil = step, 0, nil
		return s.audit(ctx, tx, staffActor(st.ID), "staff.logged_in", "staff", st.ID, "", nil)
	})
	if err != nil {
		return nil, err
	}
	if result != nil {
		return nil, result
	}
	return &st, nil
}

// ChangeStaffPassword sets a new password (the old one must match) and clears
// MustChangePassword. Errors: CodeUnauthorized (old password wrong),
// CodeValidation (new password too short, or equal to the old one),
// CodeNotFound.
func (s *Service) ChangeStaffPassword(ctx context.Context, staffID, oldPassword, newPassword string) error {
	if err := checkPassword(newPassword); err != nil {
		return err
	}
	if oldPassword == newPassword {
		return invalid("the new password must differ from the old one")
	}
	hash, err := secrets.HashPassword(newPassword)
	if err != nil {
		return internal(err, "hash password")
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var st StaffUser
		if err := s.forUpdate(tx).Where("id = ?", staffID).Take(&st).Error; err != nil {
			if isNotFound(err) {
				return notFound("staff", staffID)
			}
			return internal(err, "load staff")
		}
		if secrets.CheckPassword(st.PasswordHash, oldPassword) != nil {
			return problem.New(problem.CodeUnauthorized, "the current password is wrong")
		}
		if err := tx.Model(&StaffUser{}).Where("id = ?", staffID).Updates(map[string]any{
			"password_hash": hash, "must_change_password": false, "updated_at": s.clock()}).Error; err != nil {
			return internal(err, "change password")
		}
		return s.audit(ctx, tx, staffActor(staffID), "staff.password_changed", "staff", staffID, "", nil)
	})
}

// Staff returns a staff account, or CodeNotFound.
func (s *Service) Staff(ctx context.Context, staffID string) (*StaffUser, error) {
	var st StaffUser
	if err := s.db.WithContext(ctx).Where("id = ?", staffID).Take(&st).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, notFound("staff", staffID)
		}
		return nil, internal(err, "load staff")
	}
	return &st, nil
}

// ListStaff lists staff accounts by email (actor needs staff.manage).
func (s *Service) ListStaff(ctx context.Context, actorStaffID string) ([]StaffUser, error) {
	g := s.db.WithContext(ctx)
	if _, err := s.requireStaff(g, actorStaffID, ActStaffManage); err != nil {
		return nil, err
	}
	var out []StaffUser
	return out, internal(g.Order("email").Find(&out).Error, "list staff")
}
