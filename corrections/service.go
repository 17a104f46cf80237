package corrections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/events"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Event types (webhooks/catalogue.go) published when a correction is posted.
const (
	EventRefunded = "payment.refunded"
	EventReversed = "payment.reversed"
)

// MailTemplate names the customer's refund notice in the outbox.
const MailTemplate = "payment_refunded"

// Config wires a Service.
type Config struct {
	Store    Store
	Payments Payments
	// Core posts approved corrections (the reference core, or the bank's).
	Core core.Corrector
	// Customers gives the customer's email address for the refund mail
	// (nil: no mail).
	Customers Customers
	Ledger    Ledger
	Publisher events.Publisher
	// Complaints may be nil: a staff correction with a ComplaintID is then
	// refused.
	Complaints ComplaintLink
	Now        func() time.Time
	Logger     *slog.Logger
}

// Service raises, decides and posts corrections.
type Service struct {
	store      Store
	payments   Payments
	core       core.Corrector
	customers  Customers
	ledger     Ledger
	publisher  events.Publisher
	complaints ComplaintLink
	now        func() time.Time
	log        *slog.Logger
}

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, payments: cfg.Payments, core: cfg.Core, customers: cfg.Customers, ledger: cfg.Ledger,
		publisher: cfg.Publisher, complaints: cfg.Complaints, now: cfg.Now, log: cfg.Logger}
	if s.publisher == nil {
		s.publisher = events.Discard
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func authorize(a Actor, action staff.Action) error { return staff.Authorize(a.ID, a.Role, action) }

func notFound(kind, id string) error {
	return problem.New(problem.CodeNotFound, "%s %s not found", kind, id)
}

// RequestByPartner records a partner's request for a correction of one of
// its payments, pending approval by staff. Refusals: CodeNotFound (no such
// payment, or another partner's or environment's), CodeValidation (kind,
// reason, amount), CodeInvalidState (the payment is not accepted, or was
// reversed or has corrections a reversal cannot follow), and the refund
// limit (CodeValidation, the amount left).
func (s *Service) RequestByPartner(ctx context.Context, r PartnerRequest) (*Correction, error) {
	p, err := s.payment(ctx, r.PaymentID)
	if err == nil && (p.PartnerID != r.PartnerID || p.Environment != r.Environment) {
		err = notFound("domestic payment", r.PaymentID)
	}
	if err != nil {
		return nil, err
	}
	return s.raise(ctx, p, r.Kind, r.Amount, strings.TrimSpace(r.Reason), "", audit.ActorPartner, RaisedByPartner, r.ClientID, r.InteractionID)
}

// PartnerCorrections lists the corrections of one of the partner's
// payments, newest first. Refusal: CodeNotFound (as RequestByPartner).
func (s *Service) PartnerCorrections(ctx context.Context, partnerID string, env environment.Environment, paymentID string) ([]Correction, error) {
	p, err := s.payment(ctx, paymentID)
	if err == nil && (p.PartnerID != partnerID || p.Environment != env) {
		err = notFound("domestic payment", paymentID)
	}
	if err != nil {
		return nil, err
	}
	return s.store.List(ctx, Filter{PaymentID: p.ID})
}

// Raise records a staff member's correction, pending approval by another.
// With a ComplaintID the complaint must be an open one about the payment
// (ComplaintLink.CheckRefund). Refusals: CodeForbidden (role),
// CodeNotFound (payment), CodeValidation, CodeInvalidState (as
// RequestByPartner), and CheckRefund's.
func (s *Service) Raise(ctx context.Context, actor Actor, in Raise) (*Correction, error) {
	if err := authorize(actor, staff.ActCorrectionsRaise); err != nil {
		return nil, err
	}
	p, err := s.payment(ctx, strings.TrimSpace(in.PaymentID))
	if err != nil {
		return nil, err
	}
	complaint := strings.TrimSpace(in.ComplaintID)
	if complaint != "" {
		if s.complaints == nil {
			return nil, problem.New(problem.CodeValidation, "complaints are not enabled: raise the correction without a complaint")
		}
		if err := s.complaints.CheckRefund(ctx, complaint, p.ID); err != nil {
			return nil, err
		}
	}
	return s.raise(ctx, p, in.Kind, in.Amount, strings.TrimSpace(in.Reason), complaint, audit.ActorStaff, RaisedByStaff, actor.ID, actor.InteractionID)
}

func (s *Service) payment(ctx context.Context, id string) (*Payment, error) {
	p, err := s.payments.Payment(ctx, id)
	if errors.Is(err, ErrPaymentNotFound) || (err == nil && p == nil) {
		return nil, notFound("domestic payment", id)
	}
	return p, err
}

func (s *Service) raise(ctx context.Context, p *Payment, kind string, amount money.Money, reason, complaint, actorType, raisedByType, raisedBy, interaction string) (*Correction, error) {
	amount, err := validate(kind, reason, amount, p)
	if err != nil {
		return nil, err
	}
	if !p.Accepted {
		return nil, problem.New(problem.CodeInvalidState, "payment %s is %s: only a payment the bank accepted can be refunded or reversed", p.ID, p.Status)
	}
	now := s.clock()
	c := &Correction{ID: ids.New("cor"), PaymentID: p.ID, PartnerID: p.PartnerID, ClientID: p.ClientID, Environment: p.Environment,
		CustomerID: p.CustomerID, Kind: kind, Amount: amount, Reason: reason, ComplaintID: complaint, Status: StatusPending,
		RaisedByType: raisedByType, RaisedBy: raisedBy, CreatedAt: now, UpdatedAt: now}
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		t, err := s.store.Reserve(ctx, p.ID, p.Amount, amount.Minor, kind == KindReversal)
		switch {
		case errors.Is(err, ErrReversed) && t.Reversed:
			return problem.New(problem.CodeInvalidState, "payment %s has been reversed already", p.ID)
		case errors.Is(err, ErrReversed):
			return problem.New(problem.CodeInvalidState, "payment %s has refunds (%s of %s): a reversal is the whole amount, so refund the rest instead",
				p.ID, text(money.Money{Minor: t.Reserved, Currency: p.Amount.Currency}), text(p.Amount))
		case errors.Is(err, ErrExceeds):
			return problem.New(problem.CodeValidation, "a refund of %s exceeds what is left to refund of payment %s: %s of %s",
				text(amount), p.ID, text(money.Money{Minor: t.Original.Minor - t.Reserved, Currency: p.Amount.Currency}), text(p.Amount))
		case err != nil:
			return err
		}
		if err := s.store.Create(ctx, c); err != nil {
			return err
		}
		details := map[string]any{"payment_id": p.ID, "kind": kind, "amount": strconv.FormatInt(amount.Minor, 10),
			"currency": amount.Currency, "reason": reason}
		if complaint != "" {
			details["complaint_id"] = complaint
		}
		return s.store.Audit(ctx, audit.Entry{ActorType: actorType, ActorID: raisedBy, Action: "correction.raised",
			ObjectType: "correction", ObjectID: c.ID, PartnerID: p.PartnerID, InteractionID: interaction, Details: details})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// List returns the corrections f selects, newest first. Refusal: CodeForbidden.
func (s *Service) List(ctx context.Context, actor Actor, f Filter) ([]Correction, error) {
	if err := authorize(actor, staff.ActCorrectionsRead); err != nil {
		return nil, err
	}
	return s.store.List(ctx, f)
}

// Get returns one correction. Refusals: CodeForbidden, CodeNotFound.
func (s *Service) Get(ctx context.Context, actor Actor, id string) (*Correction, error) {
	if err := authorize(actor, staff.ActCorrectionsRead); err != nil {
		return nil, err
	}
	c, err := s.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound("correction", id)
	}
	return c, err
}

// Totals returns what the live corrections of a payment hold of it.
// Refusal: CodeForbidden.
func (s *Service) Totals(ctx context.Context, actor Actor, paymentID string) (Totals, error) {
	if err := authorize(actor, staff.ActCorrectionsRead); err != nil {
		return Totals{}, err
	}
	return s.store.Totals(ctx, paymentID)
}

// Decisions.
const (
	Approve = "approve"
	Reject  = "reject"
)

// Decide approves or rejects a pending correction with a mandatory note.
// The staff member who raised it cannot decide it (a partner's request is
// decided by any one staff member). Exactly one decision wins under
// concurrent ones (conditional update). A rejection gives the amount back;
// an approval posts the correction (see Resume) — when the core cannot be
// reached the correction stays approved and the error is returned after the
// decision was recorded. Refusals: CodeForbidden, CodeValidation (decision,
// note), CodeNotFound, CodeInvalidState (decided already), CodeMakerChecker,
// CodeConflict (another decision won meanwhile).
func (s *Service) Decide(ctx context.Context, actor Actor, id, decision, note string) (*Correction, error) {
	if err := authorize(actor, staff.ActCorrectionsApprove); err != nil {
		return nil, err
	}
	if decision != Approve && decision != Reject {
		return nil, problem.New(problem.CodeValidation, "decision must be %s or %s", Approve, Reject)
	}
	note = strings.TrimSpace(note)
	switch {
	case note == "":
		return nil, problem.New(problem.CodeValidation, "a decision needs a note")
	case len(note) > MaxNote:
		return nil, problem.New(problem.CodeValidation, "the note is longer than %d bytes", MaxNote)
	}
	c, err := s.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound("correction", id)
	}
	if err != nil {
		return nil, err
	}
	if !c.Pending() {
		return nil, problem.New(problem.CodeInvalidState, "correction %s is already %s", id, c.Status)
	}
	if c.RaisedByType == RaisedByStaff && c.RaisedBy == actor.ID {
		return nil, problem.New(problem.CodeMakerChecker, "correction %s was raised by %s, who cannot also decide it", id, actor.ID)
	}
	now := s.clock()
	upd := *c
	upd.DecidedBy, upd.DecisionNote, upd.DecidedAt, upd.UpdatedAt = actor.ID, note, now, now
	upd.Status = StatusApproved
	action := "correction.approved"
	if decision == Reject {
		upd.Status, action = StatusRejected, "correction.rejected"
	}
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		if err := s.store.Update(ctx, &upd, StatusPending); err != nil {
			if errors.Is(err, ErrStale) {
				return problem.New(problem.CodeConflict, "correction %s was decided by someone else meanwhile; reload it", id)
			}
			return err
		}
		if decision == Reject {
			if err := s.store.Release(ctx, c.PaymentID, c.Amount.Minor, c.Kind == KindReversal); err != nil {
				return err
			}
		}
		return s.store.Audit(ctx, audit.Entry{ActorType: audit.ActorStaff, ActorID: actor.ID, Action: action,
			ObjectType: "correction", ObjectID: c.ID, PartnerID: c.PartnerID, InteractionID: actor.InteractionID,
			Details: map[string]any{"payment_id": c.PaymentID, "kind": c.Kind, "amount": strconv.FormatInt(c.Amount.Minor, 10),
				"currency": c.Amount.Currency, "note": note, "raised_by": c.RaisedBy}})
	})
	if err != nil {
		return nil, err
	}
	if decision == Reject {
		return &upd, nil
	}
	posted, err := s.Resume(ctx, upd.ID)
	if posted == nil {
		return &upd, err
	}
	return posted, err
}

