// Package apis is Bankbridge's resource server: the consented partner APIs in
// the shape of the UK Open Banking Read/Write API v3.1 (account-access,
// domestic-payment and data-sharing consents, accounts, balances, transactions,
// funds confirmation, domestic payments, shared datasets), the middleware chain
// every call passes (interaction id, token + DPoP, scope, consent, idempotency,
// metering and the request log), and the oauth.ConsentBroker the authorization
// server asks about consents.
//
// Base paths: /open-banking/v3.1/aisp (account access), /open-banking/v3.1/pisp
// (domestic payments) as in the OB documents, and /open-banking/v3.1/data
// (Bankbridge's data sharing: data-sharing-consents and datasets/{dataset}).
// OpenAPI returns the document of all of them.
//
// Differences from Open Banking on purpose: FAPI 2.0 DPoP-bound tokens instead
// of FAPI 1 mTLS, RFC 9396 authorization_details instead of
// openbanking_intent_id, no detached JWS, errors as RFC 9457 problem+json, and a
// Bankbridge-only data-sharing API under /open-banking/v3.1/data.
package apis

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/risk"
	"github.com/bankbridge/bankbridge/risk/limits"
)

// Consent types (RFC 9396 authorization_details types).
const (
	TypeAccountAccess     = "account_access"
	TypePaymentInitiation = "payment_initiation"
	TypeDataSharing       = "data_sharing"
)

// Scopes a token needs per API family.
const (
	ScopeAccounts    = "accounts"
	ScopePayments    = "payments"
	ScopeDataSharing = "data_sharing"
)

// Consent statuses. OB v3.1.11 has no Expired (account access) nor
// Revoked/Expired (payments) in its enums: see Consent.OBStatus.
const (
	StatusAwaitingAuthorisation = "AwaitingAuthorisation"
	StatusAuthorised            = "Authorised"
	StatusRejected              = "Rejected"
	StatusRevoked               = "Revoked"
	StatusExpired               = "Expired"
	StatusConsumed              = "Consumed" // payment consents, after their payment
)

// Account-access permissions served (OB Permissions). Others are refused.
const (
	PermAccountsBasic       = "ReadAccountsBasic"
	PermAccountsDetail      = "ReadAccountsDetail"
	PermBalances            = "ReadBalances"
	PermTransactionsBasic   = "ReadTransactionsBasic"
	PermTransactionsDetail  = "ReadTransactionsDetail"
	PermTransactionsCredits = "ReadTransactionsCredits"
	PermTransactionsDebits  = "ReadTransactionsDebits"
)

// permissionText is every served permission in plain English (consent page).
var permissionText = map[string]string{
	PermAccountsBasic:       "See the list of your chosen accounts (type, currency, nickname)",
	PermAccountsDetail:      "See your chosen accounts' details, including sort code and account number",
	PermBalances:            "See your accounts' balances",
	PermTransactionsBasic:   "See your transactions (amount, date, status)",
	PermTransactionsDetail:  "See your transaction details (description, merchant, payee and running balance)",
	PermTransactionsCredits: "See money coming into your accounts",
	PermTransactionsDebits:  "See money going out of your accounts",
}

// Datasets served by the data-sharing API.
const (
	DatasetTransactionInsights = "transaction_insights"
	DatasetRiskSignals         = "risk_signals"
)

var datasetText = map[string]string{
	DatasetTransactionInsights: "Your spending per month and category (no individual transactions)",
	DatasetRiskSignals:         "Risk signals: how old your accounts are, returned payments, your monthly income band and days in overdraft",
}

// Payment statuses (OB OBWriteDomesticResponse5 Status).
const (
	PaymentPending                     = "Pending"
	PaymentAcceptedSettlementInProcess = "AcceptedSettlementInProcess"
	PaymentAcceptedSettlementCompleted = "AcceptedSettlementCompleted"
	PaymentRejected                    = "Rejected"
)

// Consent is one consent object of any type.
type Consent struct {
	ID          string
	Type        string
	PartnerID   string
	ClientID    string
	Environment environment.Environment
	Status      string
	// CustomerID and AccountIDs are bound when the customer authorises.
	CustomerID string
	AccountIDs []string
	// Account access.
	Permissions     []string
	TransactionFrom time.Time // zero: open
	TransactionTo   time.Time // zero: open
	// Data sharing.
	Datasets []string
	// Payment initiation.
	Initiation *Initiation
	Risk       map[string]any
	Amount     money.Money
	// ExpiresAt is the consent's expiry (zero: open-ended account access).
	ExpiresAt time.Time
	// Authorisation is how the customer authorised the consent (strong
	// customer authentication, or the exemption that spared it); zero until
	// then.
	Authorisation oauth.ConsentAuthorisation
	// Scoring is the transaction risk score of a payment consent at its
	// creation (zero when risk scoring is off).
	Scoring         RiskScore
	CreatedAt       time.Time
	StatusUpdatedAt time.Time
}

