// Package exit ends a partnership (issue 17 item 5): a member of staff
// proposes the termination of a partner (reason; effective date = now + the
// active contract's notice, or later), another approves it (maker-checker,
// partners/staff ActExitPropose / ActExitApprove); until the effective date
// the partner works normally and sees the wind-down timeline in the portal,
// and staff may cancel. On the effective date the housekeeping job (RunDue,
// safe on any number of nodes: an exit is claimed with a conditional
// update) runs the wind-down steps in order, each recorded in
// partner_exit_steps so a crash resumes at the next one (see Steps). After
// the retention period PurgeDue erases the personal data.
//
// It lives under partners because it is the end of the partner lifecycle
// (partners.CanTransition's terminated state), as partners/certification is
// its go-live gate; like certification it reaches the other domains only
// through the ports in service.go, which the domains' services implement
// (wired in cmd/bankbridge/wire_exit.go). Nothing imports it but cmd.
package exit

import (
	"time"

	"github.com/bankbridge/bankbridge/internal/problem"
)

// Status is where a termination is.
type Status string

// Termination statuses: proposed (waiting for a second member of staff),
// scheduled (approved; the partner has notice), rejected, cancelled, running
// (the effective date came: the wind-down is under way), completed.
const (
	StatusProposed  Status = "proposed"
	StatusScheduled Status = "scheduled"
	StatusRejected  Status = "rejected"
	StatusCancelled Status = "cancelled"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
)

