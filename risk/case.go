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

// SAR is a suspicious activity report a risk officer filed from a case. It
// never leaves the bank: no partner or customer surface shows it.
type SAR struct {
	ID        string    `json:"id"`
	CaseID    string    `json:"case_id"`
	Narrative string    `json:"narrative"`
	FiledBy   string    `json:"filed_by"`
	FiledAt   time.Time `json:"filed_at"`
}

// SARFormat names the export format of ExportSAR (docs: README, "Suspicious
// activity reports").
const SARFormat = "bankbridge.sar.v1"

// SARExport is a report with its case and audit trail, as exported.
type SARExport struct {
	Format string       `json:"format"`
	SAR    SAR          `json:"sar"`
	Case   SARCase      `json:"case"`
	Audit  []AuditEvent `json:"audit_trail"`
}

// SARCase is the case a report was filed from, as exported.
type SARCase struct {
	ID           string      `json:"id"`
	PaymentID    string      `json:"payment_id"`
	ConsentID    string      `json:"consent_id"`
	PartnerID    string      `json:"partner_id"`
	ClientID     string      `json:"client_id"`
	Environment  string      `json:"environment"`
	CustomerID   string      `json:"customer_id"`
	Amount       money.Money `json:"amount"`
	Payee        string      `json:"payee"`
	PayeeAccount string      `json:"payee_account"`
	Score        int         `json:"score"`
	Reasons      []Reason    `json:"reasons"`
	Matches      []Match     `json:"matches"`
	Status       string      `json:"status"`
	DecidedBy    string      `json:"decided_by,omitempty"`
	DecisionNote string      `json:"decision_note,omitempty"`
	CreatedAt    time.Time   `json:"opened_at"`
}

// AuditEvent is one audit-trail entry of an export.
type AuditEvent struct {
	At         time.Time      `json:"at"`
	ActorType  string         `json:"actor_type"`
	ActorID    string         `json:"actor_id"`
	Action     string         `json:"action"`
	ObjectType string         `json:"object_type"`
	ObjectID   string         `json:"object_id"`
	Details    map[string]any `json:"details,omitempty"`
}
