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
	"github.com/bankbridge/bankbridge/internal/throttle"
)

// TOTPIssuer is the issuer shown in authenticator apps.
const TOTPIssuer = "Bankbridge"

const (
	totpPeriod = 30
	// purposeTOTP is the fixed purpose TOTP secrets were once sealed under;
	// totpPurpose binds each to its staff member (ResealStaffTOTP migrates).
	purposeTOTP    = "staff-totp"
	badStaffDetail = "unknown email, wrong password or wrong code"
)

// totpPurpose is the secrets.Box purpose of staff member staffID's TOTP
// secret: a sealed secret copied onto another staff row does not open there.
func totpPurpose(staffID string) string { return purposeTOTP + ":" + staffID }

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
	if errors.Is(err, secrets.ErrBusy) {
		return nil, busy()
	}
	if err != nil {
		return nil, internal(err, "hash password")
	}
	now := s.clock()
	id := ids.New("stf")
	st := &StaffUser{ID: id, Email: email, Role: role, PasswordHash: hash,
		TOTPSecretSealed: s.box.Seal([]byte(key.Secret()), totpPurpose(id)), MustChangePassword: true,
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

// StaffLogin checks a staff member's password and TOTP code, throttled
// (internal/throttle, loginPolicy) on the email — whether or not it has an
// account — and on the client address in ctx (throttle.WithClient): the
// attempt is counted before the password is checked, and refused unchecked
// over a limit. A code is accepted once: a code of the same or an earlier
// time step than the last accepted one is refused (replay). Errors:
// CodeUnauthorized (the same detail for every credential failure, unknown
// email included), CodeLockedOut (the same detail for unknown and known
// emails), CodeBusy. The returned staff user's MustChangePassword tells the
// console to ask for a new password.
func (s *Service) StaffLogin(ctx context.Context, email, password, code string) (*StaffUser, error) {
	addr := throttle.Address(ctx)
	att, err := s.limiter(surfaceStaff).Begin(ctx, accountKey(email), addr)
	if err != nil {
		return nil, refused(err)
	}
	var st StaffUser
	found := false
	if norm, err := normaliseEmail(email); err == nil {
		switch err := s.db.WithContext(ctx).Where("email = ?", norm).Take(&st).Error; {
		case err == nil:
			found = true
		case !isNotFound(err):
			att.Cancel(ctx)
			return nil, internal(err, "load staff")
		}
	}
	if found {
		err = secrets.CheckPassword(st.PasswordHash, password)
	} else if err = secrets.BurnPasswordCheck(password); err == nil {
		err = secrets.ErrPasswordMismatch
	}
	if errors.Is(err, secrets.ErrBusy) {
		att.Cancel(ctx)
		return nil, busy()
	}
	now := s.clock()
	failed := func(reason string) (*StaffUser, error) {
		lock := att.Failed()
		if found {
			details := map[string]any{"reason": reason, "address": addr}
			var le *throttle.LockedError
			if errors.As(lock, &le) {
				details["locked_until"] = le.Until.UTC()
			}
			if err := s.tx(ctx, func(tx *gorm.DB) error {
				return s.audit(ctx, tx, staffActor(st.ID), "staff.login_failed", "staff", st.ID, "", details)
			}); err != nil {
				return nil, err
			}
		}
		if lock != nil {
			return nil, refused(lock)
		}
		return nil, problem.New(problem.CodeUnauthorized, badStaffDetail)
	}
	if err != nil {
		return failed("password")
	}
	secret, err := s.box.Open(st.TOTPSecretSealed, totpPurpose(st.ID))
	if err != nil {
		s.log.Error("partners: staff TOTP secret does not open under its staff id", "staff", st.ID)
		return failed("totp_secret_unreadable")
	}
	step := totpStep(string(secret), code, now)
	switch {
	case step == 0:
		return failed("totp")
	case step <= st.LastTOTPStep:
		return failed("totp_replay")
	}
	accepted := false
	err = s.tx(ctx, func(tx *gorm.DB) error {
		// Conditional on the last step so two nodes cannot both accept the same code.
		res := tx.Model(&StaffUser{}).Where("id = ? AND last_totp_step < ?", st.ID, step).Updates(map[string]any{
			"last_totp_step": step, "updated_at": now})
		if res.Error != nil {
			return internal(res.Error, "record login")
		}
		if accepted = res.RowsAffected == 1; !accepted {
			return nil
		}
		return s.audit(ctx, tx, staffActor(st.ID), "staff.logged_in", "staff", st.ID, "", map[string]any{"address": addr})
	})
	if err != nil {
		att.Cancel(ctx)
		return nil, err
	}
	if !accepted {
		return failed("totp_replay")
	}
	st.LastTOTPStep = step
	if err := att.Succeeded(ctx); err != nil {
		s.log.Warn("partners: reset sign-in throttle", "err", err)
	}
	return &st, nil
}

// ChangeStaffPassword sets a new password (the old one must match) and clears
// MustChangePassword. A wrong current password counts as a failed sign-in of
// the staff member from the client address in ctx (the current password is
// not guessable through this form either). Ending the staff member's other
// sessions is the caller's (the console's) part. Errors: CodeUnauthorized
// (old password wrong), CodeLockedOut, CodeBusy, CodeValidation (new password
// too short, or equal to the old one), CodeNotFound, CodeConflict (the
// password changed meanwhile).
func (s *Service) ChangeStaffPassword(ctx context.Context, staffID, oldPassword, newPassword string) error {
	if err := checkPassword(newPassword); err != nil {
		return err
	}
	if oldPassword == newPassword {
		return invalid("the new password must differ from the old one")
	}
	st, err := s.Staff(ctx, staffID)
	if err != nil {
		return err
	}
	att, err := s.limiter(surfaceStaff).Begin(ctx, st.Email, throttle.Address(ctx))
	if err != nil {
		return refused(err)
	}
	switch err := secrets.CheckPassword(st.PasswordHash, oldPassword); {
	case errors.Is(err, secrets.ErrBusy):
		att.Cancel(ctx)
		return busy()
	case err != nil:
		if lock := att.Failed(); lock != nil {
			return refused(lock)
		}
		return problem.New(problem.CodeUnauthorized, "the current password is wrong")
	}
	if err := att.Succeeded(ctx); err != nil {
		s.log.Warn("partners: reset sign-in throttle", "err", err)
	}
	hash, err := secrets.HashPassword(newPassword)
	if errors.Is(err, secrets.ErrBusy) {
		return busy()
	}
	if err != nil {
		return internal(err, "hash password")
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&StaffUser{}).Where("id = ? AND password_hash = ?", staffID, st.PasswordHash).Updates(map[string]any{
			"password_hash": hash, "must_change_password": false, "updated_at": s.clock()})
		if res.Error != nil {
			return internal(res.Error, "change password")
		}
		if res.RowsAffected != 1 {
			return problem.New(problem.CodeConflict, "the password was changed meanwhile; please sign in again")
		}
		return s.audit(ctx, tx, staffActor(staffID), "staff.password_changed", "staff", staffID, "", nil)
	})
}

