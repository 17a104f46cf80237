// Package staff holds the bank's console users: staff accounts, their
// passwords and TOTP enrolment (and the re-seal of TOTP secrets), sign-in,
// the staff roles and THE one staff role → action permission table (Can).
// partners (the partner lifecycle) and contracts (contracts, ledger,
// settlement) both authorise staff through Can. Member (portal) roles and
// actions are partners'.
//
// Pages are built on top of Service; this package renders no HTML.
package staff

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
)

// TOTPIssuer is the issuer shown in authenticator apps.
const TOTPIssuer = "Bankbridge"

// Sign-in throttling (internal/throttle): every attempt is counted before
// its password is checked. The portal (partners) uses the same LoginPolicy.
const (
	// MaxFailedLogins is how many passwords one client address may try on one
	// account within LockoutDuration; then that address is locked out of
	// that account until the window ends. The account-wide ceiling and the
	// per-address budget are throttle.DefaultPolicy's.
	MaxFailedLogins = 5
	// LockoutDuration is the window of MaxFailedLogins.
	LockoutDuration = 15 * time.Minute
	// MinPasswordLength is the shortest accepted password.
	MinPasswordLength = 12
)

// LoginPolicy is the sign-in throttle of the console and the portal.
var LoginPolicy = throttle.Policy{
	Address:        throttle.DefaultPolicy.Address,
	AccountAddress: throttle.Rule{Limit: MaxFailedLogins, Window: LockoutDuration},
	Account:        throttle.DefaultPolicy.Account,
}

const (
	totpPeriod = 30
	// purposeTOTP is the fixed purpose TOTP secrets were once sealed under;
	// totpPurpose binds each to its staff member (ResealTOTP migrates).
	purposeTOTP    = "staff-totp"
	badStaffDetail = "unknown email, wrong password or wrong code"
	// throttleSurface is the throttle's name for console sign-in.
	throttleSurface = "staff"
	busyDetail      = "the server is busy; please try again in a moment"
)

// totpPurpose is the secrets.Box purpose of staff member staffID's TOTP
// secret: a sealed secret copied onto another staff row does not open there.
func totpPurpose(staffID string) string { return purposeTOTP + ":" + staffID }