// RiskScore is a stored risk score with its decision and reasons (package
// risk).
type RiskScore struct {
	Score    int
	Decision string // "" when not scored
	Reasons  []risk.Reason
}

// Expired reports whether the consent has passed its expiry at now.
func (c *Consent) Expired(now time.Time) bool {
	return !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt)
}

// HasPermission reports whether the consent grants p.
func (c *Consent) HasPermission(p string) bool { return slices.Contains(c.Permissions, p) }

// HasAccount reports whether the customer bound accountID to the consent.
func (c *Consent) HasAccount(accountID string) bool { return slices.Contains(c.AccountIDs, accountID) }

// OBStatus is the status as Open Banking v3.1.11 can express it. Account
// access: Expired is shown as Authorised with a past ExpirationDateTime (the OB
// way of signalling expiry). Payment consents: Revoked and Expired are shown as
// Rejected. The exact status is always in Consent.Status (and the customer
// dashboard).
func (c *Consent) OBStatus() string {
	switch {
	case c.Type == TypePaymentInitiation && (c.Status == StatusRevoked || c.Status == StatusExpired):
		return StatusRejected
	case c.Status == StatusExpired:
		return StatusAuthorised
	}
	return c.Status
}

// FieldError is one field-level validation failure (problem extension "errors").
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

type fieldErrors []FieldError

