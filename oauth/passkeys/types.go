// Package passkeys runs the WebAuthn ceremonies of bank customers' passkeys:
// registering a passkey, and asserting one as a second factor bound to a
// dynamic-linking hash (what a payment confirmation is about). It builds on
// github.com/go-webauthn/webauthn and keeps every piece of state in the
// database, so any node may finish a ceremony another node began.
//
// # Relying party
//
// The relying party follows the issuer (New): its id is the issuer's host
// without port, its one accepted origin the issuer's scheme://host[:port].
// Browsers refuse WebAuthn on a bare IP address and outside a secure context,
// so New refuses an issuer whose host is an IP address, and a plain-http
// issuer whose host is not localhost (browser tests use http://localhost:PORT).
//
// # Ceremonies
//
// Begin… stores go-webauthn's session data (the challenge and what the
// response is checked against) in customer_passkey_ceremonies under a random
// ceremony id, valid for CeremonyTTL. Finish… takes the row with one
// DELETE … RETURNING, whatever the outcome, so a ceremony is used at most once
// on any number of nodes: a replayed, unknown or foreign ceremony id is
// ErrCeremonyNotFound, an expired one ErrCeremonyExpired. Registration
// prefers a resident (discoverable) key; both ceremonies require user
// verification.
//
// # Dynamic linking
//
// BeginLogin derives the challenge from 32 random bytes r and the caller's
// link hash h: challenge = r ‖ SHA-256("bankbridge/passkeys/link/v1" ‖ r ‖ h).
// The authenticator signs the client data that carries the challenge, so the
// signature itself is bound to h, as PSD2 RTS article 5 asks of the
// authentication code: the stored ceremony needs no copy of h, and the
// assertion is evidence a third party can check (r is the challenge's first
// half). FinishLogin recomputes the challenge from the challenge's r and the
// link hash current at that moment and refuses with ErrLinkChanged when they
// differ: the payment changed after the customer confirmed it.
//
// # Sign counter
//
// FinishLogin refuses an assertion whose signature counter does not exceed
// the stored one when either is non-zero (ErrClonedAuthenticator: two copies
// of the key may exist). Authenticators that keep no counter (most synced
// passkeys) always send zero; for them the one-time ceremony is the replay
// guard. The counter is written by a conditional UPDATE (… WHERE sign_count <
// new), so of two nodes checking assertions of the same credential with the
// same counter, at most one accepts.
//
// # Authentication method (RFC 8176)
//
// FinishLogin reports "hwk" (proof of possession of a hardware-secured key)
// for a device-bound credential and "swk" (software-secured key) for a
// backup-eligible one: a synced passkey's private key is copied between the
// customer's devices through a cloud keychain, so it is not bound to one piece
// of hardware, whatever protects it on each device.
//
// # Errors
//
// Refusals are *problem.Error values whose Err is one of this package's
// sentinel errors (errors.Is(err, ErrLinkChanged) and so on); other errors
// are the database's.
package passkeys

