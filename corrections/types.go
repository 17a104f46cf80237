// Package corrections refunds and reverses accepted payments (issue 17
// item 2). A correction is a refund (part or all of a payment; the refunds
// of a payment never sum to more than it) or a reversal (the whole amount,
// once). The partner requests one through the payments API
// (POST …/domestic-payments/{id}/corrections, served by apis through its
// Corrections port) or staff raise one in the console; either way it waits
// for a staff member other than the one who raised it to approve or reject
// it (maker-checker; exactly one decision wins). An approved correction is
// posted in the core through core.Corrector (outside the database
// transaction, the correction id being the core's idempotency key) and then
// recorded with the contracts' ledger posting, the partner's webhook event
// (payment.refunded or payment.reversed), the customer's mail and, when it
// settles a complaint, the complaint's resolution (ComplaintLink), all in
// one transaction. A crash between the two leaves it approved; Resume posts
// it again, which moves no money twice.
package corrections

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Kinds.
const (
	KindRefund   = core.CorrectionRefund
	KindReversal = core.CorrectionReversal
)

// Statuses: pending_approval → rejected | approved → posted | failed.
const (
	StatusPending  = "pending_approval"
	StatusApproved = "approved" // decided; the core posting is under way or to be retried (Resume)
	StatusPosted   = "posted"
	StatusRejected = "rejected"
	StatusFailed   = "failed" // the core refused the posting for good (FailureReason)
)

// Who raised a correction (Correction.RaisedByType).
const (
	RaisedByPartner = "partner"
	RaisedByStaff   = "staff"
)

// MaxReason is the most characters of a reason (it is shown on the
// customer's statement).
const MaxReason = 100

// MaxNote is the most bytes of a decision note.
const MaxNote = 2000

// Correction is one refund or reversal of a payment.
type Correction struct {
	ID          string
	PaymentID   string
	PartnerID   string
	ClientID    string
	Environment environment.Environment
	CustomerID  string
	Kind        string
	Amount      money.Money
	Reason      string
	// ComplaintID is the complaint the correction settles ("" none).
	ComplaintID  string
	Status       string
	RaisedByType string // RaisedByPartner (RaisedBy: the app's client id) or RaisedByStaff (a staff id)
	RaisedBy     string
	DecidedBy    string
	DecisionNote string
	DecidedAt    time.Time
	// The core's entries, once posted.
	CoreCreditTransactionID string
	CoreDebitTransactionID  string
	PostedAt                time.Time
	// FailureReason is the core's refusal of a failed correction.
	FailureReason string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Pending reports whether the correction waits for a decision.
func (c *Correction) Pending() bool { return c.Status == StatusPending }

// Payment is what corrections needs of a payment (the Payments port).
type Payment struct {
	ID          string
	PartnerID   string
	ClientID    string
	Environment environment.Environment
	CustomerID  string
	Amount      money.Money
	// Status is the payment's Open Banking status; Accepted reports whether
	// the core accepted it (AcceptedSettlementInProcess or
	// AcceptedSettlementCompleted): only those can be corrected.
	Status       string
	Accepted     bool
	CreditorName string
	Reference    string
}

// ErrPaymentNotFound is what a Payments implementation returns for an
// unknown payment.
var ErrPaymentNotFound = errors.New("corrections: payment not found")

// Payments reads payments (apis, adapted in cmd/bankbridge).
type Payments interface {
	// Payment returns one payment, or ErrPaymentNotFound.
	Payment(ctx context.Context, id string) (*Payment, error)
}

// Customers reads the customer a refund mail goes to (the core).
type Customers interface {
	Customer(ctx context.Context, customerID string) (*core.Customer, error)
}

// Ledger posts a correction in the contracts' double-entry ledger in tx
// (the correction id as the idempotency key, the payment id in the
// description); posting it again is a no-op.
type Ledger interface {
	PostCorrection(ctx context.Context, tx *gorm.DB, c *Correction) error
}

// ComplaintLink is the port to complaints (package complaints implements
// it; corrections does not import it).
type ComplaintLink interface {
	// CheckRefund returns nil when complaintID is an open complaint about paymentID (else a problem error).
	CheckRefund(ctx context.Context, complaintID, paymentID string) error
	// Refunded records, in tx, that the correction resolved the complaint.
	Refunded(ctx context.Context, tx *gorm.DB, complaintID, correctionID string, amount money.Money) error
}

// Actor is the staff member acting in the console (or the platform, with
// staff.RoleSystem).
type Actor struct {
	ID            string
	Role          staff.Role
	InteractionID string
}

// PartnerRequest is a partner's request for a correction of one of its
// payments (its app, in the token's environment).
type PartnerRequest struct {
	PartnerID     string
	Environment   environment.Environment
	ClientID      string
	PaymentID     string
	Kind          string
	Amount        money.Money // a reversal may leave it zero: the whole payment
	Reason        string
	InteractionID string
}

// Raise is a staff member's correction.
type Raise struct {
	PaymentID string
	Kind      string
	Amount    money.Money // a reversal may leave it zero: the whole payment
	Reason    string
	// ComplaintID, optional: the complaint this refund settles (checked with
	// ComplaintLink.CheckRefund).
	ComplaintID string
}

// validate checks kind and reason, and amount against the payment p: the
// returned amount is the correction's (a reversal's is the whole payment).
func validate(kind, reason string, amount money.Money, p *Payment) (money.Money, error) {
	switch {
	case kind != KindRefund && kind != KindReversal:
		return money.Money{}, problem.New(problem.CodeValidation, "Kind must be %s or %s", KindRefund, KindReversal)
	case reason == "":
		return money.Money{}, problem.New(problem.CodeValidation, "a correction needs a Reason")
	case utf8.RuneCountInString(reason) > MaxReason:
		return money.Money{}, problem.New(problem.CodeValidation, "Reason is longer than %d characters", MaxReason)
	}
	if kind == KindReversal && amount.Minor == 0 && amount.Currency == "" {
		return p.Amount, nil
	}
	switch {
	case amount.Minor <= 0:
		return money.Money{}, problem.New(problem.CodeValidation, "Amount must be positive")
	case amount.Currency != p.Amount.Currency:
		return money.Money{}, problem.New(problem.CodeValidation, "Amount is in %s; payment %s is in %s", amount.Currency, p.ID, p.Amount.Currency)
	case kind == KindReversal && amount.Minor != p.Amount.Minor:
		return money.Money{}, problem.New(problem.CodeValidation, "a reversal is the whole amount of payment %s (%s)",
			p.ID, p.Amount)
	case amount.Minor > p.Amount.Minor:
		return money.Money{}, problem.New(problem.CodeValidation, "a refund of %s exceeds payment %s (%s)",
			text(amount), p.ID, text(p.Amount))
	}
	return amount, nil
}

// text is an amount as people read it: "12.50 GBP".
func text(m money.Money) string { return m.String() }
