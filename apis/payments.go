package apis

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/risk"
	"github.com/bankbridge/bankbridge/risk/limits"
)

// Settlement model. The reference core executes a payment synchronously: the
// debit is booked when ExecutePayment returns. The platform still shows the OB
// progression honestly, in the order it observes it:
//
//   - Pending: the payment is recorded (consent consumed) but the core has not
//     answered yet (or failed to: the next GET drives the execution again, which
//     the core's idempotency by payment id makes safe);
//   - AcceptedSettlementInProcess: the core accepted the instruction; this is
//     what the POST answers;
//   - AcceptedSettlementCompleted: a later read found the core's booking done
//     (the core reports BookedAt); the GET persists it and publishes
//     payment.status_changed;
//   - Rejected: the core refused it (insufficient funds, closed account…);
//     the reason is in /domestic-payments/{id}/payment-details StatusDetail.

// CreatePayment records and executes a domestic payment under the customer's
// payment consent c (from UsableConsent). Refusals: CodeConsentMismatch (other
// consent id or Initiation), CodeConsentConsumed, CodeLimitExceeded,
// CodeVelocityExceeded. A payment the bank refuses is returned with Status
// Rejected, not as an error: the core's refusal, or the risk scoring's
// reject (RiskRejectReason, never sent to the core). A payment the risk
// scoring holds is recorded Pending and Held with its review case (opened
// in the same transaction) and not sent to the core.
func (s *Service) CreatePayment(ctx context.Context, ac *oauth.AccessContext, c *Consent, req *OBWriteDomestic2, actor Actor) (*Payment, error) {
	m, err := req.Validate()
	if err != nil {
		return nil, err
	}
	if req.Data.ConsentId != c.ID {
		other, err := s.consent(ctx, req.Data.ConsentId)
		if errors.Is(err, ErrNotFound) || (err == nil && (other.PartnerID != ac.PartnerID || other.Environment != ac.Environment)) {
			return nil, errNotFound("consent", req.Data.ConsentId)
		}
		if err != nil {
			return nil, err
		}
		return nil, problem.New(problem.CodeConsentMismatch, "Data.ConsentId %s is not the consent this token was granted for (%s)", req.Data.ConsentId, c.ID)
	}
	if req.Data.Initiation.canonical() != c.Initiation.canonical() {
		return nil, problem.New(problem.CodeConsentMismatch, "Data.Initiation differs from the Initiation of consent %s", c.ID)
	}
	if c.Status == StatusConsumed {
		return nil, problem.New(problem.CodeConsentConsumed, "consent %s has been used by a payment", c.ID)
	}
	if len(c.AccountIDs) != 1 {
		return nil, problem.New(problem.CodeConsentNotAuthorised, "consent %s has no debtor account", c.ID)
	}
	rating, err := s.partnerRating(ctx, ac.PartnerID)
	if err != nil {
		return nil, err
	}
	lp := limits.Payment{Environment: ac.Environment, PartnerID: ac.PartnerID, AppID: ac.ClientID,
		CustomerID: c.CustomerID, Amount: m, PartnerRating: rating}
	rules, err := s.paymentLimits(ctx, lp)
	if err != nil {
		return nil, err
	}
	if err := limits.CheckAmount(rules, m); err != nil {
		return nil, err
	}
	if lim := s.LimitsFor(ac.Environment); m.Minor > lim.PerConsent {
		return nil, limitErr("per-consent", lim.PerConsent, m.Currency)
	}
	now := s.now()
	in := req.Data.Initiation
	p := &Payment{ID: ids.New("pay"), ConsentID: c.ID, PartnerID: ac.PartnerID, ClientID: ac.ClientID,
		Environment: ac.Environment, DebtorAccountID: c.AccountIDs[0], Amount: m, Initiation: &in,
		Status: PaymentPending, CustomerID: c.CustomerID, CreditorAccount: creditorKey(&in),
		CreatedAt: now, StatusUpdatedAt: now}
	assessment, err := s.assessPayment(ctx, c, p, rating)
	if err != nil {
		return nil, err
	}
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		// Serialise one partner's payments so its (and its apps') daily and
		// monthly totals cannot be overrun by concurrent payments; and, when
		// a customer's rule bounds a sum, the customer's payments through
		// every partner (locks are always taken partner first).
		if err := s.store.LockPartnerPayments(ctx, ac.PartnerID); err != nil {
			return err
		}
		if customerSums(rules) {
			if err := s.store.LockCustomerPayments(ctx, c.CustomerID); err != nil {
				return err
			}
		}
		if err := limits.CheckUsage(ctx, rules, lp, now, paymentUsage{s.store, p, c.CustomerID}); err != nil {
			return err
		}
		consumed := *c
		consumed.Status, consumed.StatusUpdatedAt = StatusConsumed, now
		if err := s.store.SetConsentStatus(ctx, &consumed, StatusAuthorised); err != nil {
			if errors.Is(err, ErrStale) {
				return problem.New(problem.CodeConsentConsumed, "consent %s has been used by a payment", c.ID)
			}
			return err
		}
		if err := s.store.Audit(ctx, audit.Entry{ActorType: actor.Type, ActorID: actor.ID, Action: "consent.consumed",
			ObjectType: "consent", ObjectID: c.ID, PartnerID: c.PartnerID, InteractionID: actor.InteractionID,
			Details: map[string]any{"payment_id": p.ID}}); err != nil {
			return err
		}
		if err := s.store.CreatePayment(ctx, p); err != nil {
			if errors.Is(err, ErrConsentUsed) {
				return problem.New(problem.CodeConsentConsumed, "consent %s has been used by a payment", c.ID)
			}
			return err
		}
		details := map[string]any{"consent_id": c.ID, "amount": strconv.FormatInt(m.Minor, 10), "currency": m.Currency,
			"debtor_account_id": p.DebtorAccountID}
		if p.Scoring.Decision != "" {
			details["risk_score"], details["risk_decision"] = p.Scoring.Score, p.Scoring.Decision
		}
		if err := s.store.Audit(ctx, audit.Entry{ActorType: actor.Type, ActorID: actor.ID, Action: "payment.created",
			ObjectType: "payment", ObjectID: p.ID, PartnerID: p.PartnerID, InteractionID: actor.InteractionID,
			Details: details}); err != nil {
			return err
		}
		if p.Held {
			if _, err := s.risk.OpenCase(ctx, risk.NewCase{PaymentID: p.ID, ConsentID: c.ID, PartnerID: p.PartnerID,
				ClientID: p.ClientID, Environment: p.Environment, CustomerID: p.CustomerID, Amount: m,
				CreditorName: in.CreditorAccount.Name, CreditorAccount: p.CreditorAccount, Assessment: assessment}); err != nil {
				return err
			}
		}
		return s.publish(ctx, "payment.created", p.PartnerID, p.ClientID, map[string]any{
			"payment_id": p.ID, "consent_id": c.ID, "amount": strconv.FormatInt(m.Minor, 10),
			"currency": m.Currency, "status": p.Status})
	})
	if err != nil {
		return nil, err
	}
	s.paymentOutcome(p.Status)
	if p.Status == PaymentPending {
		s.execute(ctx, p, actor)
	}
	return p, nil
}

