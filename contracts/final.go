package contracts

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// The end of a partnership (partners/exit): the notice period of the
// partner's active contract, and the final settlement on the effective date.

// ActiveContract returns the partner's active contract in force now, and
// whether there is one (its NoticeDays is the notice a termination gives).
func (s *Scope) ActiveContract(ctx context.Context, partnerID string) (Contract, bool, error) {
	r, ok, err := s.activeRow(ctx, partnerID)
	if err != nil || !ok {
		return Contract{}, false, err
	}
	return r.contract(), true, nil
}

// FinalRunID is the run_id of a final statement (written by SettleFinal,
// not by a monthly settlement run).
const FinalRunID = "final"

// SettleFinal ends the partner's contracts and settles its last period at
// end (the termination's effective date, UTC):
//
//  1. every active contract of the partner is terminated at end (as the
//     system, audited contract.terminated with reason);
//  2. the statement of the month containing the instant before end is
//     written for the usage of [month start, end), with the monthly minimum
//     prorated to the share of the month covered, the pending adjustments,
//     its ledger posting, statement.issued and its audit, exactly as a
//     monthly run writes it (run_id FinalRunID). The monthly run of that
//     month then finds it and leaves the partner out; earlier months are
//     settled by their monthly runs (the contract covers them).
//
// A statement of that month that exists already (a crash after writing it,
// or a run that settled the whole month) is returned as it is. ok is false
// when no contract covers the month (nothing to settle). Errors:
// CodeValidation (no partner, zero end or no reason).
func (s *Service) SettleFinal(ctx context.Context, partnerID string, end time.Time, reason string) (st Statement, ok bool, err error) {
	if partnerID == "" || end.IsZero() || strings.TrimSpace(reason) == "" {
		return Statement{}, false, problem.New(problem.CodeValidation, "a final settlement needs a partner, an end and a reason")
	}
	end = end.UTC()
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		var rows []contractRow
		if err := tx.Where("partner_id = ? AND status = ?", partnerID, StatusActive).Order("id").Find(&rows).Error; err != nil {
			return err
		}
		for _, c := range rows {
			to, ok := next(c.Status, evTerminate)
			if !ok {
				continue
			}
			at := end
			if c.StartAt.After(at) {
				at = c.StartAt // a contract that had not started ends at its start
			}
			c.Status, c.TerminatedAt, c.UpdatedAt = to, &at, s.now()
			if err := tx.Select("*").Updates(&c).Error; err != nil {
				return err
			}
			if err := audit.Record(ctx, tx, staffAudit(SystemActor, "contract.terminated", c.ID, c.PartnerID,
				map[string]any{"reason": reason, "terminated_at": at})); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Statement{}, false, err
	}
	period := PeriodOf(end.Add(-time.Nanosecond))
	start, monthEnd, err := ParsePeriod(period)
	if err != nil {
		return Statement{}, false, err
	}
	if st, found, err := s.statementOf(ctx, partnerID, period); err != nil || found {
		return st, found, err
	}
	usage, err := s.partnerUsage(ctx, partnerID, start, end)
	if err != nil {
		return Statement{}, false, err
	}
	if err := s.settlePartner(ctx, FinalRunID, partnerID, period, start, monthEnd, end, s.now(), usage); err != nil && !errors.Is(err, errStatementExists) {
		return Statement{}, false, err
	}
	return s.statementOf(ctx, partnerID, period)
}

// statementOf returns the partner's statement of period with its lines, if any.
func (s *Service) statementOf(ctx context.Context, partnerID, period string) (Statement, bool, error) {
	var r statementRow
	err := s.db.DB.WithContext(ctx).Where("partner_id = ? AND period = ?", partnerID, period).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Statement{}, false, nil
	}
	if err != nil {
		return Statement{}, false, err
	}
	st, err := s.Statement(ctx, partnerID, r.ID)
	return st, err == nil, err
}

// partnerUsage is periodUsage for one partner and [start, end).
func (s *Service) partnerUsage(ctx context.Context, partnerID string, start, end time.Time) ([]usageGroup, error) {
	var rows []usageGroup
	err := s.db.DB.WithContext(ctx).Raw(`SELECT partner_id, product, kind, currency, COUNT(*) AS n, COALESCE(SUM(amount), 0) AS amount
		FROM usage_records
		WHERE partner_id = ? AND at >= ? AND at < ? AND environment = ? AND billable = ?
		GROUP BY partner_id, product, kind, currency`, partnerID, start, end, environment.Production, true).Scan(&rows).Error
	return rows, err
}
