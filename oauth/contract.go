// Package oauth is Bankbridge's authorization server: a FAPI 2.0 profile built on
// ory/fosite (PAR, PKCE S256, private_key_jwt, DPoP-bound tokens, RFC 9207 iss,
// RFC 9396 authorization_details), its gorm storage, signing keys and JWKS, and
// the one function resource servers call to verify a token and its DPoP proof.
//
// This file is the package's contract with the rest of the platform. oauth
// imports no other domain package: cmd plugs partners (ClientRegistry), the
// reference core (CustomerAuthenticator), apis (ConsentBroker), web (Pages)
// and oauth/sca (SecondFactors) into these interfaces. Of oauth/sca, oauth
// itself uses only the pure dynamic-linking hash (sca.LinkHash).
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
)

// Client is what the authorization server needs to know about a registered
// partner app (an OAuth client). All clients are confidential and authenticate
// with private_key_jwt.
type Client struct {
	ID           string // client_id (the app's public id, app_…)
	Name         string // shown to the customer on the consent page
	PartnerID    string
	PartnerName  string                  // shown to the customer on the consent page
	Environment  environment.Environment // environment.Sandbox or environment.Production
	RedirectURIs []string
	Scopes       []string        // scopes the client may request
	JWKS         json.RawMessage // inline JWK Set, or
	JWKSURI      string          // where to fetch it
	// GrantTypes are the grant types the client registered (RFC 7591 §2
	// grant_types): GrantAuthorizationCode, GrantRefreshToken,
	// GrantClientCredentials. The token endpoint answers any other grant with
	// unauthorized_client, and PAR and the authorization endpoint refuse a
	// client without GrantAuthorizationCode; a code grant issues a refresh
	// token only to a client with GrantRefreshToken. Empty means all three:
	// for registries that record no list (partners fills it for every app,
	// with all three for apps that registered none).
	GrantTypes []string
	// Active is false when the app or its partner is suspended, revoked or not
	// allowed in this environment: no token is issued and resource calls fail.
	Active bool
	// RequireSignedRequests makes the resource server refuse the app's
	// payment requests that carry no UK OB x-jws-signature.
	RequireSignedRequests bool
	// RequireSignedRequestObject (RFC 9101 §10.5 client metadata
	// require_signed_request_object) makes PAR refuse the client's requests
	// that carry no signed request object.
	RequireSignedRequestObject bool
}

// The grant types a client may register (Client.GrantTypes).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// ErrClientNotFound is returned by a ClientRegistry for an unknown client_id.
var ErrClientNotFound = errors.New("oauth: client not found")

// ClientRegistry resolves client_ids. Implemented by partners (wired in cmd).
type ClientRegistry interface {
	// Client returns the client, or ErrClientNotFound.
	Client(ctx context.Context, clientID string) (*Client, error)
}

// Customer authentication errors.
var (
	ErrBadCredentials  = errors.New("oauth: unknown username or wrong password")
	ErrCustomerLocked  = errors.New("oauth: customer locked")
	ErrCustomerUnknown = errors.New("oauth: customer not found")
)

// CustomerAuthenticator checks a bank customer's login. Implemented by the
// bank's core port (the reference core in sandbox).
//
// Every bank customer belongs to exactly one environment, environment.Sandbox (the
// synthetic test customers) or environment.Production (the bank's real customers), and
// the two never meet: a sandbox app signs in only sandbox customers, a
// production app only production customers.
type CustomerAuthenticator interface {
	// Authenticate returns the internal id of the customer of environment
	// (the signing-in app's: environment.Sandbox or environment.Production) with that username
	// and password, or ErrBadCredentials, or ErrCustomerLocked. A username
	// that exists only in the other environment is ErrBadCredentials exactly
	// like an unknown username, at the same cost (the same password hashing
	// work), so nothing tells which environment a username lives in.
	Authenticate(ctx context.Context, env environment.Environment, username, password string) (customerID string, err error)
	// DisplayName returns how to greet the customer, or ErrCustomerUnknown.
	DisplayName(ctx context.Context, customerID string) (string, error)
}

// AuthorizationDetail is one RFC 9396 authorization_details entry. Bankbridge's
// types (account_access, payment_initiation, data_sharing) carry consent_id;
// Extra keeps any other members as sent (and as enriched on approval, for example
// with the accounts the customer picked).
type AuthorizationDetail struct {
	Type      string         `json:"type"`
	ConsentID string         `json:"consent_id,omitempty"`
	Extra     map[string]any `json:"-"`
}

