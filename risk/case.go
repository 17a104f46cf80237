package risk

import (
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// Case statuses.
const (
	CaseOpen     = "open"
	CaseProposed = "proposed" // dual control: one officer proposed, a second must approve
	CaseReleased = "released"
	CaseRejected = "rejected"
)

// Case decisions an officer takes.
const (
	Release = "release"
	Reject  = "reject"
)

// NewCase is what the payments side knows of a held payment when it opens
// its case (in the payment's transaction).
type NewCase struct {
	PaymentID, ConsentID, PartnerID, ClientID string
	Environment                               environment.Environment
	CustomerID                                string
	Amount                                    money.Money
	CreditorName, CreditorAccount             string
	Assessment                                Assessment
}

// Validate checks the ids, the amount and the assessment are there.
func (n NewCase) Validate() error {
	switch {
	case n.PaymentID == "", n.ConsentID == "", n.PartnerID == "":
		return problem.New(problem.CodeValidation, "a risk case needs its payment, consent and partner")
	case n.Amount.Currency == "" || n.Amount.Minor <= 0:
		return problem.New(problem.CodeValidation, "a risk case needs the payment's amount")
	case n.Assessment.Decision != DecisionHold:
		return problem.New(problem.CodeValidation, "only a held payment opens a risk case (decision %q)", n.Assessment.Decision)
	}
	return nil
}

// Case is one held payment under review.
type Case struct {
	ID, PaymentID, ConsentID, PartnerID, ClientID string
	Environment                                   environment.Environment
	CustomerID                                    string
	Amount                                        money.Money
	CreditorName, CreditorAccount                 string
	Score                                         int
	Reasons                                       []Reason
	Matches                                       []Match
	Status                                        string
	ProposedDecision                              string
	ProposedBy                                    string
	ProposedNote                                  string
	ProposedAt                                    time.Time
	DecidedBy                                     string
	DecisionNote                                  string
	DecidedAt                                     time.Time
	CreatedAt                                     time.Time
}

// Open reports whether the case still waits for a decision.
func (c *Case) Open() bool { return c.Status == CaseOpen || c.Status == CaseProposed }

// Age is how long the case has waited at now.
func (c *Case) Age(now time.Time) time.Duration { return now.Sub(c.CreatedAt) }