// Member is a staff account as the rest of the platform sees it (no
// password hash, no TOTP secret).
type Member struct {
	ID    string
	Email string
	Role  Role
	// MustChangePassword asks the console to have the member set a new
	// password before anything else (true for new accounts).
	MustChangePassword bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// staffRow is the stored staff account (table staff_users).
type staffRow struct {
	ID                 string `gorm:"primaryKey"`
	Email              string
	Role               Role
	PasswordHash       string
	TOTPSecretSealed   string `gorm:"column:totp_secret_sealed"`
	LastTOTPStep       int64  `gorm:"column:last_totp_step"`
	MustChangePassword bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

func (staffRow) TableName() string { return "staff_users" }

func (r *staffRow) member() *Member {
	return &Member{ID: r.ID, Email: r.Email, Role: r.Role, MustChangePassword: r.MustChangePassword,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// validate checks email, role and that the secrets are present.
func (r *staffRow) validate() error {
	if _, err := NormaliseEmail(r.Email); err != nil {
		return err
	}
	if !r.Role.Assignable() {
		return invalid("staff role must be admin, partner_manager, risk_officer, finance or auditor, got %q", r.Role)
	}
	if r.PasswordHash == "" || r.TOTPSecretSealed == "" {
		return invalid("staff credentials missing")
	}
	return nil
}

// Config is what a Service needs. DB and Box are required.
type Config struct {
	DB  *db.DB
	Box *secrets.Box // seals TOTP secrets
	// Now is the clock (UTC); defaults to time.Now.
	Now func() time.Time
	// Logger receives TOTP secrets that do not open.
	Logger *slog.Logger
}

// Service manages staff accounts and console sign-in. Its methods open their
// own transactions and audit every change inside them.
type Service struct {
	db  *db.DB
	box *secrets.Box
	now func() time.Time
	log *slog.Logger
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Box == nil {
		return nil, errors.New("staff: Config.DB and Config.Box are required")
	}
	s := &Service{db: cfg.DB, box: cfg.Box, now: cfg.Now, log: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

func (s *Service) clock() time.Time { return s.now().UTC() }

func (s *Service) limiter() *throttle.Limiter {
	return throttle.NewStore(s.db.DB, s.clock).Limiter(throttleSurface, LoginPolicy)
}

// Created is what Create and Bootstrap return: the account and its one-time
// credentials, shown once.
type Created struct {
	Staff            *Member
	OneTimePassword  string // must be changed at first sign-in
	TOTPSecret       string // base32
	TOTPProvisionURI string // otpauth://totp/Bankbridge:email?...
}

// Create creates a staff account (the actor needs ActStaffManage). Errors:
// CodeForbidden, CodeValidation, CodeConflict (email taken).
func (s *Service) Create(ctx context.Context, actorStaffID, email string, role Role) (*Created, error) {
	return s.create(ctx, &actorStaffID, email, role)
}

// Bootstrap creates a staff account without an acting staff member (the
// CLI, to create the first admin). Errors: CodeValidation, CodeConflict.
func (s *Service) Bootstrap(ctx context.Context, email string, role Role) (*Created, error) {
	return s.create(ctx, nil, email, role)
}

func (s *Service) create(ctx context.Context, actorID *string, email string, role Role) (*Created, error) {
	email, err := NormaliseEmail(email)
	if err != nil {
		return nil, err
	}
	if !role.Assignable() {
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
	row := &staffRow{ID: id, Email: email, Role: role, PasswordHash: hash,
		TOTPSecretSealed: s.box.Seal([]byte(key.Secret()), totpPurpose(id)), MustChangePassword: true,
		CreatedAt: now, UpdatedAt: now}
	by := audit.Entry{ActorType: audit.ActorSystem, ActorID: "cli"}
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		if actorID != nil {
			if _, err := s.Require(tx, *actorID, ActStaffManage); err != nil {
				return err
			}
			by = staffActor(*actorID)
		}
		if err := row.validate(); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&staffRow{}).Where("email = ?", email).Count(&n).Error; err != nil {
			return internal(err, "check staff email")
		}
		if n > 0 {
			return problem.New(problem.CodeConflict, "a staff account with email %s already exists", email)
		}
		if err := tx.Create(row).Error; err != nil {
			return internal(err, "create staff")
		}
		return record(ctx, tx, by, "staff.created", row.ID, map[string]any{"email": email, "role": string(role)})
	})
	if err != nil {
		return nil, err
	}
	return &Created{Staff: row.member(), OneTimePassword: pw, TOTPSecret: key.Secret(), TOTPProvisionURI: key.URL()}, nil
}

func oneTimePassword() string {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		panic("staff: crypto/rand failed: " + err.Error())
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

// Login checks a staff member's password and TOTP code, throttled
// (internal/throttle, LoginPolicy) on the email — whether or not it has an
// account — and on the client address in ctx (throttle.WithClient): the
// attempt is counted before the password is checked, and refused unchecked
// over a limit. A code is accepted once: a code of the same or an earlier
// time step than the last accepted one is refused (replay). Errors:
// CodeUnauthorized (the same detail for every credential failure, unknown
// email included), CodeLockedOut (the same detail for unknown and known
// emails), CodeBusy. The returned member's MustChangePassword tells the
// console to ask for a new password.
func (s *Service) Login(ctx context.Context, email, password, code string) (*Member, error) {
	addr := throttle.Address(ctx)
	att, err := s.limiter().Begin(ctx, accountKey(email), addr)
	if err != nil {
		return nil, refused(err)
	}
	var st staffRow
	found := false
	if norm, err := NormaliseEmail(email); err == nil {
		switch err := s.db.WithContext(ctx).Where("email = ?", norm).Take(&st).Error; {
		case err == nil:
			found = true
		case !errors.Is(err, gorm.ErrRecordNotFound):
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
	failed := func(reason string) (*Member, error) {
		lock := att.Failed()
		if found {
			details := map[string]any{"reason": reason, "address": addr}
			var le *throttle.LockedError
			if errors.As(lock, &le) {
				details["locked_until"] = le.Until.UTC()
			}
			if err := s.db.Tx(ctx, func(tx *gorm.DB) error {
				return record(ctx, tx, staffActor(st.ID), "staff.login_failed", st.ID, details)
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
		s.log.Error("staff: TOTP secret does not open under its staff id", "staff", st.ID)
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
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		// Conditional on the last step so two nodes cannot both accept the same code.
		res := tx.Model(&staffRow{}).Where("id = ? AND last_totp_step < ?", st.ID, step).Updates(map[string]any{
			"last_totp_step": step, "updated_at": now})
		if res.Error != nil {
			return internal(res.Error, "record login")
		}
		if accepted = res.RowsAffected == 1; !accepted {
			return nil
		}
		return record(ctx, tx, staffActor(st.ID), "staff.logged_in", st.ID, map[string]any{"address": addr})
	})
	if err != nil {
		att.Cancel(ctx)
		return nil, err
	}
	if !accepted {
		return failed("totp_replay")
	}
	if err := att.Succeeded(ctx); err != nil {
		s.log.Warn("staff: reset sign-in throttle", "err", err)
	}
	return st.member(), nil
}

// ChangePassword sets a new password (the old one must match) and clears
// MustChangePassword. A wrong current password counts as a failed sign-in of
// the staff member from the client address in ctx (the current password is
// not guessable through this form either). Ending the staff member's other
// sessions is the caller's (the console's) part. Errors: CodeUnauthorized
// (old password wrong), CodeLockedOut, CodeBusy, CodeValidation (new password
// too short, or equal to the old one), CodeNotFound, CodeConflict (the
// password changed meanwhile).
func (s *Service) ChangePassword(ctx context.Context, staffID, oldPassword, newPassword string) error {
	if err := CheckPassword(newPassword); err != nil {
		return err
	}
	if oldPassword == newPassword {
		return invalid("the new password must differ from the old one")
	}
	st, err := s.load(s.db.WithContext(ctx), staffID)
	if err != nil {
		return err
	}
	att, err := s.limiter().Begin(ctx, st.Email, throttle.Address(ctx))
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
		s.log.Warn("staff: reset sign-in throttle", "err", err)
	}
	hash, err := secrets.HashPassword(newPassword)
	if errors.Is(err, secrets.ErrBusy) {
		return busy()
	}
	if err != nil {
		return internal(err, "hash password")
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&staffRow{}).Where("id = ? AND password_hash = ?", staffID, st.PasswordHash).Updates(map[string]any{
			"password_hash": hash, "must_change_password": false, "updated_at": s.clock()})
		if res.Error != nil {
			return internal(res.Error, "change password")
		}
		if res.RowsAffected != 1 {
			return problem.New(problem.CodeConflict, "the password was changed meanwhile; please sign in again")
		}
		return record(ctx, tx, staffActor(staffID), "staff.password_changed", staffID, nil)
	})
}

// ResealTOTP moves TOTP secrets sealed under the old fixed purpose
// ("staff-totp") to their staff member's own purpose (totpPurpose), so that
// a sealed secret copied onto another staff row no longer opens. It is
// idempotent and safe on many nodes at once (each row is rewritten only if
// unchanged since read); cmd runs it at every start. It returns how many
// secrets it re-sealed; a secret that opens under neither purpose is left
// alone and logged (sign-in with it fails).
func (s *Service) ResealTOTP(ctx context.Context) (int, error) {
	var rows []staffRow
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
			s.log.Error("staff: TOTP secret opens under no purpose", "staff", r.ID)
			continue
		}
		res := g.Model(&staffRow{}).Where("id = ? AND totp_secret_sealed = ?", r.ID, r.TOTPSecretSealed).
			Update("totp_secret_sealed", s.box.Seal(secret, totpPurpose(r.ID)))
		if res.Error != nil {
			return n, internal(res.Error, "re-seal staff TOTP secret")
		}
		n += int(res.RowsAffected)
	}
	return n, nil
}

func (s *Service) load(g *gorm.DB, staffID string) (*staffRow, error) {
	var st staffRow
	if err := g.Where("id = ?", staffID).Take(&st).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, problem.New(problem.CodeNotFound, "staff %s not found", staffID)
		}
		return nil, internal(err, "load staff")
	}
	return &st, nil
}

// Get returns a staff account, or CodeNotFound.
func (s *Service) Get(ctx context.Context, staffID string) (*Member, error) {
	st, err := s.load(s.db.WithContext(ctx), staffID)
	if err != nil {
		return nil, err
	}
	return st.member(), nil
}

// List lists staff accounts by email (the actor needs ActStaffManage).
// Errors: CodeForbidden.
func (s *Service) List(ctx context.Context, actorStaffID string) ([]Member, error) {
	g := s.db.WithContext(ctx)
	if _, err := s.Require(g, actorStaffID, ActStaffManage); err != nil {
		return nil, err
	}
	var rows []staffRow
	if err := g.Order("email").Find(&rows).Error; err != nil {
		return nil, internal(err, "list staff")
	}
	out := make([]Member, len(rows))
	for i := range rows {
		out[i] = *rows[i].member()
	}
	return out, nil
}

// Require loads, in tx (a transaction or a plain handle), a staff member
// whose role may do action. Errors: CodeForbidden ("unknown staff member
// stf_…", or "role R may not A").
func (s *Service) Require(tx *gorm.DB, staffID string, action Action) (*Member, error) {
	var st staffRow
	if err := tx.Where("id = ?", staffID).Take(&st).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, problem.New(problem.CodeForbidden, "unknown staff member %s", staffID)
		}
		return nil, internal(err, "load staff")
	}
	if !Can(st.Role, action) {
		return nil, Forbidden(st.Role, action)
	}
	return st.member(), nil
}

