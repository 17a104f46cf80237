package contracts

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Statements lists a partner's statements (partnerID "" for every partner, staff
// only), newest period first, without lines.
func (s *Service) Statements(ctx context.Context, partnerID string) ([]Statement, error) {
	q := s.db.DB.WithContext(ctx).Model(&statementRow{})
	if partnerID != "" {
		q = q.Where("partner_id = ?", partnerID)
	}
	var rows []statementRow
	if err := q.Order("period DESC, partner_id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Statement, len(rows))
	for i, r := range rows {
		out[i] = r.statement()
	}
	return out, nil
}

// Statement returns a statement with its lines. partnerID scopes the lookup (a
// partner's portal passes its own id; staff pass ""): another partner's statement
// is CodeNotFound, exactly as an unknown one.
func (s *Service) Statement(ctx context.Context, partnerID, statementID string) (Statement, error) {
	q := s.db.DB.WithContext(ctx).Where("id = ?", statementID)
	if partnerID != "" {
		q = q.Where("partner_id = ?", partnerID)
	}
	var r statementRow
	err := q.Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Statement{}, notFound("statement", statementID)
	}
	if err != nil {
		return Statement{}, err
	}
	st := r.statement()
	var lines []lineRow
	if err := s.db.DB.WithContext(ctx).Where("statement_id = ?", st.ID).Order("seq").Find(&lines).Error; err != nil {
		return Statement{}, err
	}
	for _, l := range lines {
		st.Lines = append(st.Lines, l.line())
	}
	return st, nil
}

// CSVHeader is the header row of StatementCSV.
var CSVHeader = []string{"statement_id", "partner_id", "period", "currency", "seq", "kind", "product", "tier_from", "tier_to",
	"quantity", "unit_price_micros", "rate_bps", "base_minor", "amount_minor", "amount", "reference", "description"}

// StatementCSV renders a statement as CSV: the header, one row per line and a
// final "net" row. Scoped like Statement (CodeNotFound for another partner's).
func (s *Service) StatementCSV(ctx context.Context, partnerID, statementID string) ([]byte, error) {
	st, err := s.Statement(ctx, partnerID, statementID)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(CSVHeader)
	i := strconv.FormatInt
	for _, l := range st.Lines {
		w.Write([]string{st.ID, st.PartnerID, st.Period, st.Currency, strconv.Itoa(l.Seq), l.Kind, l.Product, i(l.TierFrom, 10),
			i(l.TierTo, 10), i(l.Quantity, 10), i(l.UnitPriceMicros, 10), i(l.RateBPS, 10), i(l.Base, 10), i(l.Amount, 10),
			money.FormatMinor(l.Amount, st.Currency), l.Reference, csvSafe(l.Description)})
	}
	w.Write([]string{st.ID, st.PartnerID, st.Period, st.Currency, "", "net", "", "", "", "", "", "", "", i(st.Net, 10),
		money.FormatMinor(st.Net, st.Currency), "", st.Direction})
	w.Flush()
	return buf.Bytes(), w.Error()
}

// csvSafe defuses spreadsheet formula injection in free text (reasons are typed
// by staff but shown to partners).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// AdjustmentKey is the ledger idempotency key of an adjustment's posting.
func AdjustmentKey(adjustmentID string) string { return "adjustment:" + adjustmentID }

