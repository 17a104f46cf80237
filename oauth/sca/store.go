package sca

import (
	"context"
	"errors"
	"time"

	"github.com/bankbridge/bankbridge/internal/money"
)

// The errors of this package, matched with errors.Is.
var (
	// ErrInvalid is a malformed argument (empty customer id, unknown
	// method, invalid account); the wrapping error says which.
	ErrInvalid = errors.New("sca: invalid argument")
	// ErrNotFound is a factor, code or trusted payee the customer does not
	// have.
	ErrNotFound = errors.New("sca: not found")
	// ErrTOTPEnrolled is BeginTOTP for a customer whose TOTP factor is
	// already active: remove it first.
	ErrTOTPEnrolled = errors.New("sca: an authenticator app is already set up")
	// ErrNoTOTP is a TOTP check for a customer without an active TOTP
	// factor (ConfirmTOTP: without a pending one).
	ErrNoTOTP = errors.New("sca: no authenticator app is set up")
	// ErrInvalidCode is a TOTP code that matches no time step within ±1
	// step of now.
	ErrInvalidCode = errors.New("sca: wrong authenticator code")
	// ErrCodeUsed is a TOTP code of a time step already accepted, or of an
	// earlier one: each code is accepted once.
	ErrCodeUsed = errors.New("sca: authenticator code already used")
	// ErrInvalidRecoveryCode is a recovery code the customer does not have.
	ErrInvalidRecoveryCode = errors.New("sca: wrong recovery code")
	// ErrRecoveryCodeUsed is a recovery code that was used already.
	ErrRecoveryCodeUsed = errors.New("sca: recovery code already used")
	// ErrInvalidAssertion is a passkey assertion the caller's verifier
	// refused (ConfirmWithWebAuthn): it counts as a wrong code. The
	// verifier's own refusal is wrapped behind it.
	ErrInvalidAssertion = errors.New("sca: passkey assertion refused")
	// ErrNoConfirmation is CheckConfirmation for an interaction the
	// customer confirmed nothing for.
	ErrNoConfirmation = errors.New("sca: no confirmation for this interaction")
	// ErrConfirmationVoided is a confirmation whose linked consent, amount
	// or payee changed since it was made: it is void, now and later.
	ErrConfirmationVoided = errors.New("sca: confirmation voided: the payment changed after it was confirmed")
	// ErrConfirmationUsed is a confirmation already consumed.
	ErrConfirmationUsed = errors.New("sca: confirmation already used")
	// ErrConfirmationExpired is a confirmation past its ExpiresAt.
	ErrConfirmationExpired = errors.New("sca: confirmation expired")
	// ErrExemptionExhausted is RecordExempted when the payment would take
	// the customer's low-value counters since the last SCA past a limit.
	ErrExemptionExhausted = errors.New("sca: low-value exemption limits reached")
)

// TOTPRecord is a customer's stored TOTP factor.
type TOTPRecord struct {
	CustomerID string
	// SecretSealed is the base32 secret sealed with secrets.Box under
	// totpPurpose(CustomerID).
	SecretSealed string
	// Active is false while the factor is pending (BeginTOTP, not yet
	// ConfirmTOTP).
	Active bool
	// LastStep is the last accepted RFC 6238 time step (0: none).
	LastStep    int64
	CreatedAt   time.Time
	ConfirmedAt *time.Time
	LastUsedAt  *time.Time
}

// Enrolment is what the authorization flow needs to know of a customer's
// factors in this package: an active authenticator app, and the recovery
// codes left.
type Enrolment struct {
	TOTPActive        bool
	RecoveryRemaining int
}

