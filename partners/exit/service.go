package exit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/events"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/webhooks"
)

// Partners is the partners domain as the exit uses it (*partners.Service).
type Partners interface {
	Partner(ctx context.Context, partnerID string) (*partners.Partner, error)
	PartnerApps(ctx context.Context, partnerID string) ([]partners.App, error)
	PartnerForMember(ctx context.Context, userID, partnerID string) (*partners.Partner, partners.Role, error)
	TerminateScheduled(ctx context.Context, partnerID, exitID, reason string) ([]string, error)
	ErasePersonalData(ctx context.Context, partnerID, exitID string) (partners.PersonalDataErasure, error)
}

// Consents is apis as the exit uses it (*apis.Service).
type Consents interface {
	OpenPartnerConsents(ctx context.Context, partnerID string) ([]apis.Consent, error)
	RevokeByBank(ctx context.Context, consentID string, actor apis.Actor) (bool, error)
	PartnerConsentsAll(ctx context.Context, partnerID string) ([]apis.Consent, error)
	PartnerPaymentsAll(ctx context.Context, partnerID string) ([]apis.Payment, error)
}

// Erasure erases the customers' personal data apis holds (*apis.GormStore).
type Erasure interface {
	ErasePartnerPersonalData(ctx context.Context, partnerID string) (apis.PersonalDataErasure, error)
}

// Tokens revokes an app's tokens on every node (oauth.Tokens).
type Tokens interface {
	RevokeClient(ctx context.Context, clientID string) error
}

// Customers reads a customer from the bank's core (name and email for the
// customer's mail; *core.Reference).
type Customers interface {
	Customer(ctx context.Context, customerID string) (*core.Customer, error)
}

// Webhooks is the outbox as the exit uses it (*webhooks.Service).
type Webhooks interface {
	ClosePartner(ctx context.Context, tx *gorm.DB, partnerID, reason string) error
	AfterClose(ctx context.Context, partnerID string)
	PartnerPendingDeliveries(ctx context.Context, partnerID string) (int64, error)
	DisablePartnerEndpoints(ctx context.Context, partnerID, reason string) (int, error)
	PartnerDeliverySummary(ctx context.Context, partnerID string) ([]webhooks.DeliverySummary, error)
}

// Contracts is contracts as the exit uses it (*contracts.Service).
type Contracts interface {
	ActiveContract(ctx context.Context, partnerID string) (contracts.Contract, bool, error)
	SettleFinal(ctx context.Context, partnerID string, end time.Time, reason string) (contracts.Statement, bool, error)
	Contracts(ctx context.Context, f contracts.ContractFilter) ([]contracts.Contract, error)
	Versions(ctx context.Context, contractID string) ([]contracts.Version, error)
	Statements(ctx context.Context, partnerID string) ([]contracts.Statement, error)
	Statement(ctx context.Context, partnerID, statementID string) (contracts.Statement, error)
}

// DefaultRetentionDays is how long after the effective date the partner's
// export is kept and its personal data erased: five years (1826 days), the
// record keeping of the UK Money Laundering Regulations 2017 (reg. 40: five
// years from the end of the business relationship) for the payments made
// through the partner.
const DefaultRetentionDays = 1826

// Defaults of Config.
const (
	DefaultWebhookDrain = 24 * time.Hour
	DefaultLease        = 10 * time.Minute
)

// Config is what a Service needs; every port is required.
type Config struct {
	DB        *db.DB
	Staff     *staff.Service
	Partners  Partners
	Consents  Consents
	Erasure   Erasure
	Tokens    Tokens
	Customers Customers
	Webhooks  Webhooks
	Contracts Contracts
	Publisher events.Publisher
	// RetentionDays is the retention period of new terminations (default
	// DefaultRetentionDays; 0 is allowed: erase at once, for tests).
	RetentionDays *int
	// WebhookDrain bounds how long after the effective date the wind-down
	// waits for the partner's queued deliveries before partner.terminated
	// (twice that before disabling the endpoints). Default DefaultWebhookDrain.
	WebhookDrain time.Duration
	// Lease is how long a node's claim on a running wind-down lasts (default
	// DefaultLease); another node takes over an expired one.
	Lease time.Duration
	// Node names this node in claims and step records.
	Node string
	// PortalURL is the portal's base URL for mails (https://host/portal).
	PortalURL string
	Now       func() time.Time
	Logger    *slog.Logger
}

