package apis

import (
	"context"
	"errors"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// The end of a partnership (partners/exit): the bank revokes every open
// consent of the partner, lists its consents and payments for the partner's
// data export, and after the retention period erases the personal data the
// platform holds about the partner's customers.

// RevokedByBank is the revoked_by of a consent the bank revoked (audit
// details and the consent.revoked event).
const RevokedByBank = "bank"

// OpenPartnerConsents lists the partner's consents, in every environment,
// that are AwaitingAuthorisation or Authorised (oldest first).
func (s *Service) OpenPartnerConsents(ctx context.Context, partnerID string) ([]Consent, error) {
	return s.partnerConsents(ctx, partnerID, StatusAwaitingAuthorisation, StatusAuthorised)
}

// PartnerConsentsAll lists every consent of the partner in every
// environment (oldest first), for its data export.
func (s *Service) PartnerConsentsAll(ctx context.Context, partnerID string) ([]Consent, error) {
	return s.partnerConsents(ctx, partnerID, StatusAwaitingAuthorisation, StatusAuthorised, StatusRejected, StatusRevoked,
		StatusExpired, StatusConsumed)
}

func (s *Service) partnerConsents(ctx context.Context, partnerID string, statuses ...string) ([]Consent, error) {
	var out []Consent
	for _, env := range environment.All() {
		cs, err := s.store.PartnerConsents(ctx, partnerID, env, statuses...)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// PartnerPaymentsAll lists every payment of the partner in every
// environment, for its data export.
func (s *Service) PartnerPaymentsAll(ctx context.Context, partnerID string) ([]Payment, error) {
	var out []Payment
	for _, env := range environment.All() {
		ps, err := s.store.PartnerPayments(ctx, partnerID, env, PaymentPending, PaymentAcceptedSettlementInProcess,
			PaymentAcceptedSettlementCompleted, PaymentRejected)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// RevokeByBank revokes one consent on the bank's behalf, exactly as every
// revocation (audit consent.revoked by actor, event consent.revoked with
// revoked_by "bank", its tokens revoked after commit, the consent dropped
// from every node's cache). It reports whether it revoked it: a consent
// already revoked, expired (it is marked so), rejected or consumed is left
// as it is. A consent changed concurrently is read again (up to three
// times). Errors: not_found.
func (s *Service) RevokeByBank(ctx context.Context, consentID string, actor Actor) (bool, error) {
	for attempt := 1; ; attempt++ {
		c, err := s.consent(ctx, consentID) // marks it Expired when due
		if errors.Is(err, ErrNotFound) {
			return false, errNotFound("consent", consentID)
		}
		if err != nil {
			return false, err
		}
		if c.Status != StatusAwaitingAuthorisation && c.Status != StatusAuthorised {
			return false, nil
		}
		err = s.revoke(ctx, c, actor, RevokedByBank)
		var pe *problem.Error
		if errors.As(err, &pe) && pe.Code == problem.CodeConflict && attempt < 3 {
			continue
		}
		return err == nil, err
	}
}

// PersonalDataErasure counts what ErasePartnerPersonalData changed.
type PersonalDataErasure struct {
	Consents        int64 `json:"consents_unlinked"`
	Payments        int64 `json:"payments_unlinked"`
	RequestLog      int64 `json:"request_log_deleted"`
	IdempotencyKeys int64 `json:"idempotency_keys_deleted"`
}

// ErasePartnerPersonalData removes, in one transaction, what the platform
// holds about the partner's customers once the retention period is over:
// each consent's customer, accounts and payment initiation (payee names and
// accounts); each payment's customer, debtor account, creditor account and
// initiation; the partner's request log and idempotency keys (stored
// responses). Kept: the consents' and payments' ids, types, statuses,
// amounts, currencies and times (the partner's statements and the bank's
// ledger refer to them). Running it again changes nothing more.
func (s *GormStore) ErasePartnerPersonalData(ctx context.Context, partnerID string) (PersonalDataErasure, error) {
	var out PersonalDataErasure
	err := s.Tx(ctx, func(ctx context.Context) error {
		g := s.handle(ctx)
		res := g.Exec(`UPDATE api_consents SET customer_id = '', account_ids = '[]', initiation = ''
			WHERE partner_id = ? AND (customer_id <> '' OR account_ids <> '[]' OR initiation <> '')`, partnerID)
		if res.Error != nil {
			return res.Error
		}
		out.Consents = res.RowsAffected
		res = g.Exec(`UPDATE api_payments SET customer_id = '', debtor_account_id = '', creditor_account = '', initiation = '{}'
			WHERE partner_id = ? AND (customer_id <> '' OR debtor_account_id <> '' OR creditor_account <> '' OR initiation <> '{}')`, partnerID)
		if res.Error != nil {
			return res.Error
		}
		out.Payments = res.RowsAffected
		res = g.Where("partner_id = ?", partnerID).Delete(&requestLogRow{})
		if res.Error != nil {
			return res.Error
		}
		out.RequestLog = res.RowsAffected
		res = g.Where("partner_id = ?", partnerID).Delete(&idempotencyRow{})
		out.IdempotencyKeys = res.RowsAffected
		return res.Error
	})
	return out, err
}
