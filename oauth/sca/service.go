package sca

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
)

// ThrottleSurface is the internal/throttle surface of second-factor codes
// (TOTP and recovery codes): its counters are shared with no other surface.
const ThrottleSurface = "customer-sca"

// DefaultPolicy is the throttle of second-factor codes: 5 wrong codes in 15
// minutes lock the customer's second factor for the rest of the 15 minutes,
// whatever the addresses they came from (Account) and at any one address
// (AccountAddress); one address may spend 20 wrong codes in 15 minutes
// across all customers (Address). A correct code resets the customer's
// counters.
var DefaultPolicy = throttle.Policy{
	Address:        throttle.Rule{Limit: 20, Window: 15 * time.Minute},
	AccountAddress: throttle.Rule{Limit: 5, Window: 15 * time.Minute},
	Account:        throttle.Rule{Limit: 5, Window: 15 * time.Minute},
}

// TOTP parameters (RFC 6238): SHA-1, 6 digits, 30-second steps, a code of
// the previous or next step accepted too.
const (
	TOTPIssuer = "Bankbridge"
	totpPeriod = 30
	totpSkew   = 1
)

// DefaultConfirmationTTL is how long a confirmation may wait to be
// consumed (PSD2 RTS art. 4(3)(d): at most 5 minutes of inactivity).
const DefaultConfirmationTTL = 5 * time.Minute

// RecoveryCodeCount is how many recovery codes GenerateRecoveryCodes makes.
const RecoveryCodeCount = 10

// Config is what a Service is built from.
type Config struct {
	Store Store
	// Box seals TOTP secrets (purpose "customer-totp:" + customer id).
	Box *secrets.Box
	// Throttle counts wrong codes (surface ThrottleSurface).
	Throttle *throttle.Store
	// Policy is the code throttle; zero means DefaultPolicy.
	Policy throttle.Policy
	// Settings are the bank's exemption settings.
	Settings Settings
	// ConfirmationTTL is how long a confirmation lasts; zero means
	// DefaultConfirmationTTL.
	ConfirmationTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service is the customers' second factors, confirmations and exemptions.
type Service struct {
	store    Store
	box      *secrets.Box
	limiter  *throttle.Limiter
	settings Settings
	ttl      time.Duration
	now      func() time.Time
}

// New returns the Service of c. It refuses a Config without Store, Box or
// Throttle, or whose Settings do not validate.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Box == nil || c.Throttle == nil {
		return nil, fmt.Errorf("%w: sca.New needs a Store, a Box and a Throttle", ErrInvalid)
	}
	if err := c.Settings.Validate(); err != nil {
		return nil, err
	}
	if c.Policy == (throttle.Policy{}) {
		c.Policy = DefaultPolicy
	}
	if c.ConfirmationTTL <= 0 {
		c.ConfirmationTTL = DefaultConfirmationTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Service{store: c.Store, box: c.Box, limiter: c.Throttle.Limiter(ThrottleSurface, c.Policy),
		settings: c.Settings, ttl: c.ConfirmationTTL, now: c.Now}, nil
}

func (s *Service) clock() time.Time { return s.now().UTC() }

// Settings are the bank's exemption settings the Service applies.
func (s *Service) Settings() Settings { return s.settings }

func needCustomer(customerID string) error {
	if strings.TrimSpace(customerID) == "" {
		return fmt.Errorf("%w: customer id is empty", ErrInvalid)
	}
	return nil
}

// totpPurpose binds a sealed TOTP secret to its customer.
func totpPurpose(customerID string) string { return "customer-totp:" + customerID }

// BeginTOTP starts setting up an authenticator app for the customer: a new
// random 160-bit secret, stored sealed as pending (replacing a pending one)
// until ConfirmTOTP. username labels the otpauth URI
// ("otpauth://totp/Bankbridge:username?…"). Errors: ErrInvalid (empty
// customer id or username), ErrTOTPEnrolled (an app is already set up).
func (s *Service) BeginTOTP(ctx context.Context, customerID, username string) (TOTPEnrollment, error) {
	if err := needCustomer(customerID); err != nil {
		return TOTPEnrollment{}, err
	}
	if strings.TrimSpace(username) == "" {
		return TOTPEnrollment{}, fmt.Errorf("%w: username is empty", ErrInvalid)
	}
	key, err := totpKey(username, nil)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	sealed := s.box.Seal([]byte(key.Secret()), totpPurpose(customerID))
	if err := s.store.PutPendingTOTP(ctx, customerID, sealed, s.clock()); err != nil {
		return TOTPEnrollment{}, err
	}
	return TOTPEnrollment{Secret: key.Secret(), URI: key.URL()}, nil
}