// ResealStaffTOTP moves staff TOTP secrets sealed under the old fixed purpose
// ("staff-totp") to their staff member's own purpose (totpPurpose), so that
// a sealed secret copied onto another staff row no longer opens. It is
// idempotent and safe on many nodes at once (each row is rewritten only if
// unchanged since read); cmd runs it at every start. It returns how many
// secrets it re-sealed; a secret that opens under neither purpose is left
// alone and logged (sign-in with it fails).
func (s *Service) ResealStaffTOTP(ctx context.Context) (int, error) {
	var rows []StaffUser
	g := s.db.WithContext(ctx)
	if err := g.Select("id", "totp_secret_sealed").Find(&rows).Error; err != nil {
		return 0, internal(err, "list staff TOTP secrets")
	}
	n := 0
	for _, r := range rows {
		if _, err := s.box.Open(r.TOTPSecretSealed, totpPurpose(r.ID)); err == nil {
			continue
		}
		secret, err := s.box.Open(r.TOTPSecretSealed, purposeTOTP)
		if err != nil {
			s.log.Error("partners: staff TOTP secret opens under no purpose", "staff", r.ID)
			continue
		}
		res := g.Model(&StaffUser{}).Where("id = ? AND totp_secret_sealed = ?", r.ID, r.TOTPSecretSealed).
			Update("totp_secret_sealed", s.box.Seal(secret, totpPurpose(r.ID)))
		if res.Error != nil {
			return n, internal(res.Error, "re-seal staff TOTP secret")
		}
		n += int(res.RowsAffected)
	}
	return n, nil
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