// customerSums reports whether a customer's rule bounds a sum.
func customerSums(rules []limits.Rule) bool {
	for _, r := range rules {
		if r.Scope == limits.ScopeCustomer && r.Kind != limits.KindPerPayment && r.Kind != limits.KindVelocity {
			return true
		}
	}
	return false
}

// paymentUsage is limits.Usage for payment p of customerID, read in the
// payment's transaction.
type paymentUsage struct {
	store      Store
	p          *Payment
	customerID string
}

func (u paymentUsage) Total(ctx context.Context, by limits.Scope, since time.Time) (int64, error) {
	switch by {
	case limits.ScopeApp:
		return u.store.ClientTotalSince(ctx, u.p.ClientID, u.p.Environment, u.p.Amount.Currency, since)
	case limits.ScopeCustomer:
		return u.store.CustomerTotalSince(ctx, u.customerID, u.p.Environment, u.p.Amount.Currency, since)
	}
	return u.store.PartnerTotalSince(ctx, u.p.PartnerID, u.p.Environment, u.p.Amount.Currency, since)
}

func (u paymentUsage) DebtorCount(ctx context.Context, since time.Time) (int64, error) {
	return u.store.DebtorCountSince(ctx, u.p.DebtorAccountID, since)
}

// creditorKey is the payee account as PaymentHistory's new-payee check
// compares it: "SchemeName:Identification".
func creditorKey(in *Initiation) string {
	return in.CreditorAccount.SchemeName + ":" + in.CreditorAccount.Identification
}

// RiskRejectReason is the payment-details reason of a payment the risk
// scoring refused at submission.
const RiskRejectReason = "Refused by the bank's risk controls"