// Exit is one termination of a partner (table partner_exits).
type Exit struct {
	ID          string `gorm:"primaryKey"`
	PartnerID   string
	Status      Status
	Reason      string
	NoticeDays  int
	ContractID  string // the active contract whose notice applied ("" without one)
	EffectiveAt time.Time
	// RetentionDays is how long after the effective date the export is
	// kept and the personal data erased (Config.RetentionDays then).
	RetentionDays int
	ProposedBy    string
	ProposedAt    time.Time
	DecidedBy     string // the approver, rejecter or canceller
	DecidedAt     *time.Time
	DecisionNote  string
	ClaimedBy     string
	LeaseUntil    *time.Time
	CompletedAt   *time.Time
	StatementID   string // the final statement ("" without a contract)
	DeleteAfter   *time.Time
	DeletedAt     *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TableName maps Exit to its table.
func (Exit) TableName() string { return "partner_exits" }

// Visible reports whether the partner sees the termination (it was
// approved: notice was given).
func (e *Exit) Visible() bool {
	return e.Status == StatusScheduled || e.Status == StatusRunning || e.Status == StatusCompleted
}

// Timeline is the wind-down as the partner sees it.
type Timeline struct {
	// NoticeGivenAt is when the termination was approved.
	NoticeGivenAt time.Time `json:"notice_given_at"`
	// EffectiveAt is when the partnership ends.
	EffectiveAt time.Time `json:"effective_at"`
	// LastAPIAccess is the last moment the partner's apps work (the token
	// endpoint and resource APIs refuse them from EffectiveAt).
	LastAPIAccess time.Time `json:"last_api_access"`
	// FinalSettlementAt is when the final statement (usage up to
	// EffectiveAt) is issued: on the effective date.
	FinalSettlementAt time.Time `json:"final_settlement_at"`
	// ExportAvailableFrom and ExportAvailableUntil bound the data export's
	// availability to the partner's owners in the portal.
	ExportAvailableFrom  time.Time `json:"export_available_from"`
	ExportAvailableUntil time.Time `json:"export_available_until"`
	// PersonalDataDeletionAt is when the personal data is erased.
	PersonalDataDeletionAt time.Time `json:"personal_data_deletion_at"`
}

// Timeline computes the exit's timeline.
func (e *Exit) Timeline() Timeline {
	t := Timeline{EffectiveAt: e.EffectiveAt.UTC(), LastAPIAccess: e.EffectiveAt.UTC().Add(-time.Second),
		FinalSettlementAt: e.EffectiveAt.UTC(), ExportAvailableFrom: e.EffectiveAt.UTC()}
	if e.DecidedAt != nil {
		t.NoticeGivenAt = e.DecidedAt.UTC()
	}
	del := e.EffectiveAt.UTC().AddDate(0, 0, e.RetentionDays)
	t.ExportAvailableUntil, t.PersonalDataDeletionAt = del, del
	return t
}

// Validate checks the exit's fields.
func (e *Exit) Validate() error {
	switch e.Status {
	case StatusProposed, StatusScheduled, StatusRejected, StatusCancelled, StatusRunning, StatusCompleted:
	default:
		return problem.New(problem.CodeValidation, "status %q is not a termination status", e.Status)
	}
	if err := checkReason("reason", e.Reason); err != nil {
		return err
	}
	if e.PartnerID == "" || e.EffectiveAt.IsZero() {
		return problem.New(problem.CodeValidation, "a termination needs a partner and an effective date")
	}
	if e.NoticeDays < 0 || e.RetentionDays < 0 {
		return problem.New(problem.CodeValidation, "notice and retention must not be negative")
	}
	return nil
}

func checkReason(field, v string) error {
	n := len([]rune(v))
	if n == 0 {
		return problem.New(problem.CodeValidation, "%s is required", field)
	}
	if n > 2000 {
		return problem.New(problem.CodeValidation, "%s must be at most 2000 characters", field)
	}
	return nil
}

// The wind-down steps, in the order they run on the effective date.
const (
	// StepPartnerTerminated: the partner's status becomes terminated (every
	// app stops: no token, no resource call), its apps' tokens revoked.
	StepPartnerTerminated = "partner_terminated"
	// StepConsentsListed: the partner's open consents (and their customers)
	// are recorded, so the mail step knows whom to tell after a crash.
	StepConsentsListed = "consents_listed"
	// StepAccessRevoked: each listed consent revoked by the bank
	// (consent.revoked, revoked_by "bank"), every token of every app revoked.
	StepAccessRevoked = "access_revoked"
	// StepCustomersMailed: each affected customer mailed once.
	StepCustomersMailed = "customers_mailed"
	// StepWebhooksClosed: once the partner's queued deliveries are done (or
	// Config.WebhookDrain after the effective date), partner.terminated is
	// published and the outbox closed in one transaction: it is the last
	// event queued.
	StepWebhooksClosed = "webhooks_closed"
	// StepFinalSettlement: the contracts ended and the final statement written.
	StepFinalSettlement = "final_settlement"
	// StepDataExported: the data export archive stored.
	StepDataExported = "data_exported"
	// StepDeletionScheduled: delete_after set (effective date + retention).
	StepDeletionScheduled = "deletion_scheduled"
	// StepEndpointsDisabled: once partner.terminated and everything before
	// it is delivered (or 2 × Config.WebhookDrain), the endpoints are
	// disabled, tokens swept once more, and the exit completed.
	StepEndpointsDisabled = "endpoints_disabled"
	// StepPersonalDataErased: PurgeDue, after the retention period.
	StepPersonalDataErased = "personal_data_erased"
)

// Steps lists the wind-down steps in order (StepPersonalDataErased, run by
// PurgeDue, comes last).
var Steps = []string{StepPartnerTerminated, StepConsentsListed, StepAccessRevoked, StepCustomersMailed,
	StepWebhooksClosed, StepFinalSettlement, StepDataExported, StepDeletionScheduled, StepEndpointsDisabled,
	StepPersonalDataErased}

// StepRecord is a done step (table partner_exit_steps).
type StepRecord struct {
	ExitID string `gorm:"primaryKey"`
	Step   string `gorm:"primaryKey"`
	Seq    int
	DoneAt time.Time
	Node   string
	Detail string // JSON
}

// TableName maps StepRecord to its table.
func (StepRecord) TableName() string { return "partner_exit_steps" }

// exportRow is a stored data export (table partner_exit_exports).
type exportRow struct {
	ExitID    string `gorm:"primaryKey"`
	PartnerID string
	Archive   string
	Sha256    string `gorm:"column:sha256"`
	CreatedAt time.Time
}

func (exportRow) TableName() string { return "partner_exit_exports" }

// Export is the partner's data export archive.
type Export struct {
	ExitID    string
	PartnerID string
	// Archive is the JSON document (see Service.Export for its contents).
	Archive   []byte
	SHA256    string
	CreatedAt time.Time
}

// Filename is the export's download name.
func (x *Export) Filename() string { return "bankbridge-export-" + x.PartnerID + ".json" }

// Event types the exit publishes (webhooks/catalogue.go).
const (
	EventTerminationScheduled = "partner.termination_scheduled"
	EventTerminationCancelled = "partner.termination_cancelled"
	EventTerminated           = "partner.terminated"
)

// Mail templates (internal/mail).
const (
	MailScheduled = "partner_termination_scheduled"
	MailCancelled = "partner_termination_cancelled"
	MailCustomer  = "partner_terminated_customer"
)