// Forbidden is the refusal of action to role: CodeForbidden "role R may not A".
func Forbidden(role Role, action Action) *problem.Error {
	return problem.New(problem.CodeForbidden, "role %s may not %s", role, action)
}

func staffActor(id string) audit.Entry { return audit.Entry{ActorType: audit.ActorStaff, ActorID: id} }

func record(ctx context.Context, tx *gorm.DB, by audit.Entry, action, staffID string, details map[string]any) error {
	e := by
	e.Action, e.ObjectType, e.ObjectID, e.Details = action, "staff", staffID, details
	return internal(audit.Record(ctx, tx, e), "audit")
}

// NormaliseEmail trims and lower-cases an email address and checks its form
// (the console's and the portal's rule). Errors: CodeValidation.
func NormaliseEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") && !strings.HasSuffix(s, "@localhost") {
		return "", invalid("email %q is not a valid address", s)
	}
	if len(s) > 254 {
		return "", invalid("email must be at most 254 characters")
	}
	return s, nil
}

// CheckPassword checks a new password's length (MinPasswordLength runes,
// at most 72 bytes: bcrypt's limit). Errors: CodeValidation.
func CheckPassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return invalid("password must be at least %d characters", MinPasswordLength)
	}
	if len(pw) > 72 {
		return invalid("password must be at most 72 bytes")
	}
	return nil
}