// assessPayment scores p (with Risk set) against the customer's history and
// records the outcome on p: Held for a hold, Rejected for a reject.
func (s *Service) assessPayment(ctx context.Context, c *Consent, p *Payment, rating string) (risk.Assessment, error) {
	if s.risk == nil {
		return risk.Assessment{}, nil
	}
	in := risk.Input{Amount: p.Amount, Customer: true, At: p.CreatedAt, Risk: c.Risk, PartnerRating: rating,
		Sandbox: p.Environment == environment.Sandbox}
	h, err := s.store.CustomerHistory(ctx, p.CustomerID, p.Amount.Currency, p.CreatedAt.Add(-risk.HistoryWindow))
	if err != nil {
		return risk.Assessment{}, err
	}
	in.History = risk.History{Count: h.Count, Max: h.Max}
	if h.Count > 0 {
		in.History.Mean = h.Sum / h.Count
	}
	paid, err := s.store.PaidCreditorBefore(ctx, p.CustomerID, p.CreditorAccount)
	if err != nil {
		return risk.Assessment{}, err
	}
	in.NewPayee = !paid
	if in.Velocity, err = s.store.CustomerCountSince(ctx, p.CustomerID, p.CreatedAt.Add(-risk.VelocityWindow)); err != nil {
		return risk.Assessment{}, err
	}
	a, err := s.risk.Assess(ctx, p.PartnerID, p.Initiation.CreditorAccount.Name, in)
	if err != nil {
		return risk.Assessment{}, err
	}
	p.Scoring = RiskScore{Score: a.Score, Decision: a.Decision, Reasons: a.Reasons}
	switch a.Decision {
	case risk.DecisionHold:
		p.Held = true
	case risk.DecisionReject:
		p.Status, p.RejectReason = PaymentRejected, RiskRejectReason
	}
	return a, nil
}

// execute drives a Pending payment through the core and records the outcome.
// Infrastructure failures leave it Pending (logged); the next read retries.
// A held payment is never sent (a risk officer releases it first).
func (s *Service) execute(ctx context.Context, p *Payment, actor Actor) {
	if p.Held || p.Status != PaymentPending {
		return
	}
	res, err := s.core.ExecutePayment(ctx, core.PaymentInstruction{
		PaymentID: p.ID, DebtorAccountID: p.DebtorAccountID,
		Creditor: core.Creditor{SchemeName: p.Initiation.CreditorAccount.SchemeName,
			Identification: p.Initiation.CreditorAccount.Identification, Name: p.Initiation.CreditorAccount.Name},
		Amount:    money.Money{Minor: p.Amount.Minor, Currency: p.Amount.Currency},
		Reference: p.Initiation.Reference(),
	})
	next, reason := "", ""
	switch {
	case errors.Is(err, core.ErrInvalid), errors.Is(err, core.ErrNotFound), errors.Is(err, core.ErrIdempotencyConflict):
		next, reason = PaymentRejected, err.Error()
	case err != nil:
		s.log.ErrorContext(ctx, "apis: execute payment", "payment_id", p.ID, "err", err)
		return
	case res.Status == core.PaymentAccepted:
		next = PaymentAcceptedSettlementInProcess
	default:
		next, reason = PaymentRejected, res.RejectReason
	}
	if err := s.setPaymentStatus(ctx, p, next, reason, actor); err != nil {
		s.log.ErrorContext(ctx, "apis: record payment outcome", "payment_id", p.ID, "err", err)
	}
}

func (s *Service) setPaymentStatus(ctx context.Context, p *Payment, next, reason string, actor Actor) error {
	upd := *p
	upd.Status, upd.RejectReason, upd.StatusUpdatedAt = next, reason, s.now()
	var notice *mail.Message
	if prev := p.Status; prev == PaymentPending && next == PaymentAcceptedSettlementInProcess {
		notice = s.paymentNotice(ctx, p, &upd)
	}
	err := s.store.Tx(ctx, func(ctx context.Context) error {
		if err := s.recordStatus(ctx, p, &upd, actor); err != nil {
			return err
		}
		if notice != nil { // only the request that moved it mails (another's ErrStale rolls back)
			return s.store.EnqueueMail(ctx, *notice)
		}
		return nil
	})
	if errors.Is(err, ErrStale) { // another request moved it: show theirs
		fresh, err := s.store.Payment(ctx, p.ID)
		if err != nil {
			return err
		}
		*p = *fresh
		return nil
	}
	if err == nil {
		*p = upd
		s.paymentOutcome(next)
	}
	return err
}

