// Package sca is strong customer authentication for bank customers: the
// second factors a customer enrols besides the password (an authenticator
// app, RFC 6238 TOTP; recovery codes), the dynamic linking of a payment
// confirmation to its amount and payee (PSD2 RTS art. 5), and the exemptions
// a bank may apply instead of SCA (PSD2 RTS art. 10–18). Passkeys are
// package oauth/passkeys.
//
// Everything is stored by customer id (customers live in apis/core) in the
// tables of migration 0015_customer_sca.sql. Every counter and every
// single-use claim (a TOTP time step, a recovery code, a confirmation, the
// exemption counters) is an atomic conditional write in the database, so
// that two nodes racing never both accept the same thing. Wrong codes are
// counted on every node through internal/throttle (surface ThrottleSurface).
//
// The code checks (VerifyTOTP, UseRecoveryCode, ConfirmWith…) are not to be
// called inside a transaction of the caller's: the throttle counts each
// attempt on its own connection before the code is checked, so that the
// count stands whatever the outcome (on SQLite it would wait on the
// caller's own write lock).
//
// Errors are the sentinel values of store.go, matched with errors.Is; a
// throttle refusal is a *throttle.LockedError (errors.Is throttle.ErrLocked).
package sca

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// The confirmation methods of a Confirmation, one per kind of second factor.
const (
	MethodTOTP     = "totp"
	MethodWebAuthn = "webauthn"
	MethodRecovery = "recovery"
)

// The RFC 8176 amr values of this package's methods. A recovery code is
// reported as "otp": RFC 8176 defines "otp" as a one-time password (its
// references, HOTP and TOTP, are examples, not the whole of it), and a
// recovery code is exactly that: a pre-issued secret accepted once. "kba"
// (knowledge-based: questions whose answers the user knows and reuses) and
// "swk"/"hwk" (proof of possession of a key) would describe it wrongly, and
// an unregistered value would mean nothing to relying parties. The method
// ("recovery") is kept on the Confirmation for the audit trail.
const (
	AMRTOTP     = "otp"
	AMRRecovery = "otp"
)

// The RFC 8176 amr values of a passkey (MethodWebAuthn), as oauth/passkeys
// reports a verified assertion: "hwk" for a device-bound key, "swk" for a
// synced one. ConfirmWithWebAuthn records one of them on the confirmation.
const (
	AMRHardwareKey = "hwk"
	AMRSoftwareKey = "swk"
)

// The factor kinds Factors lists.
const (
	KindTOTP          = "totp"
	KindRecoveryCodes = "recovery_codes"
)

// Factor is one second factor a customer has enrolled, without its secrets.
type Factor struct {
	// Kind is KindTOTP or KindRecoveryCodes.
	Kind string
	// Name is how the customer's pages name it ("Authenticator app").
	Name string
	// CreatedAt is when it was enrolled (confirmed, for TOTP; generated,
	// for recovery codes).
	CreatedAt time.Time
	// LastUsedAt is when it last authenticated the customer, nil if never.
	LastUsedAt *time.Time
	// Remaining is the number of unused recovery codes (KindRecoveryCodes
	// only).
	Remaining int
}

// TOTPEnrollment is a pending TOTP factor as BeginTOTP shows it once: the
// secret for manual entry and the otpauth:// URI for a QR code.
type TOTPEnrollment struct {
	// Secret is the RFC 4648 base32 secret (no padding).
	Secret string
	// URI is the otpauth://totp/… key URI (issuer "Bankbridge").
	URI string
}

// Payee is whom a payment goes to, as the consent names it: the creditor's
// name and account (scheme, e.g. "UK.OBIE.SortCodeAccountNumber" or
// "UK.OBIE.IBAN", and the identification under that scheme).
type Payee struct {
	Name           string
	Scheme         string
	Identification string
}

// Account is an account identification: a scheme and the identification
// under it.
type Account struct {
	Scheme         string
	Identification string
}

// Account returns the account of p.
func (p Payee) Account() Account {
	return Account{Scheme: p.Scheme, Identification: p.Identification}
}

// normalise returns a in its comparison form: the scheme (a name from a
// fixed list, such as "UK.OBIE.IBAN") trimmed, the identification without
// white space (IBANs are written in groups) and upper-cased, so
// "gb29 nwbk 6016 1331 9268 19" and "GB29NWBK60161331926819" are one account.
func (a Account) normalise() Account {
	id := strings.ToUpper(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, a.Identification))
	return Account{Scheme: strings.TrimSpace(a.Scheme), Identification: id}
}

// Validate reports an account without a scheme or an identification.
func (a Account) Validate() error {
	n := a.normalise()
	switch {
	case n.Scheme == "":
		return fmt.Errorf("%w: account scheme is empty", ErrInvalid)
	case n.Identification == "":
		return fmt.Errorf("%w: account identification is empty", ErrInvalid)
	case len(n.Scheme) > 64 || len(n.Identification) > 256:
		return fmt.Errorf("%w: account scheme or identification is too long", ErrInvalid)
	}
	return nil
}

// Validate reports a payee without a name or with an invalid account.
func (p Payee) Validate() error {
	if strings.TrimSpace(p.Name) == "" {
		return fmt.Errorf("%w: payee name is empty", ErrInvalid)
	}
	return p.Account().Validate()
}

// TrustedPayee is a payee the customer marked trusted (PSD2 RTS art. 13).
type TrustedPayee struct {
	// Payee is the payee as it was trusted, its account normalised (the
	// identification without white space, upper case).
	Payee
	CreatedAt time.Time
}

// Confirmation is a customer's SCA confirmation of one interaction (one
// authorisation of a consent), bound by LinkHash to what was confirmed.
type Confirmation struct {
	InteractionID string
	CustomerID    string
	// LinkHash is LinkHash of the consent, amount and payee the customer
	// confirmed (hex).
	LinkHash string
	// Method is MethodTOTP, MethodWebAuthn or MethodRecovery.
	Method string
	// AMR is the RFC 8176 amr value of the factor: AMRTOTP for a code
	// (TOTP or recovery), AMRHardwareKey or AMRSoftwareKey for a passkey
	// confirmed by ConfirmWithWebAuthn; "" for a passkey confirmation
	// recorded by RecordConfirmation, which does not know the key's kind.
	AMR         string
	ConfirmedAt time.Time
	// ExpiresAt is when the confirmation lapses unused.
	ExpiresAt time.Time
}

// Counters are the low-value exempted payments of a customer since the last
// SCA: their number (all currencies together) and their sums per currency
// (minor units of that currency, never mixed).
type Counters struct {
	Count int
	Sums  map[string]int64
}