func (f *fieldErrors) add(field, format string, args ...any) {
	*f = append(*f, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

// err returns a CodeValidation problem whose detail names the first failure.
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return problem.New(problem.CodeValidation, "%s %s", f[0].Field, f[0].Reason).With("errors", []FieldError(f))
}

// ---- Open Banking request and response bodies ----

// OBReadConsent1 is the account-access consent request.
type OBReadConsent1 struct {
	Data struct {
		Permissions             []string `json:"Permissions"`
		ExpirationDateTime      string   `json:"ExpirationDateTime,omitempty"`
		TransactionFromDateTime string   `json:"TransactionFromDateTime,omitempty"`
		TransactionToDateTime   string   `json:"TransactionToDateTime,omitempty"`
	} `json:"Data"`
	Risk map[string]any `json:"Risk"`
}

// AccountConsentRequest is a validated account-access consent request.
type AccountConsentRequest struct {
	Permissions     []string
	ExpiresAt       time.Time
	TransactionFrom time.Time
	TransactionTo   time.Time
}

// Validate checks the request against OB's rules (known, served permissions,
// no duplicates, transaction permissions need a Basic/Detail and a
// Credits/Debits permission, expiry in the future, window ordered) and returns
// the parsed request.
func (r *OBReadConsent1) Validate(now time.Time) (*AccountConsentRequest, error) {
	var f fieldErrors
	out := &AccountConsentRequest{}
	if r.Risk == nil {
		f.add("Risk", "is required")
	} else if len(r.Risk) > 0 {
		f.add("Risk", "must be an empty object for account access")
	}
	if len(r.Data.Permissions) == 0 {
		f.add("Data.Permissions", "must hold at least one permission")
	}
	seen := map[string]bool{}
	for _, p := range r.Data.Permissions {
		if _, ok := permissionText[p]; !ok {
			f.add("Data.Permissions", "permission %q is not supported", p)
			continue
		}
		if seen[p] {
			f.add("Data.Permissions", "permission %q is listed twice", p)
		}
		seen[p] = true
		out.Permissions = append(out.Permissions, p)
	}
	txnLevel := seen[PermTransactionsBasic] || seen[PermTransactionsDetail]
	txnSide := seen[PermTransactionsCredits] || seen[PermTransactionsDebits]
	switch {
	case txnLevel && !txnSide:
		f.add("Data.Permissions", "ReadTransactionsBasic or ReadTransactionsDetail needs ReadTransactionsCredits and/or ReadTransactionsDebits")
	case txnSide && !txnLevel:
		f.add("Data.Permissions", "ReadTransactionsCredits or ReadTransactionsDebits needs ReadTransactionsBasic or ReadTransactionsDetail")
	}
	parse := func(field, v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			f.add(field, "must be an ISO 8601 date-time with a time zone")
			return time.Time{}
		}
		return t.UTC().Truncate(time.Microsecond)
	}
	out.ExpiresAt = parse("Data.ExpirationDateTime", r.Data.ExpirationDateTime)
	out.TransactionFrom = parse("Data.TransactionFromDateTime", r.Data.TransactionFromDateTime)
	out.TransactionTo = parse("Data.TransactionToDateTime", r.Data.TransactionToDateTime)
	if !out.ExpiresAt.IsZero() && !out.ExpiresAt.After(now) {
		f.add("Data.ExpirationDateTime", "must be in the future")
	}
	if !out.TransactionFrom.IsZero() && !out.TransactionTo.IsZero() && !out.TransactionTo.After(out.TransactionFrom) {
		f.add("Data.TransactionToDateTime", "must be after TransactionFromDateTime")
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// OBAccountRef is an account identification (OB DebtorAccount/CreditorAccount).
type OBAccountRef struct {
	SchemeName              string `json:"SchemeName"`
	Identification          string `json:"Identification"`
	Name                    string `json:"Name,omitempty"`
	SecondaryIdentification string `json:"SecondaryIdentification,omitempty"`
}

// OBAmount is an OB amount: a decimal string and a currency.
type OBAmount struct {
	Amount   string `json:"Amount"`
	Currency string `json:"Currency"`
}

// Initiation is the OB domestic payment Initiation. The payment's Initiation
// must equal its consent's, member by member.
type Initiation struct {
	InstructionIdentification string         `json:"InstructionIdentification"`
	EndToEndIdentification    string         `json:"EndToEndIdentification"`
	LocalInstrument           string         `json:"LocalInstrument,omitempty"`
	InstructedAmount          OBAmount       `json:"InstructedAmount"`
	DebtorAccount             *OBAccountRef  `json:"DebtorAccount,omitempty"`
	CreditorAccount           OBAccountRef   `json:"CreditorAccount"`
	CreditorPostalAddress     map[string]any `json:"CreditorPostalAddress,omitempty"`
	RemittanceInformation     *struct {
		Unstructured string `json:"Unstructured,omitempty"`
		Reference    string `json:"Reference,omitempty"`
	} `json:"RemittanceInformation,omitempty"`
	SupplementaryData map[string]any `json:"SupplementaryData,omitempty"`
}

// Reference is the payment reference shown on statements.
func (in *Initiation) Reference() string {
	if in.RemittanceInformation != nil {
		if in.RemittanceInformation.Reference != "" {
			return in.RemittanceInformation.Reference
		}
		if len(in.RemittanceInformation.Unstructured) <= 35 {
			return in.RemittanceInformation.Unstructured
		}
	}
	return in.EndToEndIdentification
}

// canonical is the Initiation as canonical JSON (struct order, map keys sorted).
func (in *Initiation) canonical() string {
	b, _ := json.Marshal(in)
	return string(b)
}

// validate checks the initiation's fields and returns the parsed amount.
func (in *Initiation) validate(f *fieldErrors, prefix string) money.Money {
	p := prefix + ".Initiation."
	lenCheck := func(field, v string, min, max int) {
		if len(v) < min || len(v) > max {
			f.add(p+field, "must be %d to %d characters", min, max)
		}
	}
	lenCheck("InstructionIdentification", in.InstructionIdentification, 1, 35)
	lenCheck("EndToEndIdentification", in.EndToEndIdentification, 1, 35)
	var m money.Money
	if minor, err := money.ParseAmount(in.InstructedAmount.Amount, in.InstructedAmount.Currency); err != nil {
		f.add(p+"InstructedAmount", "%s", err.Error())
	} else {
		m = money.Money{Minor: minor, Currency: in.InstructedAmount.Currency}
	}
	checkAccount := func(field string, a *OBAccountRef, nameRequired bool) {
		switch {
		case a.SchemeName != "UK.OBIE.SortCodeAccountNumber":
			f.add(p+field+".SchemeName", "must be UK.OBIE.SortCodeAccountNumber")
		case !sortCodeAccount.MatchString(a.Identification):
			f.add(p+field+".Identification", "must be 14 digits (sort code and account number)")
		case nameRequired && (a.Name == "" || len(a.Name) > 140):
			f.add(p+field+".Name", "must be 1 to 140 characters")
		}
	}
	checkAccount("CreditorAccount", &in.CreditorAccount, true)
	if in.DebtorAccount != nil {
		checkAccount("DebtorAccount", in.DebtorAccount, false)
	}
	if r := in.RemittanceInformation; r != nil {
		if len(r.Reference) > 35 {
			f.add(p+"RemittanceInformation.Reference", "must be at most 35 characters")
		}
		if len(r.Unstructured) > 140 {
			f.add(p+"RemittanceInformation.Unstructured", "must be at most 140 characters")
		}
	}
	return m
}

var sortCodeAccount = regexp.MustCompile(`^[0-9]{14}$`)

// OBWriteDomesticConsent4 is the domestic payment consent request.
type OBWriteDomesticConsent4 struct {
	Data struct {
		ReadRefundAccount string         `json:"ReadRefundAccount,omitempty"`
		Initiation        Initiation     `json:"Initiation"`
		Authorisation     map[string]any `json:"Authorisation,omitempty"`
		SCASupportData    map[string]any `json:"SCASupportData,omitempty"`
	} `json:"Data"`
	Risk map[string]any `json:"Risk"`
}

// Validate checks the request and returns the parsed instructed amount.
func (r *OBWriteDomesticConsent4) Validate() (money.Money, error) {
	var f fieldErrors
	if r.Risk == nil {
		f.add("Risk", "is required")
	}
	if r.Data.ReadRefundAccount == "Yes" {
		f.add("Data.ReadRefundAccount", "refund accounts are not supported")
	}
	m := r.Data.Initiation.validate(&f, "Data")
	return m, f.err()
}

// OBWriteDomestic2 is the domestic payment request.
type OBWriteDomestic2 struct {
	Data struct {
		ConsentId  string     `json:"ConsentId"` //nolint:revive // OB member name
		Initiation Initiation `json:"Initiation"`
	} `json:"Data"`
	Risk map[string]any `json:"Risk"`
}

// Validate checks the request and returns the parsed instructed amount.
func (r *OBWriteDomestic2) Validate() (money.Money, error) {
	var f fieldErrors
	if r.Risk == nil {
		f.add("Risk", "is required")
	}
	if r.Data.ConsentId == "" {
		f.add("Data.ConsentId", "is required")
	}
	m := r.Data.Initiation.validate(&f, "Data")
	return m, f.err()
}

// DataSharingConsentRequest is the (Bankbridge) data-sharing consent request.
type DataSharingConsentRequest struct {
	Data struct {
		Datasets           []string `json:"Datasets"`
		ExpirationDateTime string   `json:"ExpirationDateTime,omitempty"`
	} `json:"Data"`
	Risk map[string]any `json:"Risk"`
}

// MaxDataSharingLifetime bounds a data-sharing consent (and is its default).
const MaxDataSharingLifetime = 90 * 24 * time.Hour

// Validate checks the datasets and expiry and returns the parsed expiry.
func (r *DataSharingConsentRequest) Validate(now time.Time) (time.Time, error) {
	var f fieldErrors
	if r.Risk == nil {
		f.add("Risk", "is required")
	}
	if len(r.Data.Datasets) == 0 {
		f.add("Data.Datasets", "must hold at least one dataset")
	}
	seen := map[string]bool{}
	for _, d := range r.Data.Datasets {
		if _, ok := datasetText[d]; !ok {
			f.add("Data.Datasets", "dataset %q is not known", d)
		} else if seen[d] {
			f.add("Data.Datasets", "dataset %q is listed twice", d)
		}
		seen[d] = true
	}
	exp := now.Add(MaxDataSharingLifetime).Truncate(time.Microsecond)
	if r.Data.ExpirationDateTime != "" {
		t, err := time.Parse(time.RFC3339Nano, r.Data.ExpirationDateTime)
		switch {
		case err != nil:
			f.add("Data.ExpirationDateTime", "must be an ISO 8601 date-time with a time zone")
		case !t.After(now):
			f.add("Data.ExpirationDateTime", "must be in the future")
		case t.Sub(now) > MaxDataSharingLifetime:
			f.add("Data.ExpirationDateTime", "must be at most 90 days away")
		default:
			exp = t.UTC().Truncate(time.Microsecond)
		}
	}
	return exp, f.err()
}

// Payment is a domestic payment initiated through the platform.
type Payment struct {
	ID              string
	ConsentID       string
	PartnerID       string
	ClientID        string
	Environment     environment.Environment
	DebtorAccountID string
	Amount          money.Money
	Initiation      *Initiation
	Status          string
	RejectReason    string // the core's reason, when Rejected
	// CustomerID is the consent's customer (who pays).
	CustomerID string
	// CreditorAccount is "SchemeName:Identification" of the payee.
	CreditorAccount string
	// Held: the risk scoring held the payment for review; it stays Pending
	// and is not sent to the core until a risk officer releases it.
	Held bool
	// Scoring is the risk score, decision and reasons at submission.
	Scoring         RiskScore
	CreatedAt       time.Time
	StatusUpdatedAt time.Time
}

// Limits bound payments; amounts are minor units of the payment's currency.
type Limits struct {
	PerPayment      int64
	PerConsent      int64
	PerPartnerDaily int64 // sum of a partner's non-rejected payments per UTC day and currency
	// VelocityCount payments from one debtor account within VelocityWindow are
	// allowed; the next is refused.
	VelocityCount  int
	VelocityWindow time.Duration
}

// DefaultLimits: 25,000.00 per payment and consent, 100,000.00 per partner
// per day, 10 payments per debtor account per minute.
func DefaultLimits() Limits {
	return Limits{PerPayment: 2_500_000, PerConsent: 2_500_000, PerPartnerDaily: 10_000_000,
		VelocityCount: 10, VelocityWindow: time.Minute}
}

// Defaults are l as the defaults of the risk officers' rules (risk/limits).
func (l Limits) Defaults() limits.Defaults {
	return limits.Defaults{PerPayment: l.PerPayment, PerPartnerDaily: l.PerPartnerDaily,
		VelocityCount: int64(l.VelocityCount), VelocityWindow: l.VelocityWindow}
}

// RequestLogEntry is one logged resource call (no bodies, no tokens).
type RequestLogEntry struct {
	ID            int64                   `json:"id"`
	At            time.Time               `json:"at"`
	ClientID      string                  `json:"client_id"`
	PartnerID     string                  `json:"partner_id"`
	Environment   environment.Environment `json:"environment"`
	Method        string                  `json:"method"`
	Path          string                  `json:"path"`
	Status        int                     `json:"status"`
	LatencyUS     int64                   `json:"latency_us"`
	InteractionID string                  `json:"interaction_id"`
	ProblemType   string                  `json:"problem_type,omitempty"`
}

// RequestLogFilter narrows RequestLog; zero fields match everything.
type RequestLogFilter struct {
	Query    string // substring of the path
	Status   int
	From, To time.Time
	Limit    int // default 100, max 1000
}

// UsageRecord is one metered resource call, handed to a UsageRecorder.
type UsageRecord struct {
	Key         string // unique per call (a fresh id): record it at most once
	PartnerID   string
	AppID       string // client_id
	Environment environment.Environment
	Product     string // accounts | payments | consents | data_sharing
	Kind        string // call | payment
	Billable    bool   // 2xx and not an idempotent replay
	Status      int
	Amount      money.Money // payments only
	At          time.Time
}

// UsageRecorder stores the UsageRecord of every metered call before the call
// is answered. Implemented by contracts (wired in cmd).
type UsageRecorder interface {
	// RecordUsage stores recs in the transaction ctx carries (Store.Tx; a
	// recorder on the platform database joins it with db.DB.Conn), so they
	// commit or roll back with the calls' request-log rows. A key recorded
	// already is skipped (each call is counted once); it returns how many
	// records it added.
	RecordUsage(ctx context.Context, recs []UsageRecord) (int64, error)
}

// UsageRowser is a UsageRecorder that can also hand its records as rows
// (db.Rows, with its ON CONFLICT: a key recorded already is skipped), so the
// apis store writes a batch of metered calls as one statement on PostgreSQL
// (GormStore.WriteCalls). Implemented by contracts (wired in cmd).
type UsageRowser interface {
	// UsageRows is recs as rows of the recorder's table, in order; it
	// refuses malformed records as RecordUsage does.
	UsageRows(recs []UsageRecord) (db.Rows, error)
}

// DatasetPolicy says which datasets a partner may receive (its contract's
// data-sharing scope). Implemented by contracts (wired in cmd).
type DatasetPolicy interface {
	AllowedDatasets(ctx context.Context, partnerID string) ([]string, error)
}

// StaticDatasetPolicy is an allow-list: ByPartner when the partner is listed,
// else Default.
type StaticDatasetPolicy struct {
	Default   []string
	ByPartner map[string][]string
}

// AllowedDatasets implements DatasetPolicy.
func (p StaticDatasetPolicy) AllowedDatasets(_ context.Context, partnerID string) ([]string, error) {
	if l, ok := p.ByPartner[partnerID]; ok {
		return l, nil
	}
	return p.Default, nil
}

// DefaultDatasetPolicy allows every partner transaction_insights only (the
// sandbox default until contracts define each partner's scope).
func DefaultDatasetPolicy() DatasetPolicy {
	return StaticDatasetPolicy{Default: []string{DatasetTransactionInsights}}
}

// errNotFound is the one answer for an unknown object and another partner's.
func errNotFound(kind, id string) error {
	return problem.New(problem.CodeNotFound, "%s %s not found", kind, id)
}