// recordStatus writes upd (from p's status), audits payment.status_changed
// and publishes it, in the transaction in ctx; ErrStale as SetPaymentStatus.
func (s *Service) recordStatus(ctx context.Context, p, upd *Payment, actor Actor) error {
	prev, next := p.Status, upd.Status
	if err := s.store.SetPaymentStatus(ctx, upd, prev); err != nil {
		return err
	}
	details := map[string]any{"previous_status": prev, "status": next}
	if upd.RejectReason != "" {
		details["reason"] = upd.RejectReason
	}
	if err := s.store.Audit(ctx, audit.Entry{ActorType: actor.Type, ActorID: actor.ID, Action: "payment.status_changed",
		ObjectType: "payment", ObjectID: p.ID, PartnerID: p.PartnerID, InteractionID: actor.InteractionID,
		Details: details}); err != nil {
		return err
	}
	return s.publish(ctx, "payment.status_changed", p.PartnerID, p.ClientID, map[string]any{
		"payment_id": p.ID, "previous_status": prev, "status": next})
}

// ErrNotHeld: ReleaseHeld or RejectHeld on a payment that is not a held,
// Pending one.
var ErrNotHeld = errors.New("apis: payment is not held")

// ReleaseHeld lifts the hold of a held, Pending payment in the transaction
// in ctx (a risk officer's release), audited as payment.released; the
// payment stays Pending until ExecuteReleased. ErrNotHeld, ErrNotFound.
func (s *Service) ReleaseHeld(ctx context.Context, id string, actor Actor) error {
	return s.store.Tx(ctx, func(ctx context.Context) error {
		p, err := s.store.Payment(ctx, id)
		if err != nil {
			return err
		}
		if err := s.store.ReleasePayment(ctx, id, s.now()); err != nil {
			if errors.Is(err, ErrStale) {
				return ErrNotHeld
			}
			return err
		}
		return s.store.Audit(ctx, audit.Entry{ActorType: actor.Type, ActorID: actor.ID, Action: "payment.released",
			ObjectType: "payment", ObjectID: id, PartnerID: p.PartnerID, InteractionID: actor.InteractionID})
	})
}

// ExecuteReleased sends a released (Pending, no longer held) payment to the
// core, as its creation would have; the outcome is published as
// payment.status_changed. A payment in any other state is left alone.
func (s *Service) ExecuteReleased(ctx context.Context, id string, actor Actor) error {
	p, err := s.store.Payment(ctx, id)
	if err != nil {
		return err
	}
	s.execute(ctx, p, actor)
	return nil
}

// RejectHeld moves a held, Pending payment to Rejected with reason (what the
// partner reads in payment-details) in the transaction in ctx, publishing
// payment.status_changed there. ErrNotHeld, ErrNotFound.
func (s *Service) RejectHeld(ctx context.Context, id, reason string, actor Actor) error {
	return s.store.Tx(ctx, func(ctx context.Context) error {
		p, err := s.store.Payment(ctx, id)
		if err != nil {
			return err
		}
		if !p.Held || p.Status != PaymentPending {
			return ErrNotHeld
		}
		upd := *p
		upd.Status, upd.RejectReason, upd.Held, upd.StatusUpdatedAt = PaymentRejected, reason, false, s.now()
		if err := s.recordStatus(ctx, p, &upd, actor); err != nil {
			if errors.Is(err, ErrStale) {
				return ErrNotHeld
			}
			return err
		}
		s.paymentOutcome(PaymentRejected)
		return nil
	})
}

// GetPayment returns one of the caller's payments, advancing its status from
// what the core reports (see the settlement model above).
func (s *Service) GetPayment(ctx context.Context, ac *oauth.AccessContext, id string, actor Actor) (*Payment, error) {
	p, err := s.store.Payment(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && (p.PartnerID != ac.PartnerID || p.Environment != ac.Environment)) {
		return nil, errNotFound("domestic payment", id)
	}
	if err != nil {
		return nil, err
	}
	switch p.Status {
	case PaymentPending:
		s.execute(ctx, p, actor)
	case PaymentAcceptedSettlementInProcess:
		res, err := s.core.Payment(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		if res.Status == core.PaymentAccepted && !res.BookedAt.IsZero() && !res.BookedAt.After(s.now()) {
			if err := s.setPaymentStatus(ctx, p, PaymentAcceptedSettlementCompleted, "", actor); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// FundsConfirmation reports whether the consent's debtor account can pay the
// consent's amount now (OB funds confirmation).
func (s *Service) FundsConfirmation(ctx context.Context, c *Consent) (bool, time.Time, error) {
	if len(c.AccountIDs) != 1 {
		return false, time.Time{}, problem.New(problem.CodeConsentNotAuthorised, "consent %s has no debtor account", c.ID)
	}
	ok, err := s.core.CheckFunds(ctx, c.AccountIDs[0], money.Money{Minor: c.Amount.Minor, Currency: c.Amount.Currency})
	if errors.Is(err, core.ErrCurrencyMismatch) {
		ok, err = false, nil
	}
	return ok, s.now(), err
}