// IssueAdjustment issues a credit note (lowers what the partner owes) or a debit
// note (raises it) concerning period; it posts its own ledger entries at once and
// appears on the partner's statement for that period, or the next statement when
// the period is already settled. A credit note above CreditNoteLimit of its
// currency is not issued yet: it is returned in status pending_approval, without
// a posting, until ApproveAdjustment. Refusals: CodeForbidden (role),
// CodeValidation (with field errors).
func (s *Service) IssueAdjustment(ctx context.Context, actor Actor, partnerID, period, kind string, amount money.Money, reason string) (Adjustment, error) {
	if err := authorize(actor, staff.ActAdjustmentsIssue); err != nil {
		return Adjustment{}, err
	}
	var f fieldErrors
	if strings.TrimSpace(partnerID) == "" {
		f.add("partner_id", "is required")
	}
	if _, _, err := ParsePeriod(period); err != nil {
		f.add("period", "must be YYYY-MM")
	}
	if kind != AdjustmentCredit && kind != AdjustmentDebit {
		f.add("kind", "must be credit or debit")
	}
	if amount.Minor <= 0 {
		f.add("amount.amount", "must be positive")
	}
	if !currencyRE.MatchString(amount.Currency) {
		f.add("amount.currency", "must be an ISO 4217 code of three upper-case letters")
	}
	if strings.TrimSpace(reason) == "" {
		f.add("reason", "is required")
	}
	if err := f.err("adjustment"); err != nil {
		return Adjustment{}, err
	}
	row := adjustmentRow{ID: ids.New("adj"), PartnerID: partnerID, Period: period, Kind: kind, Amount: amount.Minor,
		Currency: amount.Currency, Reason: reason, CreatedBy: actor.ID, CreatedAt: s.now(), Status: AdjustmentIssued}
	limit := s.CreditNoteLimit(amount.Currency)
	if kind == AdjustmentCredit && amount.Minor > limit {
		row.Status = AdjustmentPending
	}
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		if row.Status == AdjustmentPending {
			if err := tx.Create(&row).Error; err != nil {
				return err
			}
			return audit.Record(ctx, tx, audit.Entry{ActorType: audit.ActorStaff, ActorID: actor.ID, Action: "adjustment.requested",
				ObjectType: "adjustment", ObjectID: row.ID, PartnerID: partnerID,
				Details: map[string]any{"kind": kind, "amount": amount.Minor, "currency": amount.Currency, "period": period,
					"reason": reason, "limit": limit}})
		}
		if err := s.postAdjustment(ctx, tx, &row); err != nil {
			return err
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{ActorType: audit.ActorStaff, ActorID: actor.ID, Action: "adjustment.issued",
			ObjectType: "adjustment", ObjectID: row.ID, PartnerID: partnerID,
			Details: map[string]any{"kind": kind, "amount": amount.Minor, "currency": amount.Currency, "period": period, "reason": reason}})
	})
	if err != nil {
		return Adjustment{}, err
	}
	return row.adjustment(), nil
}

// postAdjustment posts the adjustment's ledger entries in tx and sets its PostingID.
func (s *Service) postAdjustment(ctx context.Context, tx *gorm.DB, row *adjustmentRow) error {
	sign := int64(1)
	if row.Kind == AdjustmentCredit {
		sign = -1
	}
	p, err := s.Ledger.Post(ctx, tx, Posting{IdempotencyKey: AdjustmentKey(row.ID),
		Description: row.Kind + " note " + row.ID + " for " + row.PartnerID + ", " + row.Period + ": " + row.Reason,
		Entries: []Entry{
			{Account: PartnerAccount(AccountPartnerReceivable, row.PartnerID), Currency: row.Currency, Amount: sign * row.Amount},
			{Account: AccountBankAdjustments, Currency: row.Currency, Amount: -sign * row.Amount},
		}})
	if err != nil {
		return err
	}
	row.PostingID = p.ID
	return nil
}

// lockAdjustment loads an adjustment for a decision (locked on PostgreSQL).
func (s *Service) lockAdjustment(ctx context.Context, tx *gorm.DB, id string) (adjustmentRow, error) {
	var r adjustmentRow
	err := tx.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return r, notFound("adjustment", id)
	}
	if err == nil && r.Status != AdjustmentPending {
		err = invalidState("adjustment %s is %s, not pending_approval", r.ID, r.Status)
	}
	return r, err
}

