// Package limits holds the payment limits that the bank's risk officers set
// (issue 16 item 1): rules per platform, partner, app or customer; per
// payment, per UTC day, per UTC month or a velocity; per currency (ISO 4217,
// amounts in the currency's minor units, entered and shown in major units)
// and per environment. Changes are proposed by one risk officer and approved
// by another (or an admin), audited, and effective at once on every node:
// each node caches the rules and drops them through internal/cachebus when a
// change is approved anywhere.
//
// # Precedence
//
// The rules that apply to a payment (Applicable) are those of its
// environment and currency whose subject is the platform, the payment's
// partner, its app or its customer. For each kind the platform's rule, when
// risk officers set one, replaces the built-in default (Defaults: the
// numbers fixed in code before, which apply in minor units of any
// currency); partner, app and customer rules come on top of it and can only
// tighten: the effective limit is the tightest applicable rule.
//
//   - per_payment: the payment's amount must not exceed any applicable rule
//     (the smallest one is reported);
//   - per_day / per_month: the sum of the subject's non-rejected payments in
//     the currency since the start of the UTC day / month, plus this payment,
//     must not exceed the rule. The subject is the rule's partner, app or
//     customer; the platform's rule (and the default) bounds each partner,
//     as before. Of the rules overrun, the one with the least room left is
//     reported.
//   - velocity: at most Count payments from one debtor account within
//     Window (counted in every currency, as before); of the rules reached,
//     the smallest count is reported.
//
// Ties are reported in the order customer, app, partner, platform.
//
// # The partner's risk rating
//
// Payments through a partner rated high (partners' risk rating: raised by
// a suspension or a performance review) may use HighRiskShareBPS (half) of
// every amount limit that applies, the defaults included, rounded down in
// minor units; velocity limits are unchanged. Refusals say so.
package limits