// minTOTPSecret is the shortest secret EnrollTOTP takes: 128 bits (RFC
// 4226 section 4, R6; this package generates 160).
const minTOTPSecret = 16

// b32 is RFC 4648 base32 without padding, as otpauth URIs carry secrets.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpKey is the authenticator-app key of username (issuer TOTPIssuer,
// SHA-1, 6 digits, 30-second steps) with secret raw, or a random 160-bit
// secret when raw is nil.
func totpKey(username string, raw []byte) (*otp.Key, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: username, Period: totpPeriod,
		SecretSize: 20, Secret: raw, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("sca: generate TOTP key: %w", err)
	}
	return key, nil
}

// decodeTOTPSecret decodes a base32 secret (any case, spaces and padding
// ignored) of at least minTOTPSecret bytes. Errors: ErrInvalid.
func decodeTOTPSecret(secret string) ([]byte, error) {
	s := strings.TrimRight(strings.ToUpper(strings.ReplaceAll(secret, " ", "")), "=")
	raw, err := b32.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: TOTP secret is not base32", ErrInvalid)
	}
	if len(raw) < minTOTPSecret {
		return nil, fmt.Errorf("%w: TOTP secret has %d bits, at least %d are needed", ErrInvalid, 8*len(raw), 8*minTOTPSecret)
	}
	return raw, nil
}

// TOTPURI is the otpauth://totp/… key URI of an authenticator app with
// the base32 secret, labelled username, as BeginTOTP and EnrollTOTP give
// it (for a QR code or a link). Errors: ErrInvalid (empty username, a
// secret that is not base32 or shorter than 128 bits).
func TOTPURI(username, secret string) (string, error) {
	if strings.TrimSpace(username) == "" {
		return "", fmt.Errorf("%w: username is empty", ErrInvalid)
	}
	raw, err := decodeTOTPSecret(secret)
	if err != nil {
		return "", err
	}
	key, err := totpKey(username, raw)
	if err != nil {
		return "", err
	}
	return key.URL(), nil
}

// EnrollTOTP sets up an active authenticator app for the customer at once,
// with the base32 secret (any case, spaces and padding ignored; at least
// 128 bits), or a new random 160-bit secret when secret is "". It is for
// operators who hold the secret themselves (`bankbridge customers create
// --totp`, the sandbox personas): unlike BeginTOTP and ConfirmTOTP, no
// code proves that an app holds the secret, so it is never offered on a
// customer's own pages. The secret is stored sealed; no time step counts
// as used yet. A pending app is replaced. The returned enrollment carries
// the secret in canonical form (upper case, no padding) and its otpauth
// URI labelled username. Errors: ErrInvalid (empty customer id or
// username, a bad secret), ErrTOTPEnrolled (an app is already active; it
// is kept).
func (s *Service) EnrollTOTP(ctx context.Context, customerID, username, secret string) (TOTPEnrollment, error) {
	if err := needCustomer(customerID); err != nil {
		return TOTPEnrollment{}, err
	}
	if strings.TrimSpace(username) == "" {
		return TOTPEnrollment{}, fmt.Errorf("%w: username is empty", ErrInvalid)
	}
	var raw []byte
	if secret != "" {
		var err error
		if raw, err = decodeTOTPSecret(secret); err != nil {
			return TOTPEnrollment{}, err
		}
	}
	key, err := totpKey(username, raw)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	sealed := s.box.Seal([]byte(key.Secret()), totpPurpose(customerID))
	now := s.clock()
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		if err := s.store.PutPendingTOTP(ctx, customerID, sealed, now); err != nil {
			return err
		}
		return s.store.ActivateTOTP(ctx, customerID, sealed, 0, now)
	})
	if err != nil {
		return TOTPEnrollment{}, err
	}
	return TOTPEnrollment{Secret: key.Secret(), URI: key.URL()}, nil
}

