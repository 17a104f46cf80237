// Package partners holds Bankbridge's partner domain: organisations and their
// lifecycle (sandbox → applied → under_review → approved → contracted →
// certified → live, suspended, terminated), applications and due diligence,
// portal users, memberships and invitations, apps (which are the OAuth clients,
// with RFC 7591/7592 dynamic registration), maker-checker approvals and
// certification runs. Staff accounts and the staff permission table are
// partners/staff; plans and quotas are partners/plans.
//
// Pages are built on top of Service; this package renders no HTML.
package partners

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Status is a partner's lifecycle state.
type Status string

// The partner lifecycle states.
const (
	StatusSandbox     Status = "sandbox"
	StatusApplied     Status = "applied"
	StatusUnderReview Status = "under_review"
	StatusApproved    Status = "approved"
	StatusContracted  Status = "contracted"
	StatusCertified   Status = "certified"
	StatusLive        Status = "live"
	StatusSuspended   Status = "suspended"
	StatusTerminated  Status = "terminated"
)

// Statuses lists every partner status in lifecycle order.
var Statuses = []Status{StatusSandbox, StatusApplied, StatusUnderReview, StatusApproved,
	StatusContracted, StatusCertified, StatusLive, StatusSuspended, StatusTerminated}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, x := range Statuses {
		if x == s {
			return true
		}
	}
	return false
}

// transitions is the lifecycle as data: which status may follow which, and by
// which operation. Suspend and Terminate are allowed from any status not listed
// as excluded below (see canSuspend, canTerminate).
var transitions = map[Status][]Status{
	StatusSandbox:     {StatusApplied},
	StatusApplied:     {StatusUnderReview},
	StatusUnderReview: {StatusApproved, StatusSandbox},
	StatusApproved:    {StatusContracted},
	StatusContracted:  {StatusCertified},
	StatusCertified:   {StatusLive},
}

// CanTransition reports whether a partner may move from one status to another.
// Suspension is possible from every status but suspended and terminated;
// termination from every status but terminated; a suspended partner returns to
// the status it was suspended from.
func CanTransition(from, to Status) bool {
	switch to {
	case StatusSuspended:
		return from != StatusSuspended && from != StatusTerminated && from.Valid()
	case StatusTerminated:
		return from != StatusTerminated && from.Valid()
	}
	if from == StatusSuspended {
		return to.Valid() && to != StatusSuspended
	}
	for _, x := range transitions[from] {
		if x == to {
			return true
		}
	}
	return false
}

