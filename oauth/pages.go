package oauth

import (
	"net/http"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
)

// Pages renders the bank customer's pages of the authorization flow. web
// implements it; oauth calls it from GET and POST /authorize.
type Pages interface {
	// Login shows the login form.
	Login(w http.ResponseWriter, r *http.Request, p LoginPage)
	// Consent shows what the partner's app asks for and the Authorise / Deny form.
	Consent(w http.ResponseWriter, r *http.Request, p ConsentPage)
	// SCA asks a customer with an authenticator app for its code (or a
	// recovery code) after the password, showing the payments confirmed.
	SCA(w http.ResponseWriter, r *http.Request, p SCAPage)
	// NoSecondFactor tells a customer without a second factor that what
	// the app asks for needs one and how to set it up; its form
	// (StepNoSecondFactor) takes the customer back to the app.
	NoSecondFactor(w http.ResponseWriter, r *http.Request, p NoSecondFactorPage)
	// Error shows an error the customer cannot be sent back to the app with.
	Error(w http.ResponseWriter, r *http.Request, p ErrorPage)
	// CheckCSRF reports whether a POSTed form carries the right CSRF token
	// (the one the page put in the form). Call after ParseForm.
	CheckCSRF(r *http.Request) bool
}

// Form field names the pages post back to /authorize.
const (
	FieldInteraction = "interaction" // the in-flight authorization, sealed (interaction.go)
	FieldStep        = "step"        // "login", "sca" or "consent"
	FieldUsername    = "username"
	FieldPassword    = "password"
	FieldDecision    = "decision" // "approve" or "deny"
	// FieldCode is the second-factor code on the SCA page; FieldMethod says
	// which kind it is: MethodTOTP or MethodRecoveryCode.
	FieldCode   = "code"
	FieldMethod = "method"
	// FieldAccountsPrefix + consent id carries the accounts chosen for a consent.
	FieldAccountsPrefix = "accounts."
	// FieldTrustPrefix + consent id is "1" when the customer trusts the
	// payment's payee (ConsentPage.TrustOffers).
	FieldTrustPrefix = "trust."
)

// Values of FieldStep and FieldDecision.
const (
	StepLogin   = "login"
	StepSCA     = "sca"
	StepConsent = "consent"
	// StepNoSecondFactor is the no-second-factor page's form: back to the
	// app (access_denied).
	StepNoSecondFactor = "no_second_factor"
	DecisionApprove    = "approve"
	DecisionDeny       = "deny"
)

// LoginPage is the data of the login page.
type LoginPage struct {
	Action        string // where the form posts (/authorize)
	InteractionID string // hidden FieldInteraction value
	ClientName    string // the app asking
	PartnerName   string // the company behind it
	Username      string // kept after a failed attempt
	Error         string // plain-language message, "" when none
	Status        int    // HTTP status to answer with (200, or 401/429/403 after a refusal)
}

// ConsentPage is the data of the consent page.
type ConsentPage struct {
	Action        string
	InteractionID string
	ClientName    string
	PartnerName   string
	CustomerName  string
	// Scopes lists the plain-language meaning of each requested scope.
	Scopes []ScopeText
	// Details explains each authorization_details entry (title, lines,
	// expiry, accounts to choose).
	Details []ConsentDescription
	// TrustOffers are the payments whose payee the customer may add to the
	// trusted payees (offered after SCA, when the bank exempts payments to
	// trusted payees and the payee is not trusted yet).
	TrustOffers []TrustOffer
	Error       string
	Status      int
}

// TrustOffer is the offer to trust one payment's payee.
type TrustOffer struct {
	ConsentID string
	PayeeName string
}

// Values of FieldMethod on the SCA page.
const (
	MethodTOTP         = "totp"     // a code of the authenticator app
	MethodRecoveryCode = "recovery" // one of the customer's recovery codes
	// MethodPasskeyOptions asks for the passkey request options of the
	// interaction: the answer is JSON ({"ceremony_id", "publicKey"}), for
	// the page's script to call navigator.credentials.get with.
	MethodPasskeyOptions = "passkey-options"
	// MethodPasskey posts the passkey's answer: FieldCeremony and
	// FieldAssertion (the PublicKeyCredential JSON).
	MethodPasskey = "passkey"
)

// Form fields of a passkey answer (MethodPasskey).
const (
	FieldCeremony  = "ceremony_id"
	FieldAssertion = "assertion"
)

// SCAPage is the data of the strong customer authentication page: the
// second factor asked for after the password.
type SCAPage struct {
	Action        string
	InteractionID string
	ClientName    string
	PartnerName   string
	CustomerName  string
	// Payments are the payment consents being confirmed (amount and payee
	// as the customer must see them: dynamic linking binds the code to
	// them); empty when no payment is asked for.
	Payments []PaymentSummary
	// AuthenticatorApp: show the "Authenticator code" field (the customer
	// has an authenticator app).
	AuthenticatorApp bool
	// Passkey: show the "Use a passkey" button (the customer has a
	// passkey and passkeys are on). Its script posts FieldMethod
	// MethodPasskeyOptions, then MethodPasskey, with the page's CSRF token
	// and FieldInteraction.
	Passkey bool
	// RecoveryCodes: offer a recovery code (the customer has an
	// authenticator app or unused recovery codes).
	RecoveryCodes bool
	// Recovery is true when the recovery-code form was the one sent (to
	// show it open after a refusal).
	Recovery bool
	Error    string
	Status   int
}

// NoSecondFactorPage is the data of the page shown to a customer without a
// second factor when what the app asks for needs strong customer
// authentication.
type NoSecondFactorPage struct {
	Action        string
	InteractionID string
	ClientName    string
	PartnerName   string
	CustomerName  string
	// Environment is the client's (and the customer's): where the
	// customer's Security page is.
	Environment environment.Environment
	// Payments are the payments asked for; empty for account access.
	Payments []PaymentSummary
	Status   int
}

// ScopeText is one requested scope and what it means in plain words.
type ScopeText struct {
	Scope string
	Text  string
}

// ErrorPage is shown when the customer cannot be sent back to the app.
type ErrorPage struct {
	Status  int
	Title   string // plain-language heading
	Message string // plain-language explanation
	Code    string // OAuth error code, e.g. invalid_request
	Hint    string // technical detail (the OAuth hint)
}

// scopeTexts are the plain-language meanings of the scopes Bankbridge knows.
var scopeTexts = map[string]string{
	"openid":   "Confirm to the app that it is you (your identity is not shared, only a private reference).",
	"accounts": "See the accounts you choose: names, balances and transactions.",
	"payments": "Make the payment you approve, from the account you choose.",
	"data":     "Share the data you approve below.",
}

func describeScopes(scopes []string) []ScopeText {
	var out []ScopeText
	for _, s := range scopes {
		t, ok := scopeTexts[s]
		if !ok {
			t = "Use the permission \u201c" + s + "\u201d."
		}
		out = append(out, ScopeText{Scope: s, Text: t})
	}
	return out
}

// interactionLifetime is how long a customer has to log in and decide.
const interactionLifetime = 15 * time.Minute
