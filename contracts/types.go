package contracts

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Actor is the member of staff (or the platform) performing an action.
type Actor struct {
	ID   string     // staff id (stf_…), or "system" for the platform itself
	Role staff.Role // the staff member's role; staff.RoleSystem for the platform
}

// SystemActor is the platform acting on its own (CLI, scheduled jobs), with
// staff.RoleSystem.
var SystemActor = Actor{ID: "system", Role: staff.RoleSystem}

// Contract statuses.
const (
	StatusDraft           = "draft"
	StatusPendingApproval = "pending_approval"
	StatusActive          = "active"
	StatusExpired         = "expired"
	StatusTerminated      = "terminated"
)

// Version statuses (besides draft, pending_approval and active).
const (
	VersionSuperseded = "superseded"
)

// Usage kinds.
const (
	KindCall    = "call"
	KindPayment = "payment"
)

// Adjustment kinds: a credit note lowers what the partner owes, a debit note raises it.
const (
	AdjustmentCredit = "credit"
	AdjustmentDebit  = "debit"
)

// Adjustment statuses. A credit note above the currency's limit (see
// Options.CreditNoteLimits) waits in pending_approval for a second member of
// staff; only an issued adjustment is posted to the ledger and billed.
const (
	AdjustmentIssued   = "issued"
	AdjustmentPending  = "pending_approval"
	AdjustmentRejected = "rejected"
)

// Statement line kinds.
const (
	LineCallFee         = "call_fee"
	LinePaymentFixedFee = "payment_fixed_fee"
	LinePaymentValueFee = "payment_value_fee"
	LineRevenueShare    = "revenue_share"
	LineMinimumTopUp    = "minimum_topup"
	LineAdjustment      = "adjustment"
	LineServiceCredit   = "service_credit" // service levels missed (clauses.go)
)

// Ledger account names (partner accounts are suffixed ":<partner id>").
const (
	AccountPartnerReceivable   = "partner_receivable"
	AccountPartnerPayable      = "partner_payable"
	AccountBankAPIRevenue      = "bank_api_revenue"
	AccountBankPaymentRevenue  = "bank_payment_revenue"
	AccountRevenueShareExpense = "revenue_share_expense"
	AccountBankAdjustments     = "bank_adjustments"
	AccountBankServiceCredits  = "bank_service_credits"
)

// PartnerAccount is the ledger account of a partner: PartnerAccount(AccountPartnerReceivable, "ptn_x").
func PartnerAccount(kind, partnerID string) string { return kind + ":" + partnerID }

// PartnerHook is told when a partner gets an active contract (partners moves it to
// "contracted"). It is called after the commit and must be idempotent.
type PartnerHook interface {
	MarkContracted(ctx context.Context, partnerID string) error
}

// EventStatementIssued is published for every new statement.
const EventStatementIssued = "statement.issued"

// FieldError is one field-level validation failure, carried in a validation
// problem's "errors" extension member.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// fieldErrors collects FieldErrors with a path prefix.
type fieldErrors []FieldError