// Resume posts an approved correction: the core first (outside any
// database transaction, the correction id as its idempotency key: a
// correction the core posted before a crash is not posted again), then in
// one transaction the correction becomes posted with the core's entries,
// the ledger posting (idempotent per correction id), the complaint's
// resolution, the partner's event, the customer's mail and the audit entry.
// A posted correction is returned as it is; a pending, rejected or failed
// one is CodeInvalidState. When the core refuses the posting for good (the
// payment was reversed in the sandbox meanwhile, an account is gone…) the
// correction becomes failed, its amount is given back and the refusal is
// returned (CodeInvalidState) with the failed correction. The platform calls it after each approval and, for any
// left approved by a crash, from housekeeping (ResumeApproved).
func (s *Service) Resume(ctx context.Context, id string) (*Correction, error) {
	c, err := s.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound("correction", id)
	}
	if err != nil {
		return nil, err
	}
	switch c.Status {
	case StatusPosted:
		return c, nil
	case StatusApproved:
	default:
		return nil, problem.New(problem.CodeInvalidState, "correction %s is %s, not approved", id, c.Status)
	}
	res, err := s.core.PostCorrection(ctx, core.CorrectionInstruction{CorrectionID: c.ID, PaymentID: c.PaymentID,
		Kind: c.Kind, Amount: c.Amount, Reason: c.Reason})
	if permanent(err) {
		return s.fail(ctx, c, err)
	}
	if err != nil {
		return nil, fmt.Errorf("corrections: post %s in the core: %w", c.ID, err)
	}
	notice := s.notice(ctx, c)
	upd := *c
	upd.Status, upd.CoreCreditTransactionID, upd.CoreDebitTransactionID = StatusPosted, res.CreditTransactionID, res.DebitTransactionID
	upd.PostedAt, upd.UpdatedAt = s.clock(), s.clock()
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		if err := s.store.Update(ctx, &upd, StatusApproved); err != nil {
			return err
		}
		tx := s.store.Conn(ctx)
		if s.ledger != nil {
			if err := s.ledger.PostCorrection(ctx, tx, &upd); err != nil {
				return err
			}
		}
		if upd.ComplaintID != "" && s.complaints != nil {
			if err := s.complaints.Refunded(ctx, tx, upd.ComplaintID, upd.ID, upd.Amount); err != nil {
				return err
			}
		}
		event := EventRefunded
		if upd.Kind == KindReversal {
			event = EventReversed
		}
		if err := s.publisher.Publish(ctx, tx, event, upd.PartnerID, upd.ClientID, map[string]any{
			"payment_id": upd.PaymentID, "correction_id": upd.ID, "amount": strconv.FormatInt(upd.Amount.Minor, 10),
			"currency": upd.Amount.Currency, "reason": upd.Reason, "kind": upd.Kind}); err != nil {
			return err
		}
		if notice != nil {
			if _, err := mail.Enqueue(ctx, tx, *notice); err != nil {
				return err
			}
		}
		return s.store.Audit(ctx, audit.Entry{ActorType: audit.ActorSystem, ActorID: "corrections", Action: "correction.posted",
			ObjectType: "correction", ObjectID: upd.ID, PartnerID: upd.PartnerID,
			Details: map[string]any{"payment_id": upd.PaymentID, "credit_transaction_id": res.CreditTransactionID,
				"debit_transaction_id": res.DebitTransactionID, "suspense": res.Suspense, "core_replayed": res.Already}})
	})
	if errors.Is(err, ErrStale) { // another node recorded it first
		return s.store.Get(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	return &upd, nil
}

// permanent reports whether the core refused a posting for good (as
// opposed to being unreachable): retrying cannot help.
func permanent(err error) bool {
	for _, e := range []error{core.ErrInvalid, core.ErrNotFound, core.ErrNotReversible, core.ErrCurrencyMismatch, core.ErrIdempotencyConflict} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// fail records the core's permanent refusal of approved correction c: it
// becomes failed with the reason, its amount is given back, and the
// refusal is returned as CodeInvalidState.
func (s *Service) fail(ctx context.Context, c *Correction, cause error) (*Correction, error) {
	upd := *c
	upd.Status, upd.FailureReason, upd.UpdatedAt = StatusFailed, cause.Error(), s.clock()
	err := s.store.Tx(ctx, func(ctx context.Context) error {
		if err := s.store.Update(ctx, &upd, StatusApproved); err != nil {
			return err
		}
		if err := s.store.Release(ctx, c.PaymentID, c.Amount.Minor, c.Kind == KindReversal); err != nil {
			return err
		}
		return s.store.Audit(ctx, audit.Entry{ActorType: audit.ActorSystem, ActorID: "corrections", Action: "correction.failed",
			ObjectType: "correction", ObjectID: c.ID, PartnerID: c.PartnerID,
			Details: map[string]any{"payment_id": c.PaymentID, "reason": upd.FailureReason}})
	})
	if errors.Is(err, ErrStale) {
		return s.store.Get(ctx, c.ID)
	}
	if err != nil {
		return nil, err
	}
	return &upd, problem.New(problem.CodeInvalidState, "the core refused correction %s: %s", c.ID, upd.FailureReason)
}

// ResumeApproved posts every correction left approved (a crash between the
// core and the record, or an unreachable core) and returns how many it
// posted; the first failure is returned after trying the rest.
func (s *Service) ResumeApproved(ctx context.Context) (int, error) {
	cs, err := s.store.List(ctx, Filter{Status: StatusApproved})
	if err != nil {
		return 0, err
	}
	n, first := 0, error(nil)
	for _, c := range cs {
		if _, err := s.Resume(ctx, c.ID); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		n++
	}
	return n, first
}

// notice is the customer's mail about posted correction c, or nil (no
// customer reader, no address, or a failed read: logged, since the posting
// matters more than its notice).
func (s *Service) notice(ctx context.Context, c *Correction) *mail.Message {
	if s.customers == nil || c.CustomerID == "" {
		return nil
	}
	cus, err := s.customers.Customer(ctx, c.CustomerID)
	if err != nil {
		if !errors.Is(err, core.ErrNotFound) {
			s.log.ErrorContext(ctx, "corrections: notice: read customer", "correction_id", c.ID, "err", err)
		}
		return nil
	}
	if cus.Email == "" {
		return nil
	}
	what, label, subject := "refunded", "Refund", "Refund of "+text(c.Amount)
	if c.Kind == KindReversal {
		what, label, subject = "reversed", "Reversal", "Payment of "+text(c.Amount)+" reversed"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Dear %s,\n\n", plainText(cus.DisplayName))
	fmt.Fprintf(&b, "Your payment %s has been %s: %s was credited to your account.\n\n", c.PaymentID, what, text(c.Amount))
	fmt.Fprintf(&b, "  Reason:     %s\n", plainText(c.Reason))
	fmt.Fprintf(&b, "  Correction: %s\n\n", c.ID)
	fmt.Fprintf(&b, "It shows on your statement as \"%s of payment %s\".\n", label, c.PaymentID)
	return &mail.Message{PartnerID: c.PartnerID, Recipient: cus.Email, Template: MailTemplate, Subject: subject, Body: b.String()}
}

// plainText drops control characters (line breaks included).
func plainText(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s))
}
