package apis

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// SandboxReversalReason is the reason ResetSandbox gives the core for each
// reversal (the debtor's statement reads "Reversal of payment <id>: sandbox reset").
const SandboxReversalReason = "sandbox reset"

// SandboxReset reports what ResetSandbox did. Counts are of what this call
// changed: a second reset right after the first reports zeros.
type SandboxReset struct {
	PartnerID string
	// ConsentsRevoked counts sandbox consents moved from AwaitingAuthorisation
	// or Authorised to Revoked.
	ConsentsRevoked int
	// PaymentsReversed counts sandbox payments whose money the core gave back;
	// ReversedPaymentIDs names them.
	PaymentsReversed   int
	ReversedPaymentIDs []string
	// NotReversed lists accepted payments the core would not reverse (for
	// example to or from an account that is not a synthetic sandbox account),
	// with the core's reason. They are listed again by every reset.
	NotReversed []NotReversedPayment
	// ReversalUnsupported is set when the bank's core does not implement
	// core.SandboxReverser: no payment was reversed.
	ReversalUnsupported bool
	// RequestLogDeleted and IdempotencyKeysDeleted count deleted rows.
	RequestLogDeleted      int64
	IdempotencyKeysDeleted int64
}

// NotReversedPayment is a payment ResetSandbox left as it was, and why.
type NotReversedPayment struct {
	PaymentID, Reason string
}