func (f *fieldErrors) add(field, format string, args ...any) {
	*f = append(*f, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (f fieldErrors) err(what string) error {
	if len(f) == 0 {
		return nil
	}
	return problem.New(problem.CodeValidation, "%s is invalid", what).With("errors", []FieldError(f))
}

// Tier is one band of a graduated call price: it prices the calls numbered
// From+1 … To of the month. To is 0 for the unbounded last tier.
type Tier struct {
	From            int64 `json:"from"`
	To              int64 `json:"to"`
	UnitPriceMicros int64 `json:"unit_price_micros"` // per call, in millionths of a minor unit
}

// ProductFee is the per-call price of one API product.
type ProductFee struct {
	Product string `json:"product"`
	Tiers   []Tier `json:"tiers"`
}

// PaymentFee is charged per payment: a fixed amount plus basis points of its value.
type PaymentFee struct {
	FixedMinor int64 `json:"fixed_minor"`
	BPS        int64 `json:"bps"`
}

// FeeSchedule is what the bank charges the partner each month.
type FeeSchedule struct {
	CallFees       []ProductFee `json:"call_fees"`
	PaymentFee     PaymentFee   `json:"payment_fee"`
	MonthlyMinimum int64        `json:"monthly_minimum"` // minor units; 0 for none
}

// ShareTier is one monthly payment-volume band of the revenue share: when the
// month's payment value (minor units) is in [From, To) the whole payment revenue
// is shared at BPS. To is 0 for the unbounded last band.
type ShareTier struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
	BPS  int64 `json:"bps"`
}

// RevenueShare is the partner's share of the bank's payment revenue. No tiers
// means no share.
type RevenueShare struct {
	Tiers []ShareTier `json:"tiers"`
}

// Terms are the negotiated content of one contract version.
type Terms struct {
	Start        time.Time    `json:"start"` // inclusive, UTC
	End          time.Time    `json:"end"`   // exclusive, UTC
	AutoRenew    bool         `json:"auto_renew"`
	NoticeDays   int          `json:"notice_days"`
	Currency     string       `json:"currency"`
	FeeSchedule  FeeSchedule  `json:"fee_schedule"`
	RevenueShare RevenueShare `json:"revenue_share"`
	DataScopes   []string     `json:"data_scopes"` // datasets the partner may receive
	// The clauses (clauses.go); zero values mean "not agreed".
	Confidentiality   Confidentiality   `json:"confidentiality"`
	ServiceLevels     ServiceLevels     `json:"service_levels"`
	Liability         Liability         `json:"liability"`
	DisputeResolution DisputeResolution `json:"dispute_resolution"`
}

// Upper bounds that keep every statement computation far from int64 overflow.
const (
	MaxUnitPriceMicros = 1_000_000_000_000         // 1,000,000 minor units per call
	MaxFixedFeeMinor   = 1_000_000_000             // per payment
	MaxMonthlyMinimum  = 1_000_000_000_000_000     // minor units
	MaxBandBound       = 1_000_000_000_000_000_000 // tier and band bounds
)

var (
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	nameRE     = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
)

// Validate checks the tier bands: first starts at 0, each starts where the
// previous ended, ascending, last unbounded.
func validateBands(f *fieldErrors, path string, n int, band func(i int) (from, to int64)) {
	for i := 0; i < n; i++ {
		from, to := band(i)
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case i == 0 && from != 0:
			f.add(p+".from", "the first tier must start at 0")
		case i > 0:
			if _, prevTo := band(i - 1); prevTo != 0 && from != prevTo {
				f.add(p+".from", "must equal the previous tier's to (%d)", prevTo)
			}
		}
		if from < 0 || from > MaxBandBound {
			f.add(p+".from", "must be between 0 and %d", int64(MaxBandBound))
		}
		if to > MaxBandBound {
			f.add(p+".to", "must be at most %d", int64(MaxBandBound))
		}
		last := i == n-1
		switch {
		case last && to != 0:
			f.add(p+".to", "the last tier must be unbounded (0)")
		case !last && to == 0:
			f.add(p+".to", "only the last tier may be unbounded")
		case !last && to <= from:
			f.add(p+".to", "must be greater than from")
		}
	}
}

// Validate checks the product name and its tiers.
func (p ProductFee) Validate() error {
	var f fieldErrors
	p.validate(&f, "product_fee")
	return f.err("product fee")
}

func (p ProductFee) validate(f *fieldErrors, path string) {
	if !nameRE.MatchString(p.Product) {
		f.add(path+".product", "must be a lower-case product name")
	}
	if len(p.Tiers) == 0 {
		f.add(path+".tiers", "at least one tier is required")
	}
	for i, t := range p.Tiers {
		if t.UnitPriceMicros < 0 || t.UnitPriceMicros > MaxUnitPriceMicros {
			f.add(fmt.Sprintf("%s.tiers[%d].unit_price_micros", path, i), "must be between 0 and %d", int64(MaxUnitPriceMicros))
		}
	}
	validateBands(f, path+".tiers", len(p.Tiers), func(i int) (int64, int64) { return p.Tiers[i].From, p.Tiers[i].To })
}

// Validate checks the fixed fee and the rate.
func (p PaymentFee) Validate() error {
	var f fieldErrors
	p.validate(&f, "payment_fee")
	return f.err("payment fee")
}

func (p PaymentFee) validate(f *fieldErrors, path string) {
	if p.FixedMinor < 0 || p.FixedMinor > MaxFixedFeeMinor {
		f.add(path+".fixed_minor", "must be between 0 and %d", int64(MaxFixedFeeMinor))
	}
	if p.BPS < 0 || p.BPS > money.BPSDenominator {
		f.add(path+".bps", "must be between 0 and 10000")
	}
}

// Validate checks every product fee, the payment fee and the minimum.
func (s FeeSchedule) Validate() error {
	var f fieldErrors
	s.validate(&f, "fee_schedule")
	return f.err("fee schedule")
}