// Service runs terminations.
type Service struct {
	cfg       Config
	db        *db.DB
	retention int
	now       func() time.Time
	log       *slog.Logger
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Staff == nil || cfg.Partners == nil || cfg.Consents == nil || cfg.Erasure == nil ||
		cfg.Tokens == nil || cfg.Customers == nil || cfg.Webhooks == nil || cfg.Contracts == nil || cfg.Publisher == nil {
		return nil, errors.New("exit: every port of Config is required")
	}
	s := &Service{cfg: cfg, db: cfg.DB, retention: DefaultRetentionDays, now: cfg.Now, log: cfg.Logger}
	if cfg.RetentionDays != nil {
		if *cfg.RetentionDays < 0 {
			return nil, errors.New("exit: RetentionDays must not be negative")
		}
		s.retention = *cfg.RetentionDays
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.WebhookDrain <= 0 {
		s.cfg.WebhookDrain = DefaultWebhookDrain
	}
	if s.cfg.Lease <= 0 {
		s.cfg.Lease = DefaultLease
	}
	if s.cfg.Node == "" {
		s.cfg.Node = ids.New("node")
	}
	s.cfg.PortalURL = strings.TrimRight(s.cfg.PortalURL, "/")
	return s, nil
}

// RetentionDays is the retention period new terminations get.
func (s *Service) RetentionDays() int { return s.retention }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func (s *Service) forUpdate(tx *gorm.DB) *gorm.DB {
	if s.db.Dialect == db.Postgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

func notFound(id string) *problem.Error {
	return problem.New(problem.CodeNotFound, "termination %s not found", id)
}

func internal(err error, what string) error { return problem.Internal(err, what) }

func (s *Service) audit(ctx context.Context, tx *gorm.DB, actorType, actorID, action string, e *Exit, details map[string]any) error {
	return internal(audit.Record(ctx, tx, audit.Entry{ActorType: actorType, ActorID: actorID, Action: action,
		ObjectType: "partner_exit", ObjectID: e.ID, PartnerID: e.PartnerID, Details: details}), "audit")
}

func (s *Service) load(tx *gorm.DB, id string, lock bool) (*Exit, error) {
	var e Exit
	q := tx
	if lock {
		q = s.forUpdate(tx)
	}
	if err := q.Where("id = ?", id).Take(&e).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, notFound(id)
		}
		return nil, internal(err, "load termination")
	}
	return &e, nil
}

// day formats a time for messages and mails.
func day(t time.Time) string { return t.UTC().Format("2 January 2006 15:04 UTC") }

