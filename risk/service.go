package risk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// AssessorConfig wires an Assessor.
type AssessorConfig struct {
	Store Store
	// Screener screens payee names (nil: NoMatches).
	Screener Screener
	// Ratings gives partners' risk ratings (nil: FixedRating(RatingMedium)).
	Ratings Ratings
	// Thresholds default to DefaultThresholds.
	Thresholds Thresholds
	Now        func() time.Time
}

// Assessor scores payments and opens the cases of held ones. It is what the
// payments side (apis) calls; it needs nothing of apis, so it is built first.
type Assessor struct {
	store    Store
	screener Screener
	ratings  Ratings
	th       Thresholds
	now      func() time.Time
}

// NewAssessor returns an Assessor; the thresholds must be valid.
func NewAssessor(cfg AssessorConfig) (*Assessor, error) {
	a := &Assessor{store: cfg.Store, screener: cfg.Screener, ratings: cfg.Ratings, th: cfg.Thresholds, now: cfg.Now}
	if a.screener == nil {
		a.screener = NoMatches{}
	}
	if a.ratings == nil {
		a.ratings = FixedRating(RatingMedium)
	}
	if a.th == (Thresholds{}) {
		a.th = DefaultThresholds()
	}
	if err := a.th.Validate(); err != nil {
		return nil, err
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// Thresholds returns the thresholds in force.
func (a *Assessor) Thresholds() Thresholds { return a.th }

// Assess completes in with the partner's rating, the screening of payeeName
// and the time (when in.At is zero), and scores it.
func (a *Assessor) Assess(ctx context.Context, partnerID, payeeName string, in Input) (Assessment, error) {
	var err error
	if in.PartnerRating == "" {
		if in.PartnerRating, err = a.PartnerRating(ctx, partnerID); err != nil {
			return Assessment{}, err
		}
	}
	if strings.TrimSpace(payeeName) != "" {
		if in.Matches, err = a.screener.Screen(ctx, payeeName); err != nil {
			return Assessment{}, fmt.Errorf("risk: screening: %w", err)
		}
	}
	if in.At.IsZero() {
		in.At = a.now().UTC()
	}
	return Score(in, a.th), nil
}

// PartnerRating is the partner's risk rating as the scoring reads it
// (RatingLow, RatingMedium or RatingHigh): the caller that also checks
// limits reads it once and passes it in Input.PartnerRating.
func (a *Assessor) PartnerRating(ctx context.Context, partnerID string) (string, error) {
	r, err := a.ratings.RiskRating(ctx, partnerID)
	if err != nil {
		return "", fmt.Errorf("risk: partner rating: %w", err)
	}
	return r, nil
}

// OpenCase opens the review case of a held payment in the transaction in ctx
// (the payment's), audited as risk_case.opened.
func (a *Assessor) OpenCase(ctx context.Context, n NewCase) (*Case, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	c := &Case{ID: ids.New("rcs"), PaymentID: n.PaymentID, ConsentID: n.ConsentID, PartnerID: n.PartnerID,
		ClientID: n.ClientID, Environment: n.Environment, CustomerID: n.CustomerID, Amount: n.Amount,
		CreditorName: n.CreditorName, CreditorAccount: n.CreditorAccount, Score: n.Assessment.Score,
		Reasons: n.Assessment.Reasons, Matches: n.Assessment.Matches, Status: CaseOpen,
		CreatedAt: a.now().UTC().Truncate(time.Microsecond)}
	err := a.store.Tx(ctx, func(ctx context.Context) error {
		if err := a.store.CreateCase(ctx, c); err != nil {
			return err
		}
		return a.store.Audit(ctx, audit.Entry{ActorType: audit.ActorSystem, ActorID: "risk", Action: "risk_case.opened",
			ObjectType: "risk_case", ObjectID: c.ID, PartnerID: c.PartnerID,
			Details: map[string]any{"payment_id": c.PaymentID, "score": c.Score, "amount": strconv.FormatInt(c.Amount.Minor, 10),
				"currency": c.Amount.Currency}})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Actor is the staff member deciding a case.
type Actor struct {
	ID            string
	Role          staff.Role
	InteractionID string
}

// Payments is the port to the payments side (apis, adapted in
// cmd/bankbridge) that a decision drives.
type Payments interface {
	// ReleaseHeld lifts the hold of a held, Pending payment in the
	// transaction in ctx (audited there). An error aborts the decision.
	ReleaseHeld(ctx context.Context, paymentID string, actor Actor) error
	// Execute sends a released payment to the core, after the release
	// committed; it publishes payment.status_changed as any execution does.
	// A failure leaves the payment Pending for the next read to retry.
	Execute(ctx context.Context, paymentID string, actor Actor) error
	// RejectHeld moves a held payment to Rejected with reason (shown to the
	// partner) in the transaction in ctx, publishing payment.status_changed
	// there.
	RejectHeld(ctx context.Context, paymentID, reason string, actor Actor) error
}

// PaymentNotHeld is the refusal a Payments implementation returns when the
// case's payment is no longer held (or gone): CodeInvalidState.
func PaymentNotHeld(paymentID string) error {
	return problem.New(problem.CodeInvalidState, "payment %s is not held for review", paymentID)
}

// Config wires a Service.
type Config struct {
	Store    Store
	Payments Payments
	// SLA is the time limit of an open case (default 24 h); older cases are
	// overdue.
	SLA time.Duration
	// DualControl is the amount, in the major unit of the payment's currency
	// (money.ParseMajor), at and above which a case needs two officers
	// (default "10000"; a currency whose minor units the amount does not fit
	// falls back to the default).
	DualControl string
	Now         func() time.Time
	Logger      *slog.Logger
}

// Service is the risk officers' case queue.
type Service struct {
	store    Store
	payments Payments
	sla      time.Duration
	dual     string
	now      func() time.Time
	log      *slog.Logger
}

// DefaultSLA and DefaultDualControl are the defaults of Config.
const (
	DefaultSLA         = 24 * time.Hour
	DefaultDualControl = "10000"
)

// RejectReason is what the partner reads on a payment rejected after review
// (the officer's note stays inside the bank).
const RejectReason = "Rejected after the bank's risk review"

// NewService returns a Service.
func NewService(cfg Config) *Service {
	s := &Service{store: cfg.Store, payments: cfg.Payments, sla: cfg.SLA, dual: cfg.DualControl, now: cfg.Now, log: cfg.Logger}
	if s.sla <= 0 {
		s.sla = DefaultSLA
	}
	if s.dual == "" {
		s.dual = DefaultDualControl
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// SLA returns the time limit of an open case.
func (s *Service) SLA() time.Duration { return s.sla }

// Overdue reports whether an open case has waited longer than the SLA.
func (s *Service) Overdue(c *Case, now time.Time) bool { return c.Open() && c.Age(now) > s.sla }

// DualControlAmount is the dual-control amount in currency's minor units.
func (s *Service) DualControlAmount(currency string) int64 {
	n, err := money.ParseMajor(s.dual, currency)
	if err != nil {
		n, _ = money.ParseMajor(DefaultDualControl, currency)
	}
	return n
}

// NeedsTwo reports whether deciding c takes two officers.
func (s *Service) NeedsTwo(c *Case) bool {
	return c.Amount.Minor >= s.DualControlAmount(c.Amount.Currency)
}

func authorize(actor Actor, action staff.Action) error {
	if !staff.Can(actor.Role, action) {
		return problem.New(problem.CodeForbidden, "role %s may not %s", actor.Role, action)
	}
	return nil
}

// OpenCases lists the cases waiting for a decision, oldest first.
// Refusal: CodeForbidden.
func (s *Service) OpenCases(ctx context.Context, actor Actor) ([]Case, error) {
	if err := authorize(actor, staff.ActRiskCasesRead); err != nil {
		return nil, err
	}
	return s.store.OpenCases(ctx)
}

// Case returns one case. Refusals: CodeForbidden, CodeNotFound.
func (s *Service) Case(ctx context.Context, actor Actor, id string) (*Case, error) {
	if err := authorize(actor, staff.ActRiskCasesRead); err != nil {
		return nil, err
	}
	c, err := s.store.Case(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, problem.New(problem.CodeNotFound, "risk case %s not found", id)
	}
	return c, err
}

// Decide records an officer's decision (Release or Reject) on case id with a
// mandatory note. Below the dual-control amount the decision is final; at or
// above it the first officer's decision is a proposal that a different
// officer approves by deciding the same (deciding otherwise replaces the
// proposal with theirs). A final release lifts the hold and executes the
// payment through the core; a final reject rejects it. Exactly one decision
// wins under concurrent ones (conditional update). Every step is audited.
//
// Refusals: CodeForbidden (role), CodeValidation (decision, note),
// CodeNotFound, CodeInvalidState (already decided), CodeMakerChecker (the
// proposer approving their own proposal), CodeConflict (another officer
// decided meanwhile).
func (s *Service) Decide(ctx context.Context, actor Actor, id, decision, note string) (*Case, error) {
	if err := authorize(actor, staff.ActRiskCasesDecide); err != nil {
		return nil, err
	}
	if decision != Release && decision != Reject {
		return nil, problem.New(problem.CodeValidation, "decision must be %s or %s", Release, Reject)
	}
	note = strings.TrimSpace(note)
	if note == "" {
		return nil, problem.New(problem.CodeValidation, "a decision needs a note")
	}
	if len(note) > 2000 {
		return nil, problem.New(problem.CodeValidation, "the note is longer than 2000 bytes")
	}
	c, err := s.store.Case(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, problem.New(problem.CodeNotFound, "risk case %s not found", id)
	}
	if err != nil {
		return nil, err
	}
	if !c.Open() {
		return nil, problem.New(problem.CodeInvalidState, "risk case %s is already %s", id, c.Status)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	upd := *c
	final := !s.NeedsTwo(c) || (c.Status == CaseProposed && c.ProposedDecision == decision)
	if final && c.Status == CaseProposed && c.ProposedBy == actor.ID {
		return nil, problem.New(problem.CodeMakerChecker, "risk case %s was proposed by %s, who cannot also approve it", id, actor.ID)
	}
	action := "risk_case.proposed"
	if final {
		upd.Status, upd.DecidedBy, upd.DecisionNote, upd.DecidedAt = CaseReleased, actor.ID, note, now
		action = "risk_case.released"
		if decision == Reject {
			upd.Status, action = CaseRejected, "risk_case.rejected"
		}
	} else {
		upd.Status, upd.ProposedDecision, upd.ProposedBy, upd.ProposedNote, upd.ProposedAt = CaseProposed, decision, actor.ID, note, now
	}
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		if err := s.store.UpdateCase(ctx, &upd, c.Status); err != nil {
			if errors.Is(err, ErrStale) {
				return problem.New(problem.CodeConflict, "risk case %s was changed by another officer meanwhile; reload it", id)
			}
			return err
		}
		details := map[string]any{"payment_id": c.PaymentID, "decision": decision, "note": note,
			"amount": strconv.FormatInt(c.Amount.Minor, 10), "currency": c.Amount.Currency, "dual_control": s.NeedsTwo(c)}
		if c.Status == CaseProposed {
			details["proposed_by"], details["proposed_decision"] = c.ProposedBy, c.ProposedDecision
		}
		if err := s.store.Audit(ctx, audit.Entry{ActorType: audit.ActorStaff, ActorID: actor.ID, Action: action,
			ObjectType: "risk_case", ObjectID: c.ID, PartnerID: c.PartnerID, InteractionID: actor.InteractionID,
			Details: details}); err != nil {
			return err
		}
		switch {
		case !final:
			return nil
		case decision == Release:
			return s.payments.ReleaseHeld(ctx, c.PaymentID, actor)
		default:
			return s.payments.RejectHeld(ctx, c.PaymentID, RejectReason, actor)
		}
	})
	if err != nil {
		return nil, err
	}
	if final && decision == Release {
		if err := s.payments.Execute(ctx, c.PaymentID, actor); err != nil {
			s.log.ErrorContext(ctx, "risk: execute released payment", "payment_id", c.PaymentID, "err", err)
		}
	}
	return &upd, nil
}

// FileSAR files a suspicious activity report from case caseID with the
// officer's narrative, audited as sar.filed (with no partner on the entry:
// nothing of a report is ever shown outside the bank). Refusals:
// CodeForbidden, CodeValidation (narrative), CodeNotFound.
func (s *Service) FileSAR(ctx context.Context, actor Actor, caseID, narrative string) (*SAR, error) {
	if err := authorize(actor, staff.ActSARFile); err != nil {
		return nil, err
	}
	narrative = strings.TrimSpace(narrative)
	switch {
	case narrative == "":
		return nil, problem.New(problem.CodeValidation, "a suspicious activity report needs a narrative")
	case len(narrative) > 20000:
		return nil, problem.New(problem.CodeValidation, "the narrative is longer than 20000 bytes")
	}
	c, err := s.store.Case(ctx, caseID)
	if errors.Is(err, ErrNotFound) {
		return nil, problem.New(problem.CodeNotFound, "risk case %s not found", caseID)
	}
	if err != nil {
		return nil, err
	}
	r := &SAR{ID: ids.New("sar"), CaseID: c.ID, Narrative: narrative, FiledBy: actor.ID,
		FiledAt: s.now().UTC().Truncate(time.Microsecond)}
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		if err := s.store.CreateSAR(ctx, r); err != nil {
			return err
		}
		return s.store.Audit(ctx, audit.Entry{ActorType: audit.ActorStaff, ActorID: actor.ID, Action: "sar.filed",
			ObjectType: "sar", ObjectID: r.ID, InteractionID: actor.InteractionID,
			Details: map[string]any{"case_id": c.ID, "payment_id": c.PaymentID}})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// CaseSARs lists the reports filed from a case (none for a role that may not
// read them: the case page then shows none). Refusal: CodeForbidden.
func (s *Service) CaseSARs(ctx context.Context, actor Actor, caseID string) ([]SAR, error) {
	if err := authorize(actor, staff.ActSARRead); err != nil {
		return nil, err
	}
	return s.store.CaseSARs(ctx, caseID)
}

// ExportSAR returns report id with its case and the audit trail of the
// report, the case and the payment (format SARFormat), and audits the
// export (sar.exported). Refusals: CodeForbidden, CodeNotFound.
func (s *Service) ExportSAR(ctx context.Context, actor Actor, id string) (*SARExport, error) {
	if err := authorize(actor, staff.ActSARRead); err != nil {
		return nil, err
	}
	r, err := s.store.SAR(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, problem.New(problem.CodeNotFound, "suspicious activity report %s not found", id)
	}
	if err != nil {
		return nil, err
	}
	c, err := s.store.Case(ctx, r.CaseID)
	if err != nil {
		return nil, err
	}
	if err := s.store.Audit(ctx, audit.Entry{ActorType: actorType(actor), ActorID: actor.ID, Action: "sar.exported",
		ObjectType: "sar", ObjectID: r.ID, InteractionID: actor.InteractionID}); err != nil {
		return nil, err
	}
	trail, err := s.store.AuditTrail(ctx, r.ID, c.ID, c.PaymentID)
	if err != nil {
		return nil, err
	}
	return &SARExport{Format: SARFormat, SAR: *r, Audit: trail, Case: SARCase{ID: c.ID, PaymentID: c.PaymentID,
		ConsentID: c.ConsentID, PartnerID: c.PartnerID, ClientID: c.ClientID, Environment: string(c.Environment),
		CustomerID: c.CustomerID, Amount: c.Amount, Payee: c.CreditorName, PayeeAccount: c.CreditorAccount, Score: c.Score,
		Reasons: orEmpty(c.Reasons), Matches: orEmpty(c.Matches), Status: c.Status, DecidedBy: c.DecidedBy,
		DecisionNote: c.DecisionNote, CreatedAt: c.CreatedAt}}, nil
}

// actorType is the audit actor type of a: the platform for RoleSystem (the
// CLI), staff otherwise.
func actorType(a Actor) string {
	if a.Role == staff.RoleSystem {
		return audit.ActorSystem
	}
	return audit.ActorStaff
}
