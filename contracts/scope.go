package contracts

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
)

// Scope answers what a partner's contract allows now: whether one is active
// and which datasets it shares. It only reads, needs nothing but the
// database, and is built before the Service: partners asks it before go-live
// and apis before it shares a dataset, while the Service itself tells
// partners when a contract becomes active (so building in dependency order
// needs no late binding).
type Scope struct {
	db  *db.DB
	now func() time.Time
}

// NewScope returns a Scope on a migrated database; now is the clock (nil:
// time.Now).
func NewScope(d *db.DB, now func() time.Time) *Scope {
	if now == nil {
		now = time.Now
	}
	return &Scope{db: d, now: func() time.Time { return now().UTC() }}
}

// activeRow is the partner's active contract in force now, if any.
func (s *Scope) activeRow(ctx context.Context, partnerID string) (contractRow, bool, error) {
	now := s.now()
	var r contractRow
	err := s.db.DB.WithContext(ctx).Where("partner_id = ? AND status = ? AND start_at <= ? AND end_at > ?",
		partnerID, StatusActive, now, now).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return r, false, nil
	}
	return r, err == nil, err
}

// HasActiveContract reports whether the partner has an active contract in force
// now (status active and now within its term). partners asks it before go-live.
func (s *Scope) HasActiveContract(ctx context.Context, partnerID string) (bool, error) {
	_, ok, err := s.activeRow(ctx, partnerID)
	return ok, err
}

// DataSharingScope returns the datasets the partner's active contract lets it
// receive, sorted; none (empty, nil error) without an active contract.
func (s *Scope) DataSharingScope(ctx context.Context, partnerID string) ([]string, error) {
	c, ok, err := s.activeRow(ctx, partnerID)
	if err != nil || !ok {
		return []string{}, err
	}
	var vr versionRow
	if err := s.db.DB.WithContext(ctx).Where("contract_id = ? AND version = ?", c.ID, c.ActiveVersion).Take(&vr).Error; err != nil {
		return nil, err
	}
	v, err := vr.version()
	if err != nil {
		return nil, err
	}
	return v.Terms.DataScopes, nil
}

// AllowedDatasets is DataSharingScope under the name apis.ContractScope uses.
func (s *Scope) AllowedDatasets(ctx context.Context, partnerID string) ([]string, error) {
	return s.DataSharingScope(ctx, partnerID)
}

// PaymentFeeTerms returns the payment fee of the partner's active contract in
// force now and the contract currency (only payments in it are billed); ok
// is false without an active contract.
func (s *Scope) PaymentFeeTerms(ctx context.Context, partnerID string) (fee PaymentFee, currency string, ok bool, err error) {
	c, ok, err := s.activeRow(ctx, partnerID)
	if err != nil || !ok {
		return PaymentFee{}, "", false, err
	}
	var vr versionRow
	if err := s.db.DB.WithContext(ctx).Where("contract_id = ? AND version = ?", c.ID, c.ActiveVersion).Take(&vr).Error; err != nil {
		return PaymentFee{}, "", false, err
	}
	v, err := vr.version()
	if err != nil {
		return PaymentFee{}, "", false, err
	}
	return v.Terms.FeeSchedule.PaymentFee, v.Terms.Currency, true, nil
}