// accountKey is the throttle's name for the account an email names: the
// normalised email, or for input that is not an email the trimmed, lower-cased
// input (so nonsense is throttled like everything else).
func accountKey(email string) string {
	if norm, err := NormaliseEmail(email); err == nil {
		return norm
	}
	return strings.ToLower(strings.TrimSpace(email))
}

// Refused maps a throttle refusal to CodeLockedOut with LockedDetail (other
// errors: CodeInternal).
func Refused(err error) error { return refused(err) }

func refused(err error) error {
	var le *throttle.LockedError
	if errors.As(err, &le) {
		return problem.New(problem.CodeLockedOut, "%s", LockedDetail(le.Until)).With("locked_until", le.Until.UTC())
	}
	return internal(err, "count sign-in attempt")
}

// LockedDetail is the detail of every sign-in lockout: the same whichever
// counter refused, and for unknown accounts as for known ones.
func LockedDetail(until time.Time) string {
	return fmt.Sprintf("too many failed sign-in attempts; please try again after %s UTC", until.UTC().Format("15:04"))
}

func busy() error { return problem.New(problem.CodeBusy, busyDetail) }

func invalid(format string, args ...any) *problem.Error {
	return problem.New(problem.CodeValidation, format, args...)
}

// internal wraps an unexpected storage error (problem.Internal).
func internal(err error, what string) error { return problem.Internal(err, what) }