// ResetSandbox undoes one partner's own effects in the sandbox (environment
// sandbox only; production data is never read or changed). The test customers
// are shared by every sandbox partner, so nothing of another partner's is
// touched:
//
//  1. every sandbox consent of the partner that is AwaitingAuthorisation or
//     Authorised is revoked exactly as DELETE /…-consents/{id} revokes it
//     (audit consent.revoked, event consent.revoked with revoked_by
//     "partner", its tokens revoked after commit); one found expired is
//     marked Expired instead;
//  2. every sandbox payment of the partner that moved money is reversed in the
//     core (core.SandboxReverser; audit payment.reversed): the debtor gets the
//     amount back, an internal creditor gives it back. A Pending payment is
//     first driven through the core, so it cannot move money after the reset.
//     A core without the port skips this step (ReversalUnsupported);
//  3. the partner's sandbox request log and idempotency keys are deleted and
//     one audit entry sandbox.reset records the counts, in one transaction.
//
// Each step commits on its own (the core is another system) and is
// idempotent, so a reset that fails part-way (the error says which step) is
// completed by running it again. actor is the portal user who asked.
func (s *Service) ResetSandbox(ctx context.Context, partnerID string, actor Actor) (*SandboxReset, error) {
	if partnerID == "" {
		return nil, problem.New(problem.CodeValidation, "partner id is required")
	}
	rep := &SandboxReset{PartnerID: partnerID, ReversedPaymentIDs: []string{}, NotReversed: []NotReversedPayment{}}
	if err := s.resetConsents(ctx, rep, actor); err != nil {
		return nil, err
	}
	if err := s.reversePayments(ctx, rep, actor); err != nil {
		return nil, err
	}
	err := s.store.Tx(ctx, func(ctx context.Context) error {
		var err error
		if rep.RequestLogDeleted, err = s.store.DeleteRequestLog(ctx, partnerID, environment.Sandbox); err != nil {
			return err
		}
		if rep.IdempotencyKeysDeleted, err = s.store.DeleteKeys(ctx, partnerID, environment.Sandbox); err != nil {
			return err
		}
		notReversed := make([]string, len(rep.NotReversed))
		for i, n := range rep.NotReversed {
			notReversed[i] = n.PaymentID
		}
		return s.store.Audit(ctx, audit.Entry{ActorType: actor.Type, ActorID: actor.ID, Action: "sandbox.reset",
			ObjectType: "partner", ObjectID: partnerID, PartnerID: partnerID, InteractionID: actor.InteractionID,
			Details: map[string]any{"environment": environment.Sandbox, "consents_revoked": rep.ConsentsRevoked,
				"payments_reversed": rep.PaymentsReversed, "reversed_payment_ids": rep.ReversedPaymentIDs,
				"payments_not_reversed": notReversed, "reversal_supported": !rep.ReversalUnsupported,
				"request_log_deleted": rep.RequestLogDeleted, "idempotency_keys_deleted": rep.IdempotencyKeysDeleted}})
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox reset of %s: delete request log and idempotency keys, audit: %w", partnerID, err)
	}
	return rep, nil
}

// resetConsents revokes the partner's open sandbox consents through revoke,
// the path every revocation takes.
func (s *Service) resetConsents(ctx context.Context, rep *SandboxReset, actor Actor) error {
	open, err := s.store.PartnerConsents(ctx, rep.PartnerID, environment.Sandbox,
		StatusAwaitingAuthorisation, StatusAuthorised)
	if err != nil {
		return err
	}
	for _, listed := range open {
		for attempt := 1; ; attempt++ {
			c, err := s.consent(ctx, listed.ID) // marks it Expired when due
			if err != nil {
				return err
			}
			if c.Status != StatusAwaitingAuthorisation && c.Status != StatusAuthorised {
				break // expired, or decided or revoked meanwhile
			}
			err = s.revoke(ctx, c, actor, "partner")
			var pe *problem.Error
			if errors.As(err, &pe) && pe.Code == problem.CodeConflict && attempt < 3 {
				continue // changed between our read and our write: look again
			}
			if err != nil {
				return err
			}
			rep.ConsentsRevoked++
			break
		}
	}
	return nil
}

// reversePayments reverses the partner's sandbox payments that moved money.
func (s *Service) reversePayments(ctx context.Context, rep *SandboxReset, actor Actor) error {
	rv, ok := s.core.(core.SandboxReverser)
	if !ok {
		rep.ReversalUnsupported = true
		return nil
	}
	payments, err := s.store.PartnerPayments(ctx, rep.PartnerID, environment.Sandbox,
		PaymentPending, PaymentAcceptedSettlementInProcess, PaymentAcceptedSettlementCompleted)
	if err != nil {
		return err
	}
	for i := range payments {
		p := &payments[i]
		if p.Status == PaymentPending {
			s.execute(ctx, p, actor) // settle it first: the core is idempotent by payment id
			switch p.Status {
			case PaymentRejected:
				continue
			case PaymentPending:
				return problem.New(problem.CodeConflict,
					"payment %s is still pending at the bank; nothing else was reversed, try the reset again in a moment", p.ID)
			}
		}
		r, err := rv.ReversePayment(ctx, p.ID, SandboxReversalReason)
		switch {
		case errors.Is(err, core.ErrNotReversible):
			rep.NotReversed = append(rep.NotReversed, NotReversedPayment{PaymentID: p.ID, Reason: err.Error()})
			continue
		case errors.Is(err, core.ErrNotFound):
			rep.NotReversed = append(rep.NotReversed, NotReversedPayment{PaymentID: p.ID, Reason: "the bank has no record of this payment"})
			continue
		case err != nil:
			return fmt.Errorf("sandbox reset of %s: reverse payment %s: %w", rep.PartnerID, p.ID, err)
		case r.AlreadyReversed:
			continue
		}
		rep.PaymentsReversed++
		rep.ReversedPaymentIDs = append(rep.ReversedPaymentIDs, p.ID)
		err = s.store.Tx(ctx, func(ctx context.Context) error {
			return s.store.Audit(ctx, audit.Entry{ActorType: actor.Type, ActorID: actor.ID, Action: "payment.reversed",
				ObjectType: "payment", ObjectID: p.ID, PartnerID: p.PartnerID, InteractionID: actor.InteractionID,
				Details: map[string]any{"reason": SandboxReversalReason, "amount": strconv.FormatInt(p.Amount.Minor, 10),
					"currency": p.Amount.Currency, "debtor_account_id": p.DebtorAccountID,
					"credit_transaction_id": r.CreditTransactionID, "debit_transaction_id": r.DebitTransactionID}})
		})
		if err != nil {
			return fmt.Errorf("sandbox reset of %s: audit reversal of %s: %w", rep.PartnerID, p.ID, err)
		}
	}
	return nil
}