// ConsentDescription tells the consent page exactly what one authorization
// detail asks for.
type ConsentDescription struct {
	Type      string
	ConsentID string
	Title     string   // e.g. "Read your account information"
	Lines     []string // every permission / payment term in plain words
	ExpiresAt time.Time
	// Accounts the customer chooses from: several for account access, exactly
	// one (the debtor account) for a payment, none when nothing is chosen.
	Accounts   []SelectableAccount
	SelectMode string // "multi", "single" or "none"
	// Payment is what a payment consent asks the customer to confirm (nil
	// for other consents): the terms strong customer authentication's
	// dynamic linking binds the confirmation to.
	Payment *PaymentSummary
}

// PaymentSummary is the amount and payee of a payment consent: what the
// customer confirms, and what dynamic linking (PSD2 RTS art. 5) binds that
// confirmation to, so that a change to any of them voids it.
type PaymentSummary struct {
	Amount              money.Money
	PayeeName           string
	PayeeScheme         string // e.g. UK.OBIE.SortCodeAccountNumber
	PayeeIdentification string
	// PayeeIsOwnAccount: the payee account is one of the customer's own
	// accounts (the exemption of PSD2 RTS art. 15).
	PayeeIsOwnAccount bool
	// RiskRequiresSCA: the bank's transaction risk scoring (package risk)
	// asked for strong customer authentication when the consent was
	// created; no exemption then applies (PSD2 RTS art. 18: transaction
	// risk analysis).
	RiskRequiresSCA bool
}

// SelectableAccount is one of the customer's accounts offered on the consent page.
type SelectableAccount struct {
	ID       string
	Label    string // "Current account"
	Masked   string // "•••• 1234"
	Selected bool   // pre-selected (e.g. the payment's debtor account)
	Disabled bool   // shown but not selectable (e.g. closed)
}

// ConsentBroker resolves the consent objects behind authorization_details.
// Implemented by apis (wired in cmd). Errors it returns that wrap
// ErrInvalidAuthorizationDetails are answered to the client as RFC 9396
// invalid_authorization_details with the error text as hint.
type ConsentBroker interface {
	// Types lists the authorization_details types served (advertised in discovery
	// as authorization_details_types_supported).
	Types() []string
	// CheckPushed validates details at PAR time: known type, the consent exists,
	// belongs to the client's partner and awaits authorisation.
	CheckPushed(ctx context.Context, client *Client, details []AuthorizationDetail) error
	// Describe explains the details to the logged-in customer.
	Describe(ctx context.Context, client *Client, customerID string, details []AuthorizationDetail) ([]ConsentDescription, error)
	// Decide records the customer's decision. On approval it binds each consent to
	// the customer and the selected accounts (keyed by consent id), records how
	// each was authorised (how, keyed by consent id) and returns the details to
	// put in the token; on denial it marks them rejected (how is nil).
	Decide(ctx context.Context, client *Client, customerID string, details []AuthorizationDetail, approve bool, selected map[string][]string, how map[string]ConsentAuthorisation) ([]AuthorizationDetail, error)
	// Active reports whether the consent behind a token is still usable; a token
	// refresh or introspection of a token whose consent is not active fails.
	Active(ctx context.Context, consentID string) (bool, error)
}

// ACRPassword is the id_token's acr (OpenID Connect Core §2) for a customer
// who signed in with username and password alone (a customer without an
// authenticator app, or a server without SecondFactors): one factor, so it
// is the UK Open Banking value for customer authentication, not for strong
// customer authentication (ACRStrong).
const ACRPassword = "urn:openbanking:psd2:ca"

// ACRStrong is the id_token's acr for a customer who passed strong customer
// authentication (two independent factors, PSD2 RTS article 4): the UK Open
// Banking value. It satisfies a request for ACRStrong or ACRPassword. The
// flow gives it to a customer who confirmed the authorization with an
// authenticator-app code or a recovery code after the password (amr
// [pwd otp mfa]), or with a passkey (amr [pwd hwk mfa] or [pwd swk mfa]).
const ACRStrong = "urn:openbanking:psd2:sca"

// Authentication methods (RFC 8176 §2) an id_token's amr lists.
const (
	AMRPassword    = "pwd" // a password
	AMROTP         = "otp" // a one-time code (an authenticator app, TOTP)
	AMRHardwareKey = "hwk" // proof of possession of a hardware-secured key (a device-bound passkey)
	AMRSoftwareKey = "swk" // proof of possession of a software-secured key (a synced passkey)
	AMRMultiFactor = "mfa" // more than one factor
)