// totpStep is the time step within ±totpSkew of now whose code is code
// (the latest, when several match), or 0; each candidate is compared in
// constant time.
func totpStep(secret, code string, now time.Time) int64 {
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != 6 {
		return 0
	}
	cur := now.Unix() / totpPeriod
	var found int64
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0).UTC(),
			totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found = step
		}
	}
	return found
}

// ConfirmTOTP activates the customer's pending authenticator app with a
// code from it; the code's time step counts as used. It is not throttled:
// the pending secret is the customer's own, just shown to them, so guessing
// its codes gains nothing. Errors: ErrInvalid, ErrNoTOTP (no pending app,
// or it was replaced meanwhile), ErrInvalidCode.
func (s *Service) ConfirmTOTP(ctx context.Context, customerID, code string) error {
	if err := needCustomer(customerID); err != nil {
		return err
	}
	rec, err := s.store.TOTP(ctx, customerID)
	if errors.Is(err, ErrNotFound) || err == nil && rec.Active {
		return ErrNoTOTP
	}
	if err != nil {
		return err
	}
	secret, err := s.box.Open(rec.SecretSealed, totpPurpose(customerID))
	if err != nil {
		return fmt.Errorf("sca: open TOTP secret of %s: %w", customerID, err)
	}
	now := s.clock()
	step := totpStep(string(secret), code, now)
	if step == 0 {
		return ErrInvalidCode
	}
	if err := s.store.ActivateTOTP(ctx, customerID, rec.SecretSealed, step, now); errors.Is(err, ErrNotFound) {
		return ErrNoTOTP
	} else if err != nil {
		return err
	}
	return nil
}

// fail reports a wrong code on att: err, joined with the
// *throttle.LockedError when this failure spent the budget (the next code
// will be refused unchecked).
func fail(att *throttle.Attempt, err error) error {
	if lock := att.Failed(); lock != nil {
		return errors.Join(err, lock)
	}
	return err
}

// VerifyTOTP checks a code of the customer's authenticator app as a second
// factor, from client address addr (throttle.ClientAddress). The attempt
// is counted before the code is checked (DefaultPolicy: 5 wrong codes lock
// the customer's second factor for 15 minutes, on every node). A code is
// accepted once: its time step is recorded with a conditional update, so
// neither that code nor one of the same or an earlier step is accepted
// again, even by two nodes racing. Errors: ErrInvalid, a
// *throttle.LockedError (errors.Is throttle.ErrLocked; no code was
// checked), ErrNoTOTP, ErrInvalidCode, ErrCodeUsed; a wrong code that spent
// the budget is ErrInvalidCode or ErrCodeUsed joined with the
// *throttle.LockedError.
func (s *Service) VerifyTOTP(ctx context.Context, customerID, code, addr string) error {
	if err := needCustomer(customerID); err != nil {
		return err
	}
	att, err := s.limiter.Begin(ctx, customerID, addr)
	if err != nil {
		return err
	}
	rec, err := s.store.TOTP(ctx, customerID)
	if errors.Is(err, ErrNotFound) || err == nil && !rec.Active {
		att.Cancel(ctx)
		return ErrNoTOTP
	}
	if err != nil {
		att.Cancel(ctx)
		return err
	}
	secret, err := s.box.Open(rec.SecretSealed, totpPurpose(customerID))
	if err != nil {
		att.Cancel(ctx)
		return fmt.Errorf("sca: open TOTP secret of %s: %w", customerID, err)
	}
	now := s.clock()
	step := totpStep(string(secret), code, now)
	switch {
	case step == 0:
		return fail(att, ErrInvalidCode)
	case step <= rec.LastStep:
		return fail(att, ErrCodeUsed)
	}
	if err := s.store.AdvanceTOTPStep(ctx, customerID, step, now); errors.Is(err, ErrCodeUsed) {
		return fail(att, ErrCodeUsed)
	} else if err != nil {
		att.Cancel(ctx)
		return err
	}
	// A counter that fails to reset only expires with its window.
	_ = att.Succeeded(ctx)
	return nil
}