import (
	"fmt"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Scope is who a rule bounds.
type Scope string

// The scopes, broadest first.
const (
	ScopePlatform Scope = "platform"
	ScopePartner  Scope = "partner"
	ScopeApp      Scope = "app"
	ScopeCustomer Scope = "customer"
)

// Scopes lists every scope, broadest first.
var Scopes = []Scope{ScopePlatform, ScopePartner, ScopeApp, ScopeCustomer}

// Kind is what a rule bounds.
type Kind string

// The kinds of rule.
const (
	KindPerPayment Kind = "per_payment"
	KindPerDay     Kind = "per_day"
	KindPerMonth   Kind = "per_month"
	KindVelocity   Kind = "velocity"
)

// Kinds lists every kind.
var Kinds = []Kind{KindPerPayment, KindPerDay, KindPerMonth, KindVelocity}

// Label is how refusals and pages name the kind ("per-day").
func (k Kind) Label() string { return strings.ReplaceAll(string(k), "_", "-") }

// MaxWindow bounds a velocity rule's window.
const MaxWindow = 31 * 24 * time.Hour

// Rule is one limit.
type Rule struct {
	ID          string
	Environment environment.Environment
	// Currency is an ISO 4217 code of internal/money's table.
	Currency string
	Scope    Scope
	// SubjectID is the partner (ptn_…), app (client id) or customer (cus_…)
	// bounded; "" for the platform.
	SubjectID string
	Kind      Kind
	// Amount is the limit in minor units of Currency (per_payment, per_day,
	// per_month).
	Amount int64
	// Count payments within Window are allowed (velocity); the next is refused.
	Count  int64
	Window time.Duration
	// Default marks the built-in rule of Defaults (not stored, no ID).
	Default bool
	// DefaultLabel is how a default names itself in refusals ("per-payment",
	// "daily partner"), as before there were rules.
	DefaultLabel string
	// HighRisk: Amount was scaled to HighRiskShareBPS because the partner
	// is rated high (Effective); refusals say so.
	HighRisk   bool
	ProposedBy string
	ApprovedBy string
	UpdatedAt  time.Time
}

// FieldError is one invalid field of a rule or proposal.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Validate checks the rule's fields (not its ID or who wrote it). Refusal:
// CodeValidation naming the first invalid field, with the list in "errors".
func (r Rule) Validate() error {
	var errs []FieldError
	add := func(f, reason string) { errs = append(errs, FieldError{f, reason}) }
	if !r.Environment.Valid() {
		add("environment", "must be sandbox or production")
	}
	if _, ok := money.Exponent(r.Currency); !ok {
		add("currency", "must be an ISO 4217 currency code such as GBP")
	}
	switch r.Scope {
	case ScopePlatform:
		if r.SubjectID != "" {
			add("subject_id", "must be empty for a platform rule")
		}
	case ScopePartner, ScopeApp, ScopeCustomer:
		if strings.TrimSpace(r.SubjectID) == "" || len(r.SubjectID) > 100 || strings.ContainsAny(r.SubjectID, " \t\r\n") {
			add("subject_id", "must name the "+string(r.Scope))
		}
	default:
		add("scope", "must be platform, partner, app or customer")
	}
	switch r.Kind {
	case KindPerPayment, KindPerDay, KindPerMonth:
		if r.Amount <= 0 {
			add("amount", "must be positive")
		}
		if r.Count != 0 || r.Window != 0 {
			add("count", "only a velocity rule has a count and a window")
		}
	case KindVelocity:
		if r.Count <= 0 || r.Count > 1_000_000 {
			add("count", "must be between 1 and 1000000")
		}
		if r.Window < time.Second || r.Window > MaxWindow || r.Window%time.Second != 0 {
			add("window", "must be whole seconds between 1 and 2678400")
		}
		if r.Amount != 0 {
			add("amount", "a velocity rule has no amount")
		}
	default:
		add("kind", "must be per_payment, per_day, per_month or velocity")
	}
	if len(errs) > 0 {
		return problem.New(problem.CodeValidation, "%s %s", errs[0].Field, errs[0].Reason).With("errors", errs)
	}
	return nil
}

// Key identifies the rule's slot: at most one rule per key.
func (r Rule) Key() string {
	return strings.Join([]string{string(r.Environment), r.Currency, string(r.Scope), r.SubjectID, string(r.Kind)}, "|")
}

// Limit renders the rule's bound: "500.00 GBP", "3 payments per 60 seconds".
func (r Rule) Limit() string {
	if r.Kind == KindVelocity {
		return Payments(r.Count) + fmt.Sprintf(" per %d seconds", int64(r.Window/time.Second))
	}
	return money.Money{Minor: r.Amount, Currency: r.Currency}.String()
}

// Payments is "1 payment", "3 payments".
func Payments(n int64) string {
	if n == 1 {
		return "1 payment"
	}
	return fmt.Sprintf("%d payments", n)
}

// Name is how a refusal names the rule: "per-payment" / "daily partner" for
// the defaults (as before rules existed), else scope and kind ("partner
// per-day", "customer velocity").
func (r Rule) Name() string {
	if r.Default {
		return r.DefaultLabel
	}
	return string(r.Scope) + " " + r.Kind.Label()
}

// Subject names the rule's subject for people ("platform", "partner ptn_1").
func (r Rule) Subject() string {
	if r.Scope == ScopePlatform {
		return "platform"
	}
	return string(r.Scope) + " " + r.SubjectID
}

// Defaults are the limits fixed in code (the apis configuration per
// environment), in minor units of whatever currency: they apply where
// risk officers set no platform rule.
type Defaults struct {
	PerPayment int64
	// PerPartnerDaily bounds each partner's non-rejected payments per UTC
	// day and currency.
	PerPartnerDaily int64
	VelocityCount   int64
	VelocityWindow  time.Duration
}

// Payment is what the limits are checked against.
type Payment struct {
	Environment environment.Environment
	PartnerID   string
	AppID       string
	// CustomerID is "" where it is not known yet (consent creation): the
	// customer's rules are then not applied.
	CustomerID string
	Amount     money.Money
	// PartnerRating is the partner's risk rating (partners): RatingHigh
	// scales every amount limit to HighRiskShareBPS; any other value ("",
	// low, medium) changes nothing.
	PartnerRating string
}

// RatingHigh is the partner risk rating that tightens the limits.
const RatingHigh = "high"

// HighRiskShareBPS is the share, in basis points, of every amount limit
// (per payment, per day, per month; not velocity) that payments through a
// partner rated high may use: half.
const HighRiskShareBPS = 5000

// Applies reports whether r bounds p.
func (r Rule) Applies(p Payment) bool {
	if r.Environment != p.Environment || r.Currency != p.Amount.Currency {
		return false
	}
	switch r.Scope {
	case ScopePlatform:
		return true
	case ScopePartner:
		return r.SubjectID == p.PartnerID
	case ScopeApp:
		return r.SubjectID == p.AppID
	case ScopeCustomer:
		return p.CustomerID != "" && r.SubjectID == p.CustomerID
	}
	return false
}

// Proposal ops and statuses.
const (
	OpCreate = "create"
	OpChange = "change"
	OpRemove = "remove"

	ProposalPending  = "pending"
	ProposalApproved = "approved"
	ProposalRejected = "rejected"
)

// Proposal is a change of the rules waiting for (or decided by) a checker.
type Proposal struct {
	ID string
	Op string
	// RuleID names the rule changed or removed ("" for a creation until it
	// is approved).
	RuleID string
	// Rule is what the change writes (for a removal: the rule removed).
	Rule         Rule
	Reason       string
	Status       string
	ProposedBy   string
	DecidedBy    string
	DecisionNote string
	CreatedAt    time.Time
	DecidedAt    *time.Time
}

// Actor is the member of staff acting.
type Actor struct {
	ID   string
	Role staff.Role
}