// Authentication is how the customer authenticated in one authorization, as
// the flow records it in the Session and the id_token reports it: ACR
// (ACRPassword or ACRStrong), AMR (RFC 8176 values such as
// []string{AMRPassword}) and the time of the authentication (auth_time).
type Authentication struct {
	ACR  string
	AMR  []string
	Time time.Time
}

// ErrConsentRejected is returned (wrapped) by ConsentBroker.Decide when the
// bank itself rejects what the customer approved (a sandbox persona scripted
// to reject every consent, say): the consents are already marked Rejected and
// the partner receives access_denied.
var ErrConsentRejected = errors.New("consent rejected by the bank")

// ErrInvalidAuthorizationDetails marks a ConsentBroker refusal (RFC 9396 §5).
var ErrInvalidAuthorizationDetails = errors.New("invalid_authorization_details")

// AccessContext is what a verified resource request carries: who calls, for
// whom, under which consent.
type AccessContext struct {
	ClientID    string
	PartnerID   string
	Environment environment.Environment
	// CustomerID is the bank's internal customer id for tokens from the code
	// flow; empty for client_credentials tokens.
	CustomerID           string
	Scopes               []string
	AuthorizationDetails []AuthorizationDetail
	JKT                  string // the DPoP key thumbprint the token is bound to
	GrantID              string // the authorization grant (fosite request id)
	ExpiresAt            time.Time
}

// HasScope reports whether the token carries scope s.
func (a *AccessContext) HasScope(s string) bool {
	for _, x := range a.Scopes {
		if x == s {
			return true
		}
	}
	return false
}

// ConsentIDs lists the consent ids the token was granted for.
func (a *AccessContext) ConsentIDs() []string {
	var out []string
	for _, d := range a.AuthorizationDetails {
		if d.ConsentID != "" {
			out = append(out, d.ConsentID)
		}
	}
	return out
}

// ResourceVerifier is the one function resource servers call: it checks the
// Authorization: DPoP token and its DPoP proof (RFC 9449 §7, including ath and
// htm/htu against r), the token's expiry and revocation, and that the client is
// still active. Its errors are *ResourceError.
type ResourceVerifier interface {
	VerifyRequest(ctx context.Context, r *http.Request) (*AccessContext, error)
}

// DeferringVerifier is a ResourceVerifier that can leave the recording of a
// DPoP proof's id to the caller, so a resource server records it in the
// transaction that records the call (one commit instead of two). Only a
// request without side effects may defer: it runs before its proof is known
// fresh, and is refused if the claim loses.
type DeferringVerifier interface {
	ResourceVerifier
	// VerifyRequestDeferred is VerifyRequest without recording the proof's
	// id when it can be recorded with ClaimProofs; claim is nil when it was
	// recorded already.
	VerifyRequestDeferred(ctx context.Context, r *http.Request) (ac *AccessContext, claim *ProofClaim, err error)
	// ClaimProofs records claims in the database transaction in ctx;
	// refused[i] is the exact refusal of a claim recorded before (nil when
	// recorded now); err is the database's.
	ClaimProofs(ctx context.Context, claims []*ProofClaim) (refused []*ResourceError, err error)
}

// StatementClaimer is a DeferringVerifier whose claims a caller may write
// within one statement of its own (db.DB.InsertClaimed on PostgreSQL) with
// the rows they guard, instead of ClaimProofs in a transaction.
type StatementClaimer interface {
	DeferringVerifier
	// ClaimRows is claims (distinct keys, ProofClaim.Key) as rows of the
	// replay table, in order, the key column first; the statement's INSERT
	// returns the keys recorded now. ok is false when they cannot be
	// written so: use ClaimProofs.
	ClaimRows(claims []*ProofClaim) (rows db.Rows, ok bool)
	// ClaimRefused is the exact refusal of a claim the statement did not
	// record (ClaimProofs' refused[i]).
	ClaimRefused() *ResourceError
}

// ResourceError is a refusal at a resource server, rendered with the
// WWW-Authenticate header of RFC 6750 §3 / RFC 9449 §7.1.
type ResourceError struct {
	Status          int    // 401 or 403 (400 for a malformed request)
	Code            string // invalid_token, invalid_dpop_proof, use_dpop_nonce, insufficient_scope, invalid_request
	Description     string
	WWWAuthenticate string // full header value to send
	DPoPNonce       string // a fresh server nonce to send as DPoP-Nonce, if any
}

func (e *ResourceError) Error() string { return e.Code + ": " + e.Description }