func (s FeeSchedule) validate(f *fieldErrors, path string) {
	seen := map[string]bool{}
	for i, pf := range s.CallFees {
		p := fmt.Sprintf("%s.call_fees[%d]", path, i)
		pf.validate(f, p)
		if seen[pf.Product] {
			f.add(p+".product", "duplicate product %q", pf.Product)
		}
		seen[pf.Product] = true
	}
	s.PaymentFee.validate(f, path+".payment_fee")
	if s.MonthlyMinimum < 0 || s.MonthlyMinimum > MaxMonthlyMinimum {
		f.add(path+".monthly_minimum", "must be between 0 and %d", int64(MaxMonthlyMinimum))
	}
}

// Validate checks the share bands.
func (r RevenueShare) Validate() error {
	var f fieldErrors
	r.validate(&f, "revenue_share")
	return f.err("revenue share")
}

func (r RevenueShare) validate(f *fieldErrors, path string) {
	for i, t := range r.Tiers {
		if t.BPS < 0 || t.BPS > money.BPSDenominator {
			f.add(fmt.Sprintf("%s.tiers[%d].bps", path, i), "must be between 0 and 10000")
		}
	}
	validateBands(f, path+".tiers", len(r.Tiers), func(i int) (int64, int64) { return r.Tiers[i].From, r.Tiers[i].To })
}

// Validate checks the whole of the terms; the problem's "errors" member lists
// every failing field.
func (t Terms) Validate() error {
	var f fieldErrors
	t.validate(&f)
	return f.err("contract terms")
}

func (t Terms) validate(f *fieldErrors) {
	if t.Start.IsZero() {
		f.add("start", "is required")
	}
	if t.End.IsZero() {
		f.add("end", "is required")
	} else if !t.End.After(t.Start) {
		f.add("end", "must be after start")
	}
	if t.NoticeDays < 0 || t.NoticeDays > 3650 {
		f.add("notice_days", "must be between 0 and 3650")
	}
	if !currencyRE.MatchString(t.Currency) {
		f.add("currency", "must be an ISO 4217 code of three upper-case letters")
	}
	t.FeeSchedule.validate(f, "fee_schedule")
	t.RevenueShare.validate(f, "revenue_share")
	seen := map[string]bool{}
	for i, s := range t.DataScopes {
		p := fmt.Sprintf("data_scopes[%d]", i)
		if !nameRE.MatchString(s) {
			f.add(p, "must be a lower-case dataset name")
		} else if seen[s] {
			f.add(p, "duplicate dataset %q", s)
		}
		seen[s] = true
	}
	t.Confidentiality.validate(f, "confidentiality")
	t.ServiceLevels.validate(f, "service_levels")
	t.Liability.validate(f, "liability")
	t.DisputeResolution.validate(f, "dispute_resolution")
}

// normalize puts times in UTC and sorts the scopes.
func (t Terms) normalize() Terms {
	t.Start, t.End = t.Start.UTC(), t.End.UTC()
	t.DataScopes = append([]string(nil), t.DataScopes...)
	sort.Strings(t.DataScopes)
	if t.DataScopes == nil {
		t.DataScopes = []string{}
	}
	t.Currency = strings.TrimSpace(t.Currency)
	return t.normalizeClauses()
}

// Contract is an agreement between the bank and a partner. Its terms are those of
// its active version (or, before approval, its latest version).
type Contract struct {
	ID            string     `json:"id"`
	PartnerID     string     `json:"partner_id"`
	Status        string     `json:"status"`
	ActiveVersion int        `json:"active_version"` // 0 until approved
	LatestVersion int        `json:"latest_version"`
	Start         time.Time  `json:"start"` // of the first term
	End           time.Time  `json:"end"`   // of the current term (moved by renewals)
	AutoRenew     bool       `json:"auto_renew"`
	NoticeDays    int        `json:"notice_days"`
	CreatedBy     string     `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	TerminatedAt  *time.Time `json:"terminated_at,omitempty"`
}

// Version is one version of a contract's terms.
type Version struct {
	ContractID      string     `json:"contract_id"`
	Version         int        `json:"version"`
	Status          string     `json:"status"` // draft, pending_approval, active, superseded
	Terms           Terms      `json:"terms"`
	CreatedBy       string     `json:"created_by"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedBy       string     `json:"updated_by,omitempty"` // the last editor of the terms
	Editors         []string   `json:"editors"`              // everyone who wrote the terms: creator and editors
	SubmittedBy     string     `json:"submitted_by,omitempty"`
	SubmittedAt     *time.Time `json:"submitted_at,omitempty"`
	ApprovedBy      string     `json:"approved_by,omitempty"`
	ApprovedAt      *time.Time `json:"approved_at,omitempty"`
	RejectionReason string     `json:"rejection_reason,omitempty"`
}