import (
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// CeremonyTTL is how long a begun ceremony may be finished.
const CeremonyTTL = 5 * time.Minute

// RPDisplayName is the relying party name authenticators show.
const RPDisplayName = "Bankbridge"

// MaxNameLength is the longest passkey name, in characters.
const MaxNameLength = 64

// maxLinkHash bounds the link hash BeginLogin and FinishLogin accept.
const maxLinkHash = 64

// Authentication method reference values (RFC 8176) FinishLogin reports.
const (
	// AMRHardwareKey: proof of possession of a device-bound key.
	AMRHardwareKey = "hwk"
	// AMRSoftwareKey: proof of possession of a synced (backup-eligible) key.
	AMRSoftwareKey = "swk"
)

// Errors of New (returned as they are, wrapped with the issuer).
var (
	// ErrIssuerInvalid: the issuer is not an absolute http(s) URL with a host.
	ErrIssuerInvalid = errors.New("passkeys: the issuer is not an absolute http(s) URL with a host")
	// ErrIssuerIPAddress: the issuer's host is an IP address; browsers refuse
	// WebAuthn there (use a domain name, or localhost in tests).
	ErrIssuerIPAddress = errors.New("passkeys: the issuer's host is an IP address; WebAuthn needs a domain name (use localhost for local tests)")
	// ErrIssuerNotSecure: a plain-http issuer whose host is not localhost;
	// browsers offer WebAuthn only in secure contexts.
	ErrIssuerNotSecure = errors.New("passkeys: a plain-http issuer must be localhost; WebAuthn needs https elsewhere")
	// ErrNoStore: Config.Store is nil.
	ErrNoStore = errors.New("passkeys: no store")
)

// Refusals: the Err of the *problem.Error the service returns.
var (
	// ErrInvalidCustomer: the customer has no cus_ id or no username.
	ErrInvalidCustomer = errors.New("passkeys: invalid customer")
	// ErrInvalidName: the passkey name is empty, too long or has control characters.
	ErrInvalidName = errors.New("passkeys: invalid passkey name")
	// ErrInvalidLinkHash: the link hash is longer than 64 bytes.
	ErrInvalidLinkHash = errors.New("passkeys: invalid link hash")
	// ErrNoPasskey: the customer has no passkey to assert.
	ErrNoPasskey = errors.New("passkeys: the customer has no passkey")
	// ErrCeremonyNotFound: no such ceremony of this kind for this customer
	// (unknown, already used, or another customer's).
	ErrCeremonyNotFound = errors.New("passkeys: ceremony not found")
	// ErrCeremonyExpired: the ceremony was begun more than CeremonyTTL ago.
	ErrCeremonyExpired = errors.New("passkeys: ceremony expired")
	// ErrMalformedResponse: the response is not a WebAuthn credential JSON.
	ErrMalformedResponse = errors.New("passkeys: malformed WebAuthn response")
	// ErrOriginMismatch: the client data's origin is not the relying party's.
	ErrOriginMismatch = errors.New("passkeys: origin mismatch")
	// ErrRPIDMismatch: the authenticator data's RP ID hash is not the relying party's.
	ErrRPIDMismatch = errors.New("passkeys: RP ID mismatch")
	// ErrChallengeMismatch: the client data carries another ceremony's challenge
	// or the wrong ceremony type.
	ErrChallengeMismatch = errors.New("passkeys: challenge mismatch")
	// ErrUserNotPresent: the authenticator data lacks the user-present flag.
	ErrUserNotPresent = errors.New("passkeys: user presence missing")
	// ErrUserNotVerified: the authenticator data lacks the user-verified flag.
	ErrUserNotVerified = errors.New("passkeys: user verification missing")
	// ErrResponseInvalid: go-webauthn refused the response (signature,
	// attestation, flags, key algorithm …); the cause is wrapped.
	ErrResponseInvalid = errors.New("passkeys: WebAuthn response invalid")
	// ErrLinkChanged: the link hash differs from the one the assertion was
	// begun with (the confirmed payment changed).
	ErrLinkChanged = errors.New("passkeys: dynamic-linking hash changed")
	// ErrClonedAuthenticator: the signature counter did not move forward.
	ErrClonedAuthenticator = errors.New("passkeys: signature counter did not increase (cloned authenticator?)")
	// ErrCredentialNotFound: the customer has no passkey with that id.
	ErrCredentialNotFound = errors.New("passkeys: passkey not found")
	// ErrCredentialExists: the credential is registered already.
	ErrCredentialExists = errors.New("passkeys: passkey already registered")
)

// Customer is whom a passkey is registered for.
type Customer struct {
	// ID is the customer id (cus_…); it is also the WebAuthn user handle.
	ID string
	// Username is the account name authenticators show.
	Username string
	// DisplayName is the person's name authenticators show (Username when empty).
	DisplayName string
}

// Validate reports ErrInvalidCustomer for a customer without a cus_ id or username.
func (c Customer) Validate() error {
	if !strings.HasPrefix(c.ID, "cus_") || len(c.ID) > 64 || strings.TrimSpace(c.Username) == "" {
		return ErrInvalidCustomer
	}
	return nil
}

// validName reports whether name (already trimmed) is a passkey name.
func validName(name string) bool {
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLength {
		return false
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Credential is a registered passkey as the customer sees it (no key material).
type Credential struct {
	// ID is the WebAuthn credential id, base64url without padding.
	ID string `json:"id"`
	// Name is the customer's name for it.
	Name string `json:"name"`
	// AAGUID is the authenticator model (a UUID; all zeros when not disclosed).
	AAGUID string `json:"aaguid"`
	// Transports are the transports the authenticator reported ("internal", "usb" …).
	Transports []string `json:"transports"`
	// BackupEligible: the credential may be synced (a synced passkey).
	BackupEligible bool `json:"backup_eligible"`
	// BackupState: the credential is backed up now.
	BackupState bool `json:"backup_state"`
	// CreatedAt is when it was registered (UTC).
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is when it last asserted (UTC), zero if never.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Ceremony kinds.
const (
	// KindRegistration is a registration ceremony.
	KindRegistration = "registration"
	// KindLogin is an assertion ceremony.
	KindLogin = "login"
)

// Begun is a begun ceremony: what the browser needs and the id to finish it with.
type Begun struct {
	// CeremonyID names the ceremony at Finish….
	CeremonyID string
	// Options is the PublicKeyCredentialCreationOptionsJSON (registration) or
	// PublicKeyCredentialRequestOptionsJSON (assertion): binary members are
	// base64url strings, as PublicKeyCredential.parseCreationOptionsFromJSON
	// and parseRequestOptionsFromJSON take them.
	Options []byte
}

// Assertion is a verified passkey assertion.
type Assertion struct {
	// CredentialID is the passkey that asserted.
	CredentialID string
	// AMR is AMRHardwareKey or AMRSoftwareKey (see the package doc).
	AMR string
	// SignCount is the authenticator's signature counter now stored.
	SignCount uint32
}