// TokenRevoker lets other packages kill tokens at once: a revoked consent, a
// suspended app or partner.
type TokenRevoker interface {
	// RevokeConsent revokes every access and refresh token granted for consentID.
	RevokeConsent(ctx context.Context, consentID string) error
	// RevokeClient revokes every token issued to clientID.
	RevokeClient(ctx context.Context, clientID string) error
}

// Refusals of a SecondFactors, matched with errors.Is (an implementation
// wraps its own error in one of them).
var (
	// ErrSecondFactorWrong: the code is not the customer's (a wrong
	// authenticator code or recovery code).
	ErrSecondFactorWrong = errors.New("oauth: wrong second-factor code")
	// ErrSecondFactorUsed: the code was right but was already used (an
	// authenticator code of a time step already accepted, a recovery code
	// already spent).
	ErrSecondFactorUsed = errors.New("oauth: second-factor code already used")
	// ErrSecondFactorLocked: too many wrong codes; the customer's second
	// factor is locked for a while (on every node). It may come joined with
	// ErrSecondFactorWrong or ErrSecondFactorUsed when the wrong code just
	// spent the budget.
	ErrSecondFactorLocked = errors.New("oauth: second factor locked after too many wrong codes")
	// ErrNoSecondFactor: the customer has no such factor to confirm with
	// (no authenticator app for a code, no passkey for BeginPasskey, or
	// passkeys are off).
	ErrNoSecondFactor = errors.New("oauth: the customer has no such second factor")
	// ErrPasskeyRefused: the passkey's answer did not verify (a wrong
	// signature, another request's challenge, another website's origin, a
	// signature counter that did not move forward, an unknown, used or
	// expired ceremony, a passkey that is not the customer's). It counts as
	// a wrong code. It may come joined with ErrConfirmationChanged (the
	// answer was for another payment) or ErrSecondFactorLocked.
	ErrPasskeyRefused = errors.New("oauth: passkey assertion refused")
	// ErrNotConfirmed: the interaction has no usable confirmation (never
	// confirmed, already used, or expired).
	ErrNotConfirmed = errors.New("oauth: the interaction was not confirmed with a second factor")
	// ErrConfirmationChanged: what is being authorised now is not what the
	// customer confirmed (dynamic linking, PSD2 RTS art. 5); the
	// confirmation is void for good. ConfirmPasskey answers it (with
	// ErrPasskeyRefused) for an assertion whose challenge was bound to
	// another link hash.
	ErrConfirmationChanged = errors.New("oauth: the payment changed after the customer confirmed it")
)

// EnrolledFactors tells which second factors a customer can confirm an
// authorization with.
type EnrolledFactors struct {
	// AuthenticatorApp: an active authenticator app (TOTP codes).
	AuthenticatorApp bool
	// Passkey: at least one passkey, and passkeys are on (the issuer is a
	// WebAuthn relying party).
	Passkey bool
	// RecoveryCodes: unused recovery codes, the fallback for a lost factor
	// (not a factor of their own: they alone do not make Any true).
	RecoveryCodes bool
}

// Any reports whether the customer has a second factor (and so must
// confirm with it): an authenticator app or a passkey.
func (e EnrolledFactors) Any() bool { return e.AuthenticatorApp || e.Passkey }

// PasskeyRequest is a begun passkey assertion: the ceremony to finish it
// with and the PublicKeyCredentialRequestOptionsJSON for
// navigator.credentials.get (binary members base64url).
type PasskeyRequest struct {
	CeremonyID string
	Options    json.RawMessage
}