// UsageRecord is one metered event: a call or a payment.
type UsageRecord struct {
	Key           string                  // unique: a replay of the same key is not recorded again
	PartnerID     string                  // ptn_…
	AppID         string                  // app_…
	Environment   environment.Environment // sandbox | production
	Product       string                  // accounts | payments | data_sharing | consents | webhooks …
	Kind          string                  // call | payment
	Billable      bool                    // false for calls refused by the platform's checks
	Status        int                     // HTTP status answered
	PaymentAmount money.Money             // payments only: the payment's value
	At            time.Time               // when; stored in UTC
}

// Validate checks the record before it is stored.
func (r UsageRecord) Validate() error {
	var f fieldErrors
	if r.Key == "" || len(r.Key) > 200 {
		f.add("key", "must be 1 to 200 characters")
	}
	if r.PartnerID == "" {
		f.add("partner_id", "is required")
	}
	if r.Environment != environment.Sandbox && r.Environment != environment.Production {
		f.add("environment", "must be sandbox or production")
	}
	if !nameRE.MatchString(r.Product) {
		f.add("product", "must be a lower-case product name")
	}
	switch r.Kind {
	case KindCall:
		if r.PaymentAmount != (money.Money{}) {
			f.add("payment_amount", "must be empty for a call")
		}
	case KindPayment:
		if r.PaymentAmount.Minor < 0 {
			f.add("payment_amount.amount", "must not be negative")
		}
		if !currencyRE.MatchString(r.PaymentAmount.Currency) {
			f.add("payment_amount.currency", "must be an ISO 4217 code of three upper-case letters")
		}
	default:
		f.add("kind", "must be call or payment")
	}
	if r.At.IsZero() {
		f.add("at", "is required")
	}
	return f.err("usage record")
}

// UsageRow is usage aggregated per day, app, environment, product, kind and currency.
type UsageRow struct {
	Day           string                  `json:"day"` // YYYY-MM-DD (UTC)
	AppID         string                  `json:"app_id"`
	Environment   environment.Environment `json:"environment"`
	Product       string                  `json:"product"`
	Kind          string                  `json:"kind"`
	Currency      string                  `json:"currency"` // payments only
	Count         int64                   `json:"count"`    // every record
	Billable      int64                   `json:"billable"` // billable records
	PaymentAmount int64                   `json:"payment_amount"`
}

// Statement is one partner's settlement for one month.
type Statement struct {
	ID              string    `json:"id"`
	PartnerID       string    `json:"partner_id"`
	Period          string    `json:"period"` // YYYY-MM
	RunID           string    `json:"run_id"`
	ContractID      string    `json:"contract_id"`
	ContractVersion int       `json:"contract_version"`
	Currency        string    `json:"currency"`
	CallFees        int64     `json:"call_fees"`
	PaymentFees     int64     `json:"payment_fees"`
	MinimumTopUp    int64     `json:"minimum_topup"`
	RevenueShare    int64     `json:"revenue_share"`   // owed to the partner (positive)
	Adjustments     int64     `json:"adjustments"`     // signed: debit notes positive
	ServiceCredits  int64     `json:"service_credits"` // service levels missed (positive)
	Net             int64     `json:"net"`             // positive: partner owes the bank
	Direction       string    `json:"direction"`       // receivable | payable | none
	IssuedAt        time.Time `json:"issued_at"`
	Lines           []Line    `json:"lines,omitempty"`
}

// Net directions of a statement.
const (
	DirectionReceivable = "receivable" // the partner pays the bank
	DirectionPayable    = "payable"    // the bank pays the partner
	DirectionNone       = "none"       // nothing is due either way
)

// Line is one statement line. Amount is signed: positive adds to what the partner
// owes the bank, negative (revenue share, credit notes) reduces it.
type Line struct {
	Seq             int    `json:"seq"`
	Kind            string `json:"kind"`
	Product         string `json:"product,omitempty"`
	TierFrom        int64  `json:"tier_from"`
	TierTo          int64  `json:"tier_to"`
	Quantity        int64  `json:"quantity"`          // calls or payments in the line
	UnitPriceMicros int64  `json:"unit_price_micros"` // call lines
	RateBPS         int64  `json:"rate_bps"`          // value fee and revenue share lines
	Base            int64  `json:"base"`              // the amount a rate applies to
	Amount          int64  `json:"amount"`
	Reference       string `json:"reference,omitempty"` // adjustment id
	Description     string `json:"description"`
}