// ConfirmWithTOTP is VerifyTOTP followed, when the code is accepted, by
// RecordConfirmation of the interaction with linkHash and MethodTOTP at the
// Service's clock: the customer's code confirms what linkHash binds.
// Errors: those of VerifyTOTP and RecordConfirmation.
func (s *Service) ConfirmWithTOTP(ctx context.Context, interactionID, customerID, linkHash, code, addr string) error {
	if err := s.checkConfirmationArgs(interactionID, customerID, linkHash, MethodTOTP); err != nil {
		return err
	}
	if err := s.VerifyTOTP(ctx, customerID, code, addr); err != nil {
		return err
	}
	return s.RecordConfirmation(ctx, interactionID, customerID, linkHash, MethodTOTP, s.clock())
}

// ConfirmWithRecoveryCode is UseRecoveryCode followed, when the code is
// accepted, by RecordConfirmation of the interaction with linkHash and
// MethodRecovery at the Service's clock. It returns how many unused codes
// are left. Errors: those of UseRecoveryCode and RecordConfirmation.
func (s *Service) ConfirmWithRecoveryCode(ctx context.Context, interactionID, customerID, linkHash, code, addr string) (int, error) {
	if err := s.checkConfirmationArgs(interactionID, customerID, linkHash, MethodRecovery); err != nil {
		return 0, err
	}
	n, err := s.UseRecoveryCode(ctx, customerID, code, addr)
	if err != nil {
		return 0, err
	}
	return n, s.RecordConfirmation(ctx, interactionID, customerID, linkHash, MethodRecovery, s.clock())
}

// RemoveTOTP removes the customer's authenticator app, active or pending
// (the caller asks for a fresh authentication first). Errors: ErrInvalid,
// ErrNoTOTP.
func (s *Service) RemoveTOTP(ctx context.Context, customerID string) error {
	if err := needCustomer(customerID); err != nil {
		return err
	}
	if err := s.store.DeleteTOTP(ctx, customerID); errors.Is(err, ErrNotFound) {
		return ErrNoTOTP
	} else if err != nil {
		return err
	}
	return nil
}

// recoveryAlphabet is Crockford's base32 in lower case: 32 symbols, so a
// 12-symbol code holds 60 random bits; no i, l, o or u to misread.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// newRecoveryCode returns a random code "xxxx-xxxx-xxxx" (60 bits).
func newRecoveryCode() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sca: crypto/rand failed: " + err.Error())
	}
	var out strings.Builder
	for i, v := range b {
		if i > 0 && i%4 == 0 {
			out.WriteByte('-')
		}
		out.WriteByte(recoveryAlphabet[v&31]) // 256 is a multiple of 32: uniform
	}
	return out.String()
}

// normaliseRecoveryCode returns code's 12 symbols (case, hyphens and spaces
// ignored; i and l read as 1, o as 0), or "" when it is not a recovery code.
func normaliseRecoveryCode(code string) string {
	var out strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r == 'i' || r == 'l':
			r = '1'
		case r == 'o':
			r = '0'
		}
		if !strings.ContainsRune(recoveryAlphabet, r) || out.Len() == 12 {
			return ""
		}
		out.WriteRune(r)
	}
	if out.Len() != 12 {
		return ""
	}
	return out.String()
}

// hashRecoveryCode is the stored form of a normalised code: hex SHA-256
// over the customer id and the code. A plain fast hash is enough here, as
// the code is 60 random bits: a stolen table would need ~2^59 guesses per
// code, which no salt or slow hash is needed to make out of reach; the
// customer id in the hash keeps equal codes of two customers apart.
func hashRecoveryCode(customerID, normalised string) string {
	h := sha256.New()
	h.Write([]byte("bankbridge/sca/recovery-code/v1\x00"))
	h.Write([]byte(customerID))
	h.Write([]byte{0})
	h.Write([]byte(normalised))
	return hex.EncodeToString(h.Sum(nil))
}