// ApproveAdjustment is the second approver's step for a credit note above the
// limit: it is posted to the ledger and issued (it then appears on a statement
// like any other). The approver must be finance or admin and not the credit
// note's maker. Refusals: CodeForbidden, CodeNotFound, CodeMakerChecker,
// CodeInvalidState (not pending).
func (s *Service) ApproveAdjustment(ctx context.Context, actor Actor, id string) (Adjustment, error) {
	if err := authorize(actor, staff.ActCreditNotesDecide); err != nil {
		return Adjustment{}, err
	}
	var row adjustmentRow
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		if row, err = s.lockAdjustment(ctx, tx, id); err != nil {
			return err
		}
		if row.CreatedBy == actor.ID {
			return problem.New(problem.CodeMakerChecker, "credit note %s was issued by %s, who cannot also approve it", row.ID, actor.ID)
		}
		if err := s.postAdjustment(ctx, tx, &row); err != nil {
			return err
		}
		now := s.now()
		row.Status, row.DecidedBy, row.DecidedAt = AdjustmentIssued, actor.ID, &now
		res := tx.Model(&adjustmentRow{}).Where("id = ? AND status = ?", row.ID, AdjustmentPending).Updates(map[string]any{
			"status": row.Status, "posting_id": row.PostingID, "decided_by": actor.ID, "decided_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return problem.New(problem.CodeConflict, "adjustment %s changed concurrently; reload and retry", row.ID)
		}
		return audit.Record(ctx, tx, audit.Entry{ActorType: audit.ActorStaff, ActorID: actor.ID, Action: "adjustment.approved",
			ObjectType: "adjustment", ObjectID: row.ID, PartnerID: row.PartnerID,
			Details: map[string]any{"maker": row.CreatedBy, "amount": row.Amount, "currency": row.Currency, "posting": row.PostingID}})
	})
	if err != nil {
		return Adjustment{}, err
	}
	return row.adjustment(), nil
}

// RejectAdjustment turns down a pending credit note with a reason; it is never
// posted. Its maker may withdraw it this way too. Refusals: CodeForbidden,
// CodeValidation (no reason), CodeNotFound, CodeInvalidState (not pending).
func (s *Service) RejectAdjustment(ctx context.Context, actor Actor, id, reason string) (Adjustment, error) {
	if err := authorize(actor, staff.ActCreditNotesDecide); err != nil {
		return Adjustment{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Adjustment{}, problem.New(problem.CodeValidation, "a rejection needs a reason").
			With("errors", []FieldError{{Field: "reason", Reason: "is required"}})
	}
	var row adjustmentRow
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		if row, err = s.lockAdjustment(ctx, tx, id); err != nil {
			return err
		}
		now := s.now()
		row.Status, row.DecidedBy, row.DecidedAt, row.DecisionReason = AdjustmentRejected, actor.ID, &now, reason
		res := tx.Model(&adjustmentRow{}).Where("id = ? AND status = ?", row.ID, AdjustmentPending).Updates(map[string]any{
			"status": row.Status, "decided_by": actor.ID, "decided_at": now, "decision_reason": reason})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return problem.New(problem.CodeConflict, "adjustment %s changed concurrently; reload and retry", row.ID)
		}
		return audit.Record(ctx, tx, audit.Entry{ActorType: audit.ActorStaff, ActorID: actor.ID, Action: "adjustment.rejected",
			ObjectType: "adjustment", ObjectID: row.ID, PartnerID: row.PartnerID,
			Details: map[string]any{"maker": row.CreatedBy, "amount": row.Amount, "currency": row.Currency, "reason": reason}})
	})
	if err != nil {
		return Adjustment{}, err
	}
	return row.adjustment(), nil
}

// Adjustments lists a partner's adjustments (partnerID "" for all) in every
// status (issued, pending_approval, rejected), newest first.
func (s *Service) Adjustments(ctx context.Context, partnerID string) ([]Adjustment, error) {
	q := s.db.DB.WithContext(ctx).Model(&adjustmentRow{})
	if partnerID != "" {
		q = q.Where("partner_id = ?", partnerID)
	}
	var rows []adjustmentRow
	if err := q.Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Adjustment, len(rows))
	for i, r := range rows {
		out[i] = r.adjustment()
	}
	return out, nil
}

// Runs lists settlement runs, newest period first.
func (s *Service) Runs(ctx context.Context) ([]SettlementRun, error) {
	var rows []runRow
	if err := s.db.DB.WithContext(ctx).Order("period DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]SettlementRun, 0, len(rows))
	for _, r := range rows {
		run, err := s.runResult(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, run)
	}
	return out, nil
}

// Run returns the settlement run of a period, or CodeNotFound.
func (s *Service) Run(ctx context.Context, period string) (SettlementRun, error) {
	var r runRow
	err := s.db.DB.WithContext(ctx).Where("period = ?", period).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return SettlementRun{}, problem.New(problem.CodeNotFound, "no settlement run for %s", period)
	}
	if err != nil {
		return SettlementRun{}, err
	}
	return s.runResult(ctx, r)
}