// Adjustment is a credit or debit note issued by staff.
type Adjustment struct {
	ID          string      `json:"id"`
	PartnerID   string      `json:"partner_id"`
	Period      string      `json:"period"` // the period it concerns
	Kind        string      `json:"kind"`   // credit | debit
	Amount      money.Money `json:"amount"` // positive
	Reason      string      `json:"reason"`
	StatementID string      `json:"statement_id,omitempty"` // set when a statement carries it
	PostingID   string      `json:"posting_id"`             // "" until issued
	CreatedBy   string      `json:"created_by"`
	CreatedAt   time.Time   `json:"created_at"`
	// Status is issued, pending_approval or rejected.
	Status string `json:"status"`
	// DecidedBy, DecidedAt and DecisionReason record the second approver's
	// decision on a credit note that needed one.
	DecidedBy      string     `json:"decided_by,omitempty"`
	DecidedAt      *time.Time `json:"decided_at,omitempty"`
	DecisionReason string     `json:"decision_reason,omitempty"`
}

// SettlementRun is one settlement of one period.
type SettlementRun struct {
	ID           string     `json:"id"`
	Period       string     `json:"period"`
	StartedAt    time.Time  `json:"started_at"`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
	StatementIDs []string   `json:"statement_ids"`
	// AlreadySettled is true when Settle found the period settled and changed nothing.
	AlreadySettled bool `json:"already_settled"`
}

// Posting is one balanced ledger transaction.
type Posting struct {
	ID                string    `json:"id"`
	IdempotencyKey    string    `json:"idempotency_key"`
	Description       string    `json:"description"`
	CreatedAt         time.Time `json:"created_at"`
	ReversesPostingID string    `json:"reverses_posting_id,omitempty"`
	Entries           []Entry   `json:"entries"`
}

// Entry is one leg of a posting: signed minor units, debit positive.
type Entry struct {
	Seq      int64  `json:"seq"`
	Account  string `json:"account"`
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
}

// Validate checks the posting: a key, at least two non-zero entries with an
// account and a currency, and a zero sum per currency.
func (p Posting) Validate() error {
	var f fieldErrors
	if p.IdempotencyKey == "" || len(p.IdempotencyKey) > 200 {
		f.add("idempotency_key", "must be 1 to 200 characters")
	}
	if len(p.Entries) < 2 {
		f.add("entries", "a posting needs at least two entries")
	}
	sums := map[string]int64{}
	for i, e := range p.Entries {
		path := fmt.Sprintf("entries[%d]", i)
		if e.Account == "" {
			f.add(path+".account", "is required")
		}
		if !currencyRE.MatchString(e.Currency) {
			f.add(path+".currency", "must be an ISO 4217 code of three upper-case letters")
		}
		if e.Amount == 0 {
			f.add(path+".amount", "must not be zero")
		}
		sums[e.Currency] += e.Amount
	}
	if err := f.err("posting"); err != nil {
		return err
	}
	var cur []string
	for c, s := range sums {
		if s != 0 {
			cur = append(cur, c)
		}
	}
	if len(cur) > 0 {
		sort.Strings(cur)
		return problem.New(problem.CodeValidation, "posting does not balance: %s entries sum to %d", cur[0], sums[cur[0]])
	}
	return nil
}

// Difference is one disagreement found by Reconcile.
type Difference struct {
	Kind        string `json:"kind"`
	PartnerID   string `json:"partner_id"`
	StatementID string `json:"statement_id,omitempty"`
	Detail      string `json:"detail"`
	Expected    int64  `json:"expected"`
	Actual      int64  `json:"actual"`
}

// Difference kinds.
const (
	DiffLineMismatch     = "line_mismatch"     // a line's amount or quantity disagrees with recomputation
	DiffLineMissing      = "line_missing"      // recomputation has a line the statement lacks
	DiffLineExtra        = "line_extra"        // the statement has a line recomputation lacks
	DiffNetMismatch      = "net_mismatch"      // the statement's net is not the sum of its lines
	DiffPostingMissing   = "posting_missing"   // a statement or adjustment without its posting
	DiffPostingNet       = "posting_net"       // postings do not sum to the statement's net
	DiffUnsettledUsage   = "unsettled_usage"   // billable usage of a partner without a statement
	DiffForeignCurrency  = "foreign_currency"  // payments in another currency than the contract's
	DiffLedgerUnbalanced = "ledger_unbalanced" // the whole ledger does not sum to zero
)

// Report is the result of Reconcile: empty Differences means everything agrees.
type Report struct {
	Period      string       `json:"period"`
	Statements  int          `json:"statements"`
	Differences []Difference `json:"differences"`
}