// GenerateRecoveryCodes makes RecoveryCodeCount new recovery codes
// ("xxxx-xxxx-xxxx", 60 random bits each) for the customer, replacing the
// old set, and returns them: they are shown once and stored hashed.
// Errors: ErrInvalid.
func (s *Service) GenerateRecoveryCodes(ctx context.Context, customerID string) ([]string, error) {
	if err := needCustomer(customerID); err != nil {
		return nil, err
	}
	codes := make([]string, 0, RecoveryCodeCount)
	hashes := make([]string, 0, RecoveryCodeCount)
	seen := map[string]bool{}
	for len(codes) < RecoveryCodeCount {
		c := newRecoveryCode()
		h := hashRecoveryCode(customerID, normaliseRecoveryCode(c))
		if seen[h] {
			continue
		}
		seen[h] = true
		codes = append(codes, c)
		hashes = append(hashes, h)
	}
	if err := s.store.ReplaceRecoveryCodes(ctx, customerID, hashes, s.clock()); err != nil {
		return nil, err
	}
	return codes, nil
}

// UseRecoveryCode accepts one of the customer's recovery codes as a second
// factor (amr AMRRecovery), once, from client address addr, throttled
// together with TOTP codes (VerifyTOTP). It returns how many unused codes
// are left. Errors: ErrInvalid, a *throttle.LockedError,
// ErrInvalidRecoveryCode, ErrRecoveryCodeUsed (either joined with the
// *throttle.LockedError when it spent the budget).
func (s *Service) UseRecoveryCode(ctx context.Context, customerID, code, addr string) (int, error) {
	if err := needCustomer(customerID); err != nil {
		return 0, err
	}
	att, err := s.limiter.Begin(ctx, customerID, addr)
	if err != nil {
		return 0, err
	}
	norm := normaliseRecoveryCode(code)
	if norm == "" {
		return 0, fail(att, ErrInvalidRecoveryCode)
	}
	switch err := s.store.UseRecoveryCode(ctx, customerID, hashRecoveryCode(customerID, norm), s.clock()); {
	case errors.Is(err, ErrInvalidRecoveryCode), errors.Is(err, ErrRecoveryCodeUsed):
		return 0, fail(att, err)
	case err != nil:
		att.Cancel(ctx)
		return 0, err
	}
	_ = att.Succeeded(ctx) // a counter that fails to reset only expires with its window
	st, err := s.store.RecoveryCodes(ctx, customerID)
	if err != nil {
		return 0, err
	}
	return st.Remaining, nil
}

// Factors lists the second factors the customer has enrolled, without
// secrets: the active authenticator app (a pending one is not enrolled),
// then the recovery codes. Errors: ErrInvalid.
func (s *Service) Factors(ctx context.Context, customerID string) ([]Factor, error) {
	if err := needCustomer(customerID); err != nil {
		return nil, err
	}
	var out []Factor
	rec, err := s.store.TOTP(ctx, customerID)
	switch {
	case err == nil && rec.Active:
		created := rec.CreatedAt
		if rec.ConfirmedAt != nil {
			created = *rec.ConfirmedAt
		}
		out = append(out, Factor{Kind: KindTOTP, Name: "Authenticator app", CreatedAt: created, LastUsedAt: rec.LastUsedAt})
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, err
	}
	st, err := s.store.RecoveryCodes(ctx, customerID)
	switch {
	case err == nil:
		out = append(out, Factor{Kind: KindRecoveryCodes, Name: "Recovery codes", CreatedAt: st.CreatedAt,
			LastUsedAt: st.LastUsedAt, Remaining: st.Remaining})
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	return out, nil
}

// Enrolment reports, in one read, whether the customer's authenticator app
// is active and how many unused recovery codes they have. Errors:
// ErrInvalid.
func (s *Service) Enrolment(ctx context.Context, customerID string) (Enrolment, error) {
	if err := needCustomer(customerID); err != nil {
		return Enrolment{}, err
	}
	return s.store.Enrolment(ctx, customerID)
}

// HasSecondFactor reports whether the customer has an active
// authenticator app. Recovery codes do not count: they are the fallback
// for a lost factor, not a factor to enrol instead of one (passkeys are
// package oauth/passkeys; the caller asks both). Errors: ErrInvalid.
func (s *Service) HasSecondFactor(ctx context.Context, customerID string) (bool, error) {
	if err := needCustomer(customerID); err != nil {
		return false, err
	}
	rec, err := s.store.TOTP(ctx, customerID)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return rec.Active, nil
}

func validLinkHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}