// Propose is the maker's step: the termination of partnerID for reason,
// effective at now + the active contract's notice (NoticeDays days), or at
// effective when that is later. Errors: CodeForbidden (role), CodeNotFound
// (partner), CodeValidation (no reason; effective earlier than the notice
// allows), CodeInvalidState (partner terminated), CodeConflict (a
// termination of the partner is open).
func (s *Service) Propose(ctx context.Context, staffID, partnerID, reason string, effective time.Time) (*Exit, error) {
	reason = strings.TrimSpace(reason)
	if err := checkReason("reason", reason); err != nil {
		return nil, err
	}
	if err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		_, err := s.cfg.Staff.Require(tx, staffID, staff.ActExitPropose)
		return err
	}); err != nil {
		return nil, err
	}
	p, err := s.cfg.Partners.Partner(ctx, partnerID)
	if err != nil {
		return nil, err
	}
	if p.Status == partners.StatusTerminated {
		return nil, problem.New(problem.CodeInvalidState, "partner %s is terminated already", partnerID)
	}
	c, hasContract, err := s.cfg.Contracts.ActiveContract(ctx, partnerID)
	if err != nil {
		return nil, internal(err, "active contract")
	}
	now := s.clock()
	e := &Exit{ID: ids.New("trm"), PartnerID: partnerID, Status: StatusProposed, Reason: reason,
		RetentionDays: s.retention, ProposedBy: staffID, ProposedAt: now, CreatedAt: now, UpdatedAt: now}
	if hasContract {
		e.NoticeDays, e.ContractID = c.NoticeDays, c.ID
	}
	earliest := now.AddDate(0, 0, e.NoticeDays)
	e.EffectiveAt = earliest
	if !effective.IsZero() {
		effective = effective.UTC().Truncate(time.Microsecond)
		if effective.Before(earliest) {
			return nil, problem.New(problem.CodeValidation, "the effective date must be on or after %s (%d days' notice)",
				day(earliest), e.NoticeDays)
		}
		e.EffectiveAt = effective
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		var open int64
		if err := tx.Model(&Exit{}).Where("partner_id = ? AND status IN ?", partnerID,
			[]Status{StatusProposed, StatusScheduled, StatusRunning, StatusCompleted}).Count(&open).Error; err != nil {
			return internal(err, "count terminations")
		}
		if open > 0 {
			return problem.New(problem.CodeConflict, "partner %s already has a termination open", partnerID)
		}
		if err := tx.Create(e).Error; err != nil {
			return internal(err, "create termination")
		}
		return s.audit(ctx, tx, audit.ActorStaff, staffID, "partner_exit.proposed", e, map[string]any{"reason": reason,
			"effective_at": e.EffectiveAt, "notice_days": e.NoticeDays, "contract_id": e.ContractID, "retention_days": e.RetentionDays})
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Decide is the checker's step on a proposed termination: approve (the
// partner gets notice: partner.termination_scheduled, a mail to each owner;
// an effective date that is now closer than the notice is moved to now +
// notice) or reject (note required). Errors: CodeForbidden (role),
// CodeNotFound, CodeMakerChecker (the proposer), CodeValidation (rejection
// without a note), CodeInvalidState (not proposed).
func (s *Service) Decide(ctx context.Context, staffID, exitID string, approve bool, note string) (*Exit, error) {
	note = strings.TrimSpace(note)
	if !approve {
		if err := checkReason("note", note); err != nil {
			return nil, err
		}
	}
	var e *Exit
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		if _, err := s.cfg.Staff.Require(tx, staffID, staff.ActExitApprove); err != nil {
			return err
		}
		var err error
		if e, err = s.load(tx, exitID, true); err != nil {
			return err
		}
		if e.Status != StatusProposed {
			return problem.New(problem.CodeInvalidState, "termination %s is %s, only a proposed one can be decided", e.ID, e.Status)
		}
		if e.ProposedBy == staffID {
			return problem.New(problem.CodeMakerChecker, "termination %s was proposed by %s, who cannot also decide it", e.ID, staffID)
		}
		now := s.clock()
		upd := map[string]any{"decided_by": staffID, "decided_at": now, "decision_note": note, "updated_at": now}
		if !approve {
			upd["status"] = StatusRejected
			if err := tx.Model(&Exit{}).Where("id = ? AND status = ?", e.ID, StatusProposed).Updates(upd).Error; err != nil {
				return internal(err, "reject termination")
			}
			e.Status, e.DecidedBy, e.DecidedAt, e.DecisionNote = StatusRejected, staffID, &now, note
			return s.audit(ctx, tx, audit.ActorStaff, staffID, "partner_exit.rejected", e, map[string]any{"note": note})
		}
		if earliest := now.AddDate(0, 0, e.NoticeDays); e.EffectiveAt.Before(earliest) {
			e.EffectiveAt = earliest
			upd["effective_at"] = earliest
		}
		upd["status"] = StatusScheduled
		if err := tx.Model(&Exit{}).Where("id = ? AND status = ?", e.ID, StatusProposed).Updates(upd).Error; err != nil {
			return internal(err, "approve termination")
		}
		e.Status, e.DecidedBy, e.DecidedAt, e.DecisionNote = StatusScheduled, staffID, &now, note
		if err := s.audit(ctx, tx, audit.ActorStaff, staffID, "partner_exit.scheduled", e, map[string]any{
			"effective_at": e.EffectiveAt, "note": note}); err != nil {
			return err
		}
		return s.announce(ctx, tx, e)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// announce tells the partner its partnership ends: the webhook and a mail
// to each owner, in tx.
func (s *Service) announce(ctx context.Context, tx *gorm.DB, e *Exit) error {
	t := e.Timeline()
	if err := s.cfg.Publisher.Publish(ctx, tx, EventTerminationScheduled, e.PartnerID, "", map[string]any{
		"termination_id": e.ID, "effective_at": t.EffectiveAt.Format(time.RFC3339), "reason": e.Reason,
		"notice_days": e.NoticeDays, "export_available_until": t.ExportAvailableUntil.Format(time.RFC3339),
		"personal_data_deletion_at": t.PersonalDataDeletionAt.Format(time.RFC3339)}); err != nil {
		return internal(err, "publish "+EventTerminationScheduled)
	}
	name, err := s.partnerName(ctx, e.PartnerID)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The bank has given notice ending its partnership with %s.\n\nReason: %s\n\n", name, e.Reason)
	fmt.Fprintf(&b, "  Notice given:             %s\n", day(t.NoticeGivenAt))
	fmt.Fprintf(&b, "  Partnership ends:         %s\n", day(t.EffectiveAt))
	fmt.Fprintf(&b, "  Last API access:          %s\n", day(t.LastAPIAccess))
	fmt.Fprintf(&b, "  Final settlement:         %s\n", day(t.FinalSettlementAt))
	fmt.Fprintf(&b, "  Data export available:    %s until %s\n", day(t.ExportAvailableFrom), day(t.ExportAvailableUntil))
	fmt.Fprintf(&b, "  Personal data deleted:    %s\n\n", day(t.PersonalDataDeletionAt))
	fmt.Fprintf(&b, "Until the partnership ends your apps work as today. On that date every consent your customers gave you and every token of your apps is revoked, and your customers are told.\n")
	fmt.Fprintf(&b, "The timeline: %s/orgs/%s/wind-down\n", s.cfg.PortalURL, e.PartnerID)
	_, err = mail.EnqueueToPartnerOwners(ctx, tx, mail.Message{PartnerID: e.PartnerID, Template: MailScheduled,
		Subject: fmt.Sprintf("Notice: the partnership with %s ends on %s", name, t.EffectiveAt.Format("2 January 2006")), Body: b.String()})
	return internal(err, "mail owners")
}

func (s *Service) partnerName(ctx context.Context, partnerID string) (string, error) {
	p, err := s.cfg.Partners.Partner(ctx, partnerID)
	if err != nil {
		return "", err
	}
	return p.Name(), nil
}

// Cancel withdraws a proposed or scheduled termination before its effective
// date (a scheduled one tells the partner: partner.termination_cancelled
// and a mail to each owner). Errors: CodeForbidden (role), CodeNotFound,
// CodeValidation (no reason), CodeInvalidState (decided, running, or the
// effective date has come).
func (s *Service) Cancel(ctx context.Context, staffID, exitID, reason string) (*Exit, error) {
	reason = strings.TrimSpace(reason)
	if err := checkReason("reason", reason); err != nil {
		return nil, err
	}
	var e *Exit
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		if _, err := s.cfg.Staff.Require(tx, staffID, staff.ActExitPropose); err != nil {
			return err
		}
		var err error
		if e, err = s.load(tx, exitID, true); err != nil {
			return err
		}
		if e.Status != StatusProposed && e.Status != StatusScheduled {
			return problem.New(problem.CodeInvalidState, "termination %s is %s and cannot be cancelled", e.ID, e.Status)
		}
		now := s.clock()
		if !now.Before(e.EffectiveAt) {
			return problem.New(problem.CodeInvalidState, "termination %s took effect at %s and cannot be cancelled", e.ID, day(e.EffectiveAt))
		}
		was := e.Status
		res := tx.Model(&Exit{}).Where("id = ? AND status = ?", e.ID, was).Updates(map[string]any{"status": StatusCancelled,
			"decided_by": staffID, "decided_at": now, "decision_note": reason, "updated_at": now})
		if res.Error != nil {
			return internal(res.Error, "cancel termination")
		}
		e.Status, e.DecidedBy, e.DecidedAt, e.DecisionNote = StatusCancelled, staffID, &now, reason
		if err := s.audit(ctx, tx, audit.ActorStaff, staffID, "partner_exit.cancelled", e, map[string]any{"reason": reason, "was": was}); err != nil {
			return err
		}
		if was != StatusScheduled {
			return nil
		}
		if err := s.cfg.Publisher.Publish(ctx, tx, EventTerminationCancelled, e.PartnerID, "", map[string]any{
			"termination_id": e.ID, "reason": reason}); err != nil {
			return internal(err, "publish "+EventTerminationCancelled)
		}
		name, err := s.partnerName(ctx, e.PartnerID)
		if err != nil {
			return err
		}
		_, err = mail.EnqueueToPartnerOwners(ctx, tx, mail.Message{PartnerID: e.PartnerID, Template: MailCancelled,
			Subject: fmt.Sprintf("The partnership with %s continues", name),
			Body: fmt.Sprintf("The bank has withdrawn its notice ending the partnership with %s (it was to end on %s).\n\nReason: %s\n",
				name, day(e.EffectiveAt), reason)})
		return internal(err, "mail owners")
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Get returns a termination (staff pages). Errors: CodeNotFound.
func (s *Service) Get(ctx context.Context, exitID string) (*Exit, error) {
	return s.load(s.db.WithContext(ctx), exitID, false)
}

// List returns the terminations, newest first; partnerID "" for all.
func (s *Service) List(ctx context.Context, partnerID string) ([]Exit, error) {
	q := s.db.WithContext(ctx).Order("created_at DESC, id DESC")
	if partnerID != "" {
		q = q.Where("partner_id = ?", partnerID)
	}
	var out []Exit
	return out, internal(q.Find(&out).Error, "list terminations")
}

// StepsDone returns the exit's recorded steps in order.
func (s *Service) StepsDone(ctx context.Context, exitID string) ([]StepRecord, error) {
	var out []StepRecord
	err := s.db.WithContext(ctx).Where("exit_id = ?", exitID).Order("seq").Find(&out).Error
	return out, internal(err, "list steps")
}

// ForPartner returns the partner's termination it has notice of
// (scheduled, running or completed). A proposed termination is not shown
// until approved. Errors: CodeNotFound (none).
func (s *Service) ForPartner(ctx context.Context, partnerID string) (*Exit, error) {
	var e Exit
	err := s.db.WithContext(ctx).Where("partner_id = ? AND status IN ?", partnerID,
		[]Status{StatusScheduled, StatusRunning, StatusCompleted}).Order("created_at DESC").Take(&e).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.New(problem.CodeNotFound, "partner %s has no termination scheduled", partnerID)
	}
	if err != nil {
		return nil, internal(err, "load termination")
	}
	return &e, nil
}