// RecoveryCodesState is a summary of a customer's recovery codes.
type RecoveryCodesState struct {
	Total      int
	Remaining  int
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// LowValueClaim is the conditional write of RecordExempted: add Amount to
// the counters only while the count stays at most MaxCount and the
// currency's sum at most Cumulative.
type LowValueClaim struct {
	Amount     money.Money
	MaxCount   int
	Cumulative int64
}

// Store keeps the SCA state. Every method called with a ctx from Tx joins
// that transaction; any other error than those named is a storage error.
type Store interface {
	// Tx runs fn in one transaction (a nested Tx joins the outer one).
	Tx(ctx context.Context, fn func(ctx context.Context) error) error

	// PutPendingTOTP stores a pending TOTP factor, replacing a pending one.
	// Errors: ErrTOTPEnrolled when the customer's factor is active.
	PutPendingTOTP(ctx context.Context, customerID, secretSealed string, at time.Time) error
	// TOTP returns the customer's TOTP factor, pending or active.
	// Errors: ErrNotFound.
	TOTP(ctx context.Context, customerID string) (TOTPRecord, error)
	// ActivateTOTP activates the pending factor whose sealed secret is
	// secretSealed, recording step as its last accepted step (the factor
	// stays never used: LastUsedAt nil).
	// Errors: ErrNotFound when there is no such pending factor (replaced
	// or confirmed meanwhile).
	ActivateTOTP(ctx context.Context, customerID, secretSealed string, step int64, at time.Time) error
	// AdvanceTOTPStep records step as the last accepted step of the
	// customer's active factor, only if it is later than the stored one
	// (one conditional update). Errors: ErrCodeUsed when it is not (or the
	// factor is gone).
	AdvanceTOTPStep(ctx context.Context, customerID string, step int64, at time.Time) error
	// DeleteTOTP removes the customer's TOTP factor, pending or active.
	// Errors: ErrNotFound.
	DeleteTOTP(ctx context.Context, customerID string) error

	// ReplaceRecoveryCodes replaces the customer's recovery codes with
	// hashes (hex SHA-256, see hashRecoveryCode).
	ReplaceRecoveryCodes(ctx context.Context, customerID string, hashes []string, at time.Time) error
	// UseRecoveryCode marks the code with hash used (one conditional
	// update). Errors: ErrInvalidRecoveryCode (no such code),
	// ErrRecoveryCodeUsed.
	UseRecoveryCode(ctx context.Context, customerID, hash string, at time.Time) error
	// RecoveryCodes summarises the customer's recovery codes.
	// Errors: ErrNotFound when there are none.
	RecoveryCodes(ctx context.Context, customerID string) (RecoveryCodesState, error)
	// Enrolment is whether the customer's authenticator app is active and
	// how many unused recovery codes they have, in one read (the
	// authorization flow asks it on every page).
	Enrolment(ctx context.Context, customerID string) (Enrolment, error)

	// PutConfirmation stores c, replacing an unconsumed confirmation of
	// the same interaction and customer. Errors: ErrConfirmationUsed when
	// the interaction's confirmation was consumed (or belongs to another
	// customer).
	PutConfirmation(ctx context.Context, c Confirmation) error
	// ConsumeConfirmation consumes the interaction's confirmation when it
	// belongs to customerID, is unexpired at at, unconsumed, not voided
	// and its link hash is linkHash (one conditional update); a hash that
	// differs voids it for good. Errors: ErrNoConfirmation,
	// ErrConfirmationVoided, ErrConfirmationUsed, ErrConfirmationExpired.
	ConsumeConfirmation(ctx context.Context, interactionID, customerID, linkHash string, at time.Time) (Confirmation, error)
	// PurgeConfirmations deletes confirmations that expired before cutoff.
	PurgeConfirmations(ctx context.Context, cutoff time.Time) (int64, error)

	// TrustPayee adds p (account normalised) to the customer's trusted
	// payees, renaming it if it is there.
	TrustPayee(ctx context.Context, customerID string, p Payee, at time.Time) error
	// UntrustPayee removes the account (normalised) from the customer's
	// trusted payees. Errors: ErrNotFound.
	UntrustPayee(ctx context.Context, customerID string, a Account) error
	// TrustedPayees lists the customer's trusted payees, oldest first.
	TrustedPayees(ctx context.Context, customerID string) ([]TrustedPayee, error)
	// IsTrusted reports whether the account (normalised) is a trusted
	// payee of the customer.
	IsTrusted(ctx context.Context, customerID string, a Account) (bool, error)

	// ExemptionCounters returns the customer's low-value counters since
	// the last SCA (zero when none).
	ExemptionCounters(ctx context.Context, customerID string) (Counters, error)
	// AddExempted adds one payment of claim.Amount to the customer's
	// counters, atomically and only within the claim's limits.
	// Errors: ErrExemptionExhausted (nothing is added).
	AddExempted(ctx context.Context, customerID string, claim LowValueClaim, at time.Time) error
	// ResetExempted zeroes the customer's counters (after an SCA).
	ResetExempted(ctx context.Context, customerID string) error
}