// RecordConfirmation records that the customer performed SCA by method
// (MethodTOTP, MethodWebAuthn, MethodRecovery) at at, confirming what
// linkHash (LinkHash) binds, for the interaction; it replaces an
// unconsumed confirmation of the same interaction and lasts the Service's
// ConfirmationTTL from at. Its AMR is AMRTOTP for a code, "" for
// MethodWebAuthn (ConfirmWithWebAuthn records a passkey's). Errors:
// ErrInvalid (empty id, unknown method, a link hash that is not lower-case
// hex SHA-256), ErrConfirmationUsed
// (the interaction's confirmation was consumed, or is another
// customer's).
func (s *Service) RecordConfirmation(ctx context.Context, interactionID, customerID, linkHash, method string, at time.Time) error {
	if err := s.checkConfirmationArgs(interactionID, customerID, linkHash, method); err != nil {
		return err
	}
	amr := ""
	if method == MethodTOTP || method == MethodRecovery {
		amr = AMRTOTP
	}
	return s.putConfirmation(ctx, interactionID, customerID, linkHash, method, amr, at)
}

// putConfirmation stores a confirmation made at at, lasting the Service's
// ConfirmationTTL.
func (s *Service) putConfirmation(ctx context.Context, interactionID, customerID, linkHash, method, amr string, at time.Time) error {
	at = at.UTC()
	return s.store.PutConfirmation(ctx, Confirmation{InteractionID: interactionID, CustomerID: customerID,
		LinkHash: linkHash, Method: method, AMR: amr, ConfirmedAt: at, ExpiresAt: at.Add(s.ttl)})
}

// ConfirmWithWebAuthn confirms what linkHash binds for the interaction
// with one of the customer's passkeys, from client address addr, throttled
// together with TOTP and recovery codes (VerifyTOTP: 5 refusals lock the
// customer's second factor, on every node). The attempt is counted, then
// verify checks the assertion (oauth/passkeys' FinishLogin, with the same
// link hash) and returns its amr: AMRHardwareKey or AMRSoftwareKey. A
// refusal of verify must wrap ErrInvalidAssertion: it counts as a wrong
// code; any other error of verify (storage) is returned uncounted. On
// success the confirmation is recorded with MethodWebAuthn and the amr, at
// the Service's clock. Errors: ErrInvalid (arguments; an amr that is not a
// key's), a *throttle.LockedError (errors.Is throttle.ErrLocked; verify was
// not called), verify's ErrInvalidAssertion (joined with the
// *throttle.LockedError when it spent the budget), those of
// RecordConfirmation.
func (s *Service) ConfirmWithWebAuthn(ctx context.Context, interactionID, customerID, linkHash, addr string, verify func(ctx context.Context) (amr string, err error)) error {
	if err := s.checkConfirmationArgs(interactionID, customerID, linkHash, MethodWebAuthn); err != nil {
		return err
	}
	att, err := s.limiter.Begin(ctx, customerID, addr)
	if err != nil {
		return err
	}
	amr, err := verify(ctx)
	switch {
	case errors.Is(err, ErrInvalidAssertion):
		return fail(att, err)
	case err != nil:
		att.Cancel(ctx)
		return err
	case amr != AMRHardwareKey && amr != AMRSoftwareKey:
		att.Cancel(ctx)
		return fmt.Errorf("%w: passkey amr %q is neither %q nor %q", ErrInvalid, amr, AMRHardwareKey, AMRSoftwareKey)
	}
	_ = att.Succeeded(ctx) // a counter that fails to reset only expires with its window
	return s.putConfirmation(ctx, interactionID, customerID, linkHash, MethodWebAuthn, amr, s.clock())
}

// checkConfirmationArgs reports the ErrInvalid of RecordConfirmation.
func (s *Service) checkConfirmationArgs(interactionID, customerID, linkHash, method string) error {
	if err := needCustomer(customerID); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(interactionID) == "":
		return fmt.Errorf("%w: interaction id is empty", ErrInvalid)
	case !validLinkHash(linkHash):
		return fmt.Errorf("%w: link hash is not a hex SHA-256", ErrInvalid)
	case method != MethodTOTP && method != MethodWebAuthn && method != MethodRecovery:
		return fmt.Errorf("%w: unknown confirmation method %q", ErrInvalid, method)
	}
	return nil
}

