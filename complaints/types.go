// Package complaints is the customers' complaints about payments made
// through partners (issue 17 item 3): the customer reports a payment from
// the dashboard ("Report a problem"), staff handle the case within the
// PSD2 time limits (a reply within ReplyBusinessDays business days of
// receipt; the partner answers within PartnerBusinessDays), the partner is
// told (webhook complaint.opened, a mail to its owners) and answers in the
// portal, and the outcome — rejected with reasons, or a refund raised as a
// correction (package corrections calls CheckRefund and Refunded) — reaches
// the customer by mail and the partner by webhook (complaint.resolved).
// Complaint counts feed the partner's performance review and risk rating.
package complaints

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// Time limits, in business days (Monday to Friday; weekends not counted).
const (
	// ReplyBusinessDays: the bank replies to the customer within 15
	// business days of receipt (PSD2 art. 101(2)).
	ReplyBusinessDays = 15
	// PartnerBusinessDays: the partner answers within 5 business days.
	PartnerBusinessDays = 5
)

// Category is what the customer says is wrong with the payment.
type Category string

// The categories a customer may choose.
const (
	CategoryUnauthorised Category = "unauthorised"
	CategoryWrongAmount  Category = "wrong_amount"
	CategoryWrongPayee   Category = "wrong_payee"
	CategoryNotReceived  Category = "not_received"
	CategoryOther        Category = "other"
)

// Categories lists the categories in the order the form shows them.
var Categories = []Category{CategoryUnauthorised, CategoryWrongAmount, CategoryWrongPayee, CategoryNotReceived, CategoryOther}

var categoryLabels = map[Category]string{
	CategoryUnauthorised: "I did not authorise this payment",
	CategoryWrongAmount:  "The amount is wrong",
	CategoryWrongPayee:   "It went to the wrong payee",
	CategoryNotReceived:  "The payee did not receive it",
	CategoryOther:        "Something else",
}

// Label is the category in the customer's words.
func (c Category) Label() string { return categoryLabels[c] }

// Valid reports whether c is one of Categories.
func (c Category) Valid() bool { _, ok := categoryLabels[c]; return ok }

// Status of a complaint.
type Status string

// The statuses: open (received, being handled) → resolved (an outcome).
const (
	StatusOpen     Status = "open"
	StatusResolved Status = "resolved"
)

// Outcome of a resolved complaint.
type Outcome string

// The outcomes: rejected (with reasons the customer is mailed) or refund
// (a correction refunded the customer).
const (
	OutcomeRejected Outcome = "rejected"
	OutcomeRefund   Outcome = "refund"
)

// Bounds of the free texts.
const (
	MaxDescription = 4000
	MaxText        = 4000
)

// Complaint is one complaint with a snapshot of its payment.
type Complaint struct {
	ID          string
	PaymentID   string
	ConsentID   string
	PartnerID   string
	ClientID    string
	Environment environment.Environment
	CustomerID  string
	Amount      money.Money
	// Payee is how the payment named its payee ("Name (Scheme:Id)").
	Payee       string
	Category    Category
	Description string
	Status      Status
	// ReceivedAt is when the customer submitted it; DueAt the bank's reply
	// deadline (ReplyBusinessDays later), PartnerDueAt the partner's
	// (PartnerBusinessDays later).
	ReceivedAt   time.Time
	DueAt        time.Time
	PartnerDueAt time.Time
	AssignedTo   string // staff id, "" when nobody took it
	// The partner's answer (once).
	PartnerAnswer       string
	PartnerAgreesRefund bool
	PartnerAnsweredBy   string // portal user id
	PartnerAnsweredAt   time.Time
	// The outcome, once resolved.
	Outcome      Outcome
	Reasons      string // why it was rejected (mailed to the customer)
	DecidedBy    string // staff id (rejected) or "correction" (refund)
	CorrectionID string
	Refund       money.Money // the refunded amount (outcome refund)
	ResolvedAt   time.Time
}

// Open reports whether the complaint awaits an outcome.
func (c Complaint) Open() bool { return c.Status == StatusOpen }

// Answered reports whether the partner answered.
func (c Complaint) Answered() bool { return !c.PartnerAnsweredAt.IsZero() }

// Overdue reports whether an open complaint is past its reply deadline at now.
func (c Complaint) Overdue(now time.Time) bool { return c.Open() && now.After(c.DueAt) }

// DaysLeft is the business days from now to the reply deadline (negative:
// overdue by that many; 0: due today).
func (c Complaint) DaysLeft(now time.Time) int { return BusinessDaysBetween(now, c.DueAt) }

// Deadline describes the reply deadline at now: "resolved", "due today",
// "3 business days left", "overdue by 2 business days".
func (c Complaint) Deadline(now time.Time) string {
	if !c.Open() {
		return "resolved"
	}
	n := c.DaysLeft(now)
	switch {
	case n == 0 && !now.After(c.DueAt):
		return "due today"
	case n <= 0:
		if n == 0 {
			n = -1 // the deadline passed earlier today: overdue by part of a day counts as one
		}
		return fmt.Sprintf("overdue by %s", days(-n))
	}
	return days(n) + " left"
}

func days(n int) string {
	if n == 1 {
		return "1 business day"
	}
	return fmt.Sprintf("%d business days", n)
}

// Validate checks the customer's input of a new complaint.
func (c *Complaint) Validate() error {
	if !c.Category.Valid() {
		return problem.New(problem.CodeValidation, "choose what is wrong with the payment")
	}
	d := strings.TrimSpace(c.Description)
	if d == "" {
		return problem.New(problem.CodeValidation, "describe the problem")
	}
	if utf8.RuneCountInString(d) > MaxDescription {
		return problem.New(problem.CodeValidation, "the description is longer than %d characters", MaxDescription)
	}
	return nil
}

// Note is a staff member's note on a complaint (inside the bank).
type Note struct {
	ID          int64
	ComplaintID string
	StaffID     string
	Body        string
	CreatedAt   time.Time
}

// AddBusinessDays returns t moved n (≥ 0) business days later: each
// Monday-to-Friday day counts, Saturdays and Sundays do not; the time of
// day is kept. From a weekend day, the first business day after it is the
// first counted.
func AddBusinessDays(t time.Time, n int) time.Time {
	for n > 0 {
		t = t.AddDate(0, 0, 1)
		if weekday(t) {
			n--
		}
	}
	return t
}

// BusinessDaysBetween counts the business days from from's date to to's
// date (UTC): the weekdays in (from, to], negative when to is before from.
func BusinessDaysBetween(from, to time.Time) int {
	a, b := day(from), day(to)
	sign := 1
	if b.Before(a) {
		a, b, sign = b, a, -1
	}
	n := 0
	for d := a.AddDate(0, 0, 1); !d.After(b); d = d.AddDate(0, 0, 1) {
		if weekday(d) {
			n++
		}
	}
	return sign * n
}

func day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func weekday(t time.Time) bool {
	w := t.Weekday()
	return w != time.Saturday && w != time.Sunday
}

// MaskEmail hides an email address's local part but its first character
// ("alice@example.com" → "a••••@example.com"); "" stays "".
func MaskEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 {
		if email == "" {
			return ""
		}
		return "•••"
	}
	r, n := utf8.DecodeRuneInString(email)
	return string(r) + strings.Repeat("•", max(utf8.RuneCountInString(email[n:at]), 1)) + email[at:]
}