// SecondFactors is what the authorization flow needs of strong customer
// authentication (implemented by oauth/secondfactors over oauth/sca and
// oauth/passkeys). A customer with an authenticator app or a passkey
// confirms each authorization with a code or a passkey after the password; the confirmation is bound to the interaction and to a link
// hash of what is authorised (linkHash in authorize_sca.go) and consumed at
// approval. The client address for the code throttle is the one
// throttle.WithClient put in ctx.
type SecondFactors interface {
	// Enrolled tells which second factors the customer has; with Any, the
	// customer must confirm with one of them.
	Enrolled(ctx context.Context, customerID string) (EnrolledFactors, error)
	// ConfirmTOTP checks a code of the customer's authenticator app and, if
	// it is accepted, records the interaction's confirmation of link.
	// Errors: ErrSecondFactorWrong, ErrSecondFactorUsed,
	// ErrSecondFactorLocked, ErrNoSecondFactor, or others (storage).
	ConfirmTOTP(ctx context.Context, interactionID, customerID, code, link string) error
	// ConfirmRecoveryCode is ConfirmTOTP with one of the customer's recovery
	// codes (spent by the check).
	ConfirmRecoveryCode(ctx context.Context, interactionID, customerID, code, link string) error
	// BeginPasskey starts an assertion by one of the customer's passkeys
	// whose challenge is bound to link (what the customer confirms).
	// Errors: ErrNoSecondFactor (no passkey, or passkeys are off), or
	// others (storage).
	BeginPasskey(ctx context.Context, interactionID, customerID, link string) (PasskeyRequest, error)
	// ConfirmPasskey checks the assertion (the PublicKeyCredential JSON of
	// navigator.credentials.get) of ceremony ceremonyID against link (what
	// is authorised now) and, if it is accepted, records the interaction's
	// confirmation of link with the passkey's amr (AMRHardwareKey or
	// AMRSoftwareKey). Refusals count with wrong codes. Errors:
	// ErrPasskeyRefused (with ErrConfirmationChanged when the challenge
	// was bound to another link), ErrSecondFactorLocked,
	// ErrNoSecondFactor, or others (storage).
	ConfirmPasskey(ctx context.Context, interactionID, customerID, ceremonyID string, response []byte, link string) error
	// CheckConfirmation consumes the interaction's confirmation if it was of
	// link (what is authorised now) and returns the RFC 8176 amr value of
	// the method confirmed with (AMROTP for a code, AMRHardwareKey or
	// AMRSoftwareKey for a passkey). It succeeds once.
	// Errors: ErrNotConfirmed, ErrConfirmationChanged, or others.
	CheckConfirmation(ctx context.Context, interactionID, customerID, link string) (amr string, err error)
}

// The exemptions from strong customer authentication a payment may be
// authorised under (PaymentAssessment.Exemption, ConsentAuthorisation).
const (
	ExemptionLowValue           = "low_value"           // PSD2 RTS art. 16
	ExemptionTrustedBeneficiary = "trusted_beneficiary" // PSD2 RTS art. 13
	ExemptionOwnAccounts        = "own_accounts"        // PSD2 RTS art. 15
)

// PaymentAssessment is whether a payment needs strong customer
// authentication or which exemption spares it, and why (for the consent
// and the audit trail).
type PaymentAssessment struct {
	SCARequired bool
	// Exemption is one of the Exemption… values, "" when SCA is required.
	Exemption string
	Reason    string
}

// ErrExemptionSpent is returned (wrapped) by SCAExemptions.Claim when the
// low-value exemption's limits were reached since the assessment (another
// payment claimed the last allowance): the payment now needs SCA.
var ErrExemptionSpent = errors.New("oauth: the low-value exemption's limits were reached")

// SCAExemptions are the bank's exemptions from strong customer
// authentication for payments (PSD2 RTS art. 10–18), each a bank setting
// that can be switched off (implemented in cmd over oauth/sca). Without
// one, every payment of a customer with a second factor needs SCA.
type SCAExemptions interface {
	// Assess decides whether the customer's payment needs SCA or which
	// exemption applies. It claims nothing.
	Assess(ctx context.Context, customerID string, p PaymentSummary) (PaymentAssessment, error)
	// Claim spends what an exemption counts (the low-value counters) when
	// the payment is authorised under it; other exemptions claim nothing.
	// Errors: ErrExemptionSpent, or others (storage).
	Claim(ctx context.Context, customerID string, p PaymentSummary, a PaymentAssessment) error
	// AfterSCA resets what counts towards the exemptions (the low-value
	// counters) once the customer performed SCA.
	AfterSCA(ctx context.Context, customerID string) error
	// TrustsPayees reports whether payments to trusted payees are exempt
	// (and so whether the customer is offered to trust a payee).
	TrustsPayees() bool
	// TrustPayee adds the payment's payee to the customer's trusted payees;
	// the flow calls it only after the customer performed SCA (PSD2 RTS
	// art. 13 asks SCA to create or amend the list).
	TrustPayee(ctx context.Context, customerID string, p PaymentSummary) error
}

// ConsentAuthorisation is how the customer authorised one consent, as the
// ConsentBroker stores it on the consent and in the audit trail: the
// authentication (ACR, AMR) and, for a payment authorised without SCA,
// the exemption and its reason.
type ConsentAuthorisation struct {
	ACR string
	AMR []string
	// Exemption is one of the Exemption… values when the consent was
	// authorised without SCA under it, "" otherwise.
	Exemption string
	// Reason says in plain words why SCA was or was not performed.
	Reason string
}