// CheckConfirmation consumes the customer's confirmation of the
// interaction when what it confirmed is what is being authorised now
// (currentLinkHash: LinkHash of the consent, amount and payee as they are
// now). It succeeds once. A different hash voids the confirmation for
// good. Errors: ErrInvalid, ErrNoConfirmation, ErrConfirmationVoided,
// ErrConfirmationUsed, ErrConfirmationExpired.
func (s *Service) CheckConfirmation(ctx context.Context, interactionID, customerID, currentLinkHash string) (Confirmation, error) {
	if err := needCustomer(customerID); err != nil {
		return Confirmation{}, err
	}
	if strings.TrimSpace(interactionID) == "" {
		return Confirmation{}, fmt.Errorf("%w: interaction id is empty", ErrInvalid)
	}
	return s.store.ConsumeConfirmation(ctx, interactionID, customerID, currentLinkHash, s.clock())
}

// TrustPayee adds the payee to the customer's trusted payees (keyed by its
// account, normalised: white space dropped, upper case), renaming it when
// it is there. Errors: ErrInvalid (empty customer id or payee name, invalid
// account).
func (s *Service) TrustPayee(ctx context.Context, customerID string, p Payee) error {
	if err := needCustomer(customerID); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	return s.store.TrustPayee(ctx, customerID, p, s.clock())
}

// UntrustPayee removes the account from the customer's trusted payees.
// Errors: ErrInvalid, ErrNotFound.
func (s *Service) UntrustPayee(ctx context.Context, customerID string, a Account) error {
	if err := needCustomer(customerID); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	return s.store.UntrustPayee(ctx, customerID, a)
}

// TrustedPayees lists the customer's trusted payees, oldest first.
// Errors: ErrInvalid.
func (s *Service) TrustedPayees(ctx context.Context, customerID string) ([]TrustedPayee, error) {
	if err := needCustomer(customerID); err != nil {
		return nil, err
	}
	return s.store.TrustedPayees(ctx, customerID)
}

// DecidePayment applies the bank's settings (Decide) to a payment of the
// customer, with the customer's trusted payees and counters since the last
// SCA from the store; own are the customer's own accounts. A low-value
// decision still has to be claimed with RecordExempted once the payment
// goes ahead. Errors: ErrInvalid.
func (s *Service) DecidePayment(ctx context.Context, customerID string, amount money.Money, payee Payee, own []Account) (Decision, error) {
	if err := needCustomer(customerID); err != nil {
		return Decision{}, err
	}
	in := Input{Amount: amount, Payee: payee, OwnAccounts: own}
	if s.settings.TrustedBeneficiaries && payee.Account().Validate() == nil {
		ok, err := s.store.IsTrusted(ctx, customerID, payee.Account())
		if err != nil {
			return Decision{}, err
		}
		in.PayeeTrusted = ok
	}
	if s.settings.LowValue.Enabled {
		c, err := s.store.ExemptionCounters(ctx, customerID)
		if err != nil {
			return Decision{}, err
		}
		in.Since = c
	}
	return Decide(s.settings, in), nil
}

// RecordExempted counts a payment made under the low-value exemption
// against the customer's counters since the last SCA, atomically and only
// within the bank's low-value limits of its currency (so two nodes racing
// cannot both spend the last allowance). Errors: ErrInvalid,
// ErrExemptionExhausted (the payment now needs SCA; nothing was counted).
func (s *Service) RecordExempted(ctx context.Context, customerID string, amount money.Money) error {
	if err := needCustomer(customerID); err != nil {
		return err
	}
	lv := s.settings.LowValue
	lim, ok := lv.Limits[amount.Currency]
	if !lv.Enabled || !ok || amount.Minor <= 0 || amount.Minor > lim.Single {
		return ErrExemptionExhausted
	}
	return s.store.AddExempted(ctx, customerID, LowValueClaim{Amount: amount, MaxCount: lv.MaxCount, Cumulative: lim.Cumulative}, s.clock())
}

// ResetAfterSCA zeroes the customer's low-value counters: call it when the
// customer performed SCA. Errors: ErrInvalid.
func (s *Service) ResetAfterSCA(ctx context.Context, customerID string) error {
	if err := needCustomer(customerID); err != nil {
		return err
	}
	return s.store.ResetExempted(ctx, customerID)
}