// Partner is an organisation using the platform.
type Partner struct {
	ID                          string `gorm:"primaryKey"`
	LegalName                   string
	TradingName                 string
	CompanyNumber               string
	Country                     string // ISO 3166-1 alpha-2
	LicenceNumber               string
	Website                     string
	IntendedUse                 string
	ExpectedMonthlyAPICalls     int64 `gorm:"column:expected_monthly_api_calls"`
	ExpectedMonthlyPayments     int64 // count
	ExpectedMonthlyPaymentValue int64 // minor units of Currency
	Currency                    string
	Status                      Status
	// StatusReason is visible to the partner (rejection or suspension reasons).
	StatusReason string
	// SuspendedFrom is the status a suspended partner returns to on reinstatement.
	SuspendedFrom Status
	// SuspendedBy and SuspendedByRole name the staff member who suspended the
	// partner and their role then (lifting a risk officer's suspension needs
	// a risk officer).
	SuspendedBy     string
	SuspendedByRole staff.Role
	// RiskRating is the bank's current view of the partner's risk (medium
	// until rated; SetRiskRating changes it, RiskHistory lists the changes).
	RiskRating RiskRating `gorm:"default:medium"`
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// TableName maps Partner to its table.
func (Partner) TableName() string { return "partners" }

// Name is how the partner is shown: its trading name, else its legal name.
func (p *Partner) Name() string {
	if p.TradingName != "" {
		return p.TradingName
	}
	return p.LegalName
}

var (
	countryRe  = regexp.MustCompile(`^[A-Z]{2}$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
)

func invalid(format string, args ...any) *problem.Error {
	return problem.New(problem.CodeValidation, format, args...)
}

func checkLen(field, v string, min, max int) error {
	n := utf8.RuneCountInString(v)
	if n < min {
		if min == 1 {
			return invalid("%s is required", field)
		}
		return invalid("%s must be at least %d characters", field, min)
	}
	if n > max {
		return invalid("%s must be at most %d characters", field, max)
	}
	return nil
}

func checkHTTPSURL(field, v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return invalid("%s must be an absolute https URL without credentials or fragment, got %q", field, v)
	}
	return nil
}

// profileFields are the organisation details shared by Partner, Application
// and ProfileInput.
type profileFields struct {
	legalName, tradingName, companyNumber, country, licence, website, intendedUse, currency string
	calls, payments, value                                                                  int64
}

func (f profileFields) validate(required bool) error {
	if err := checkLen("legal_name", f.legalName, 1, 200); err != nil {
		return err
	}
	if err := checkLen("trading_name", f.tradingName, 0, 200); err != nil {
		return err
	}
	min := 0
	if required {
		min = 1
	}
	if err := checkLen("company_number", f.companyNumber, min, 50); err != nil {
		return err
	}
	if err := checkLen("licence_number", f.licence, 0, 100); err != nil {
		return err
	}
	if (required || f.country != "") && !countryRe.MatchString(f.country) {
		return invalid("country must be an ISO 3166-1 alpha-2 code such as GB, got %q", f.country)
	}
	if required || f.website != "" {
		if err := checkHTTPSURL("website", f.website); err != nil {
			return err
		}
	}
	if required {
		if err := checkLen("intended_use", f.intendedUse, 20, 4000); err != nil {
			return err
		}
	} else if err := checkLen("intended_use", f.intendedUse, 0, 4000); err != nil {
		return err
	}
	if f.calls < 0 || f.payments < 0 || f.value < 0 {
		return invalid("expected monthly volumes must not be negative")
	}
	if f.value > 0 && !currencyRe.MatchString(f.currency) {
		return invalid("currency must be an ISO 4217 code such as GBP when a payment value is given, got %q", f.currency)
	}
	if f.currency != "" && !currencyRe.MatchString(f.currency) {
		return invalid("currency must be an ISO 4217 code such as GBP, got %q", f.currency)
	}
	return nil
}

func (p *Partner) fields() profileFields {
	return profileFields{p.LegalName, p.TradingName, p.CompanyNumber, p.Country, p.LicenceNumber, p.Website,
		p.IntendedUse, p.Currency, p.ExpectedMonthlyAPICalls, p.ExpectedMonthlyPayments, p.ExpectedMonthlyPaymentValue}
}

// Validate checks the partner's fields.
func (p *Partner) Validate() error {
	if err := p.fields().validate(false); err != nil {
		return err
	}
	if !p.Status.Valid() {
		return invalid("status %q is not a partner status", p.Status)
	}
	if p.SuspendedFrom != "" && (!p.SuspendedFrom.Valid() || p.Status != StatusSuspended) {
		return invalid("suspended_from %q is only valid on a suspended partner", p.SuspendedFrom)
	}
	return checkLen("status_reason", p.StatusReason, 0, 2000)
}

// ProfileInput is what a partner owner may change about the organisation.
type ProfileInput struct {
	LegalName                   string `json:"legal_name"`
	TradingName                 string `json:"trading_name"`
	CompanyNumber               string `json:"company_number"`
	Country                     string `json:"country"`
	LicenceNumber               string `json:"licence_number"`
	Website                     string `json:"website"`
	IntendedUse                 string `json:"intended_use"`
	ExpectedMonthlyAPICalls     int64  `json:"expected_monthly_api_calls"`
	ExpectedMonthlyPayments     int64  `json:"expected_monthly_payments"`
	ExpectedMonthlyPaymentValue int64  `json:"expected_monthly_payment_value"`
	Currency                    string `json:"currency"`
}

func (in *ProfileInput) fields() profileFields {
	return profileFields{in.LegalName, in.TradingName, in.CompanyNumber, in.Country, in.LicenceNumber, in.Website,
		in.IntendedUse, in.Currency, in.ExpectedMonthlyAPICalls, in.ExpectedMonthlyPayments, in.ExpectedMonthlyPaymentValue}
}

// Validate checks the profile (optional fields may be empty).
func (in *ProfileInput) Validate() error { return in.fields().validate(false) }

// Application is a partnership application: a snapshot of the organisation
// details when the partner applied, plus a contact.
type Application struct {
	ID                          string `gorm:"primaryKey"`
	PartnerID                   string
	SubmittedBy                 string // usr_…
	LegalName                   string `json:"legal_name"`
	TradingName                 string `json:"trading_name"`
	CompanyNumber               string `json:"company_number"`
	Country                     string `json:"country"`
	LicenceNumber               string `json:"licence_number"`
	Website                     string `json:"website"`
	IntendedUse                 string `json:"intended_use"`
	ExpectedMonthlyAPICalls     int64  `json:"expected_monthly_api_calls" gorm:"column:expected_monthly_api_calls"`
	ExpectedMonthlyPayments     int64  `json:"expected_monthly_payments"`
	ExpectedMonthlyPaymentValue int64  `json:"expected_monthly_payment_value"`
	Currency                    string `json:"currency"`
	ContactName                 string `json:"contact_name"`
	ContactEmail                string `json:"contact_email"`
	SubmittedAt                 time.Time
}

// TableName maps Application to its table.
func (Application) TableName() string { return "partner_applications" }

// Validate checks the application: everything but the trading name, licence
// number and volumes is required.
func (a *Application) Validate() error {
	f := profileFields{a.LegalName, a.TradingName, a.CompanyNumber, a.Country, a.LicenceNumber, a.Website,
		a.IntendedUse, a.Currency, a.ExpectedMonthlyAPICalls, a.ExpectedMonthlyPayments, a.ExpectedMonthlyPaymentValue}
	if err := f.validate(true); err != nil {
		return err
	}
	if err := checkLen("contact_name", a.ContactName, 1, 200); err != nil {
		return err
	}
	if _, err := normaliseEmail(a.ContactEmail); err != nil {
		return invalid("contact_email: %s", detailOf(err))
	}
	return nil
}

// AMLResult is the outcome of anti-money-laundering screening.
type AMLResult string

// AML screening outcomes.
const (
	AMLClear  AMLResult = "clear"
	AMLReview AMLResult = "review"
	AMLHit    AMLResult = "hit"
)

// Decision is a yes/no outcome of a review.
type Decision string

// Decisions.
const (
	DecisionApproved Decision = "approved"
	DecisionRejected Decision = "rejected"
)

// DueDiligence is the staff scorecard for one application.
type DueDiligence struct {
	ID                          string `gorm:"primaryKey"`
	PartnerID                   string
	ApplicationID               string
	IndustryStanding            int       `json:"industry_standing"`
	IndustryStandingNotes       string    `json:"industry_standing_notes"`
	BusinessCapability          int       `json:"business_capability"`
	BusinessCapabilityNotes     string    `json:"business_capability_notes"`
	ResourceIntegration         int       `json:"resource_integration"`
	ResourceIntegrationNotes    string    `json:"resource_integration_notes"`
	WillingnessToCooperate      int       `json:"willingness_to_cooperate"`
	WillingnessToCooperateNotes string    `json:"willingness_to_cooperate_notes"`
	LicenceVerified             bool      `json:"licence_verified"`
	AMLResult                   AMLResult `json:"aml_result" gorm:"column:aml_result"`
	ComplianceNotes             string    `json:"compliance_notes"`
	ReviewerID                  string    // stf_… who recorded the scorecard
	Decision                    Decision  // "" until decided
	Reasons                     string    // visible to the partner
	DecidedBy                   string
	DecidedAt                   *time.Time
	CreatedAt                   time.Time
	UpdatedAt                   time.Time
}

// TableName maps DueDiligence to its table.
func (DueDiligence) TableName() string { return "due_diligence" }

// Validate checks the scorecard: four scores 1–5, an AML result, notes within limits.
func (d *DueDiligence) Validate() error {
	for _, s := range []struct {
		name  string
		score int
		notes string
	}{
		{"industry_standing", d.IndustryStanding, d.IndustryStandingNotes},
		{"business_capability", d.BusinessCapability, d.BusinessCapabilityNotes},
		{"resource_integration", d.ResourceIntegration, d.ResourceIntegrationNotes},
		{"willingness_to_cooperate", d.WillingnessToCooperate, d.WillingnessToCooperateNotes},
	} {
		if s.score < 1 || s.score > 5 {
			return invalid("%s must be a score from 1 to 5, got %d", s.name, s.score)
		}
		if err := checkLen(s.name+"_notes", s.notes, 0, 4000); err != nil {
			return err
		}
	}
	switch d.AMLResult {
	case AMLClear, AMLReview, AMLHit:
	default:
		return invalid("aml_result must be clear, review or hit, got %q", d.AMLResult)
	}
	if d.Decision != "" && d.Decision != DecisionApproved && d.Decision != DecisionRejected {
		return invalid("decision must be approved or rejected, got %q", d.Decision)
	}
	return checkLen("compliance_notes", d.ComplianceNotes, 0, 4000)
}

// Score is the sum of the four 1–5 scores (4–20).
func (d *DueDiligence) Score() int {
	return d.IndustryStanding + d.BusinessCapability + d.ResourceIntegration + d.WillingnessToCooperate
}

// User is a portal user (a person at a partner) as pages and other packages
// see it: no password hash.
type User struct {
	ID              string
	Email           string // lower-cased: unique case-insensitively
	EmailVerifiedAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// userRow is the stored portal user (table portal_users).
type userRow struct {
	ID              string `gorm:"primaryKey"`
	Email           string // stored lower-cased: unique case-insensitively
	PasswordHash    string
	EmailVerifiedAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (userRow) TableName() string { return "portal_users" }

// user is the row without its password hash.
func (u *userRow) user() *User {
	return &User{ID: u.ID, Email: u.Email, EmailVerifiedAt: u.EmailVerifiedAt, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// validate checks the user's email and that a password hash is present.
func (u *userRow) validate() error {
	if _, err := normaliseEmail(u.Email); err != nil {
		return err
	}
	if u.PasswordHash == "" {
		return invalid("password hash missing")
	}
	return nil
}

// normaliseEmail trims and lower-cases an email address and checks its form
// (staff.NormaliseEmail: one rule for the portal and the console).
func normaliseEmail(s string) (string, error) { return staff.NormaliseEmail(s) }

// MinPasswordLength is the shortest accepted password.
const MinPasswordLength = staff.MinPasswordLength

func checkPassword(pw string) error { return staff.CheckPassword(pw) }

// Role is a member role (a person at a partner). Staff roles are staff.Role.
type Role string

// Member roles (people at a partner).
const (
	RoleOwner     Role = "owner"
	RoleDeveloper Role = "developer"
	RoleViewer    Role = "viewer"
)

// IsMemberRole reports whether r is a member role.
func (r Role) IsMemberRole() bool { return r == RoleOwner || r == RoleDeveloper || r == RoleViewer }

// Membership links a portal user to a partner with a role.
type Membership struct {
	PartnerID string `gorm:"primaryKey"`
	UserID    string `gorm:"primaryKey"`
	Role      Role
	CreatedAt time.Time
}

// TableName maps Membership to its table.
func (Membership) TableName() string { return "memberships" }

// Validate checks the role.
func (m *Membership) Validate() error {
	if !m.Role.IsMemberRole() {
		return invalid("role must be owner, developer or viewer, got %q", m.Role)
	}
	return nil
}

// Member is a membership with the user's email, for team pages.
type Member struct {
	UserID        string
	Email         string
	Role          Role
	EmailVerified bool
	Since         time.Time
}

// Invitation invites an email address into a partner with a role.
type Invitation struct {
	ID         string `gorm:"primaryKey"`
	PartnerID  string
	Email      string
	Role       Role
	TokenHash  string `json:"-"`
	InvitedBy  string
	ExpiresAt  time.Time
	AcceptedAt *time.Time
	CreatedAt  time.Time
}

// TableName maps Invitation to its table.
func (Invitation) TableName() string { return "invitations" }

// Validate checks the email and role.
func (i *Invitation) Validate() error {
	if _, err := normaliseEmail(i.Email); err != nil {
		return err
	}
	m := Membership{Role: i.Role}
	return m.Validate()
}

// App statuses.
const (
	AppActive    = "active"
	AppSuspended = "suspended"
	AppRevoked   = "revoked"
)

// Scopes an app may be granted.
var KnownScopes = []string{"openid", "accounts", "payments", "data_sharing", "webhooks"}

// App is a partner application, which is also an OAuth client (ID = client_id).
type App struct {
	ID           string `gorm:"primaryKey"`
	PartnerID    string
	Name         string
	Environment  environment.Environment // environment.Sandbox or environment.Production
	RedirectURIs []string                `gorm:"serializer:json;column:redirect_uris"`
	Scopes       []string                `gorm:"serializer:json"`
	JWKS         string                  `gorm:"column:jwks"`     // inline JWK Set (JSON), or
	JWKSURI      string                  `gorm:"column:jwks_uri"` // where to fetch it
	// GrantTypes are the grant types the app registered (RFC 7591
	// grant_types), space separated; "" means all three (see GrantTypesOf).
	GrantTypes string
	// RequireSignedRequests makes the payment APIs refuse the app's payment
	// requests without a UK OB x-jws-signature (migration 0024).
	RequireSignedRequests bool   `gorm:"column:require_signed_requests"`
	Status                string // AppActive, AppSuspended, AppRevoked
	StatusReason          string
	// SuspendedBy and SuspendedByRole name the staff member who suspended the
	// app and their role then.
	SuspendedBy     string
	SuspendedByRole staff.Role
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TableName maps App to its table.
func (App) TableName() string { return "apps" }

// Validate checks name, environment, redirect URIs, scopes and credentials.
func (a *App) Validate() error {
	if err := checkLen("name", a.Name, 1, 100); err != nil {
		return err
	}
	if a.Environment != environment.Sandbox && a.Environment != environment.Production {
		return invalid("environment must be sandbox or production, got %q", a.Environment)
	}
	if err := ValidateRedirectURIs(a.Environment, a.RedirectURIs); err != nil {
		return err
	}
	if err := ValidateScopes(a.Scopes); err != nil {
		return err
	}
	if err := ValidateCredentials(json.RawMessage(a.JWKS), a.JWKSURI); err != nil {
		return err
	}
	switch a.Status {
	case AppActive, AppSuspended, AppRevoked:
	default:
		return invalid("app status must be active, suspended or revoked, got %q", a.Status)
	}
	return nil
}

// ValidateRedirectURIs checks redirect URIs: 1–10, each absolute https without
// fragment or credentials; in sandbox also http://localhost or
// http://127.0.0.1 (any port). Errors are CodeValidation.
func ValidateRedirectURIs(env environment.Environment, uris []string) error {
	if len(uris) == 0 {
		return invalid("at least one redirect URI is required")
	}
	if len(uris) > 10 {
		return invalid("at most 10 redirect URIs are allowed, got %d", len(uris))
	}
	seen := map[string]bool{}
	for _, raw := range uris {
		if seen[raw] {
			return invalid("redirect URI %q is listed twice", raw)
		}
		seen[raw] = true
		if len(raw) > 2000 {
			return invalid("redirect URI is longer than 2000 characters")
		}
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
			return invalid("redirect URI %q must be an absolute URL", raw)
		}
		if u.Fragment != "" || strings.Contains(raw, "#") {
			return invalid("redirect URI %q must not contain a fragment", raw)
		}
		if u.User != nil {
			return invalid("redirect URI %q must not contain credentials", raw)
		}
		switch u.Scheme {
		case "https":
		case "http":
			h := u.Hostname()
			if h != "localhost" && h != "127.0.0.1" {
				return invalid("redirect URI %q: http is only allowed for localhost or 127.0.0.1", raw)
			}
			if env != environment.Sandbox {
				return invalid("redirect URI %q: http (localhost) is only allowed for sandbox apps", raw)
			}
		default:
			return invalid("redirect URI %q must use https", raw)
		}
	}
	return nil
}

// ValidateScopes checks scopes are a non-empty, duplicate-free subset of KnownScopes.
func ValidateScopes(scopes []string) error {
	if len(scopes) == 0 {
		return invalid("at least one scope is required (%s)", strings.Join(KnownScopes, " "))
	}
	seen := map[string]bool{}
	for _, s := range scopes {
		if seen[s] {
			return invalid("scope %q is listed twice", s)
		}
		seen[s] = true
		ok := false
		for _, k := range KnownScopes {
			if s == k {
				ok = true
			}
		}
		if !ok {
			return invalid("scope %q is not one of %s", s, strings.Join(KnownScopes, " "))
		}
	}
	return nil
}

// InitialAccessToken authorises one RFC 7591 dynamic client registration for
// one partner and environment. Only its hash is stored.
type InitialAccessToken struct {
	TokenHash   string `gorm:"primaryKey" json:"-"`
	PartnerID   string
	Environment environment.Environment
	CreatedBy   string
	ExpiresAt   time.Time
	UsedAt      *time.Time
	UsedFor     string // app id registered with it
	CreatedAt   time.Time
}

// TableName maps InitialAccessToken to its table.
func (InitialAccessToken) TableName() string { return "initial_access_tokens" }

// Validate checks environment and expiry.
func (t *InitialAccessToken) Validate() error {
	if t.Environment != environment.Sandbox && t.Environment != environment.Production {
		return invalid("environment must be sandbox or production, got %q", t.Environment)
	}
	if t.PartnerID == "" || t.TokenHash == "" || t.ExpiresAt.IsZero() {
		return invalid("initial access token incomplete")
	}
	return nil
}

// RegistrationAccessToken is an app's RFC 7592 management token (hash only).
// It works only while CreatedBy, the member who registered the app, is still
// a member of the app's partner with a role that may change its apps.
type RegistrationAccessToken struct {
	AppID     string `gorm:"primaryKey"`
	TokenHash string `json:"-"`
	CreatedBy string // usr_… who created the initial access token used to register
	CreatedAt time.Time
}

// TableName maps RegistrationAccessToken to its table.
func (RegistrationAccessToken) TableName() string { return "registration_access_tokens" }

// Validate checks both fields are set.
func (t *RegistrationAccessToken) Validate() error {
	if t.AppID == "" || t.TokenHash == "" {
		return invalid("registration access token incomplete")
	}
	return nil
}

// Approval kinds and statuses.
const (
	KindGoLive       = "go_live"
	KindReinstate    = "reinstate"
	KindAppReinstate = "app_reinstate"

	ApprovalPending  = "pending"
	ApprovalApproved = "approved"
	ApprovalRejected = "rejected"
)

// ApprovalRequest is a maker-checker request: one staff member asks, another decides.
type ApprovalRequest struct {
	ID            string `gorm:"primaryKey"`
	Kind          string
	PartnerID     string
	AppID         string // the app of an app_reinstate request
	RequestedBy   string
	RequestedAt   time.Time
	RequestReason string
	DecidedBy     string
	DecidedAt     *time.Time
	Status        string
	Reasons       string
}

// TableName maps ApprovalRequest to its table.
func (ApprovalRequest) TableName() string { return "approval_requests" }

// Validate checks kind and status.
func (a *ApprovalRequest) Validate() error {
	if a.Kind != KindGoLive && a.Kind != KindReinstate && a.Kind != KindAppReinstate {
		return invalid("approval kind must be go_live, reinstate or app_reinstate, got %q", a.Kind)
	}
	if (a.Kind == KindAppReinstate) != (a.AppID != "") {
		return invalid("an app id goes with app_reinstate requests only")
	}
	switch a.Status {
	case ApprovalPending, ApprovalApproved, ApprovalRejected:
	default:
		return invalid("approval status %q unknown", a.Status)
	}
	if a.PartnerID == "" || a.RequestedBy == "" {
		return invalid("approval request incomplete")
	}
	return nil
}

// Certification results.
const (
	CertPassed = "passed"
	CertFailed = "failed"
)

// CertificationCheck is one integration check with the evidence behind it.
type CertificationCheck struct {
	Name     string         `json:"name"`
	Passed   bool           `json:"passed"`
	Detail   string         `json:"detail,omitempty"`
	Evidence map[string]any `json:"evidence,omitempty"` // e.g. request log ids, interaction ids
}

// CertificationRun records one certification attempt of a partner's sandbox app.
type CertificationRun struct {
	ID         string `gorm:"primaryKey"`
	PartnerID  string
	AppID      string
	RunBy      string
	StartedAt  time.Time
	FinishedAt time.Time
	Result     string
	Checks     []CertificationCheck `gorm:"serializer:json"`
}

// TableName maps CertificationRun to its table.
func (CertificationRun) TableName() string { return "certification_runs" }

// Validate checks result and that checks are present.
func (r *CertificationRun) Validate() error {
	if r.Result != CertPassed && r.Result != CertFailed {
		return invalid("certification result must be passed or failed, got %q", r.Result)
	}
	if r.PartnerID == "" || r.AppID == "" {
		return invalid("certification run incomplete")
	}
	return nil
}
