package contracts

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
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
			FormatMinor(l.Amount, st.Currency), l.Reference, csvSafe(l.Description)})
	}
	w.Write([]string{st.ID, st.PartnerID, st.Period, st.Currency, "", "net", "", "", "", "", "", "", "", i(st.Net, 10),
		FormatMinor(st.Net, st.Currency), "", st.Direction})
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
// the period is already settled. Refusals: CodeForbidden (role), CodeValidation
// (with field errors).
func (s *Service) IssueAdjustment(ctx context.Context, actor Actor, partnerID, period, kind string, amount Money, reason string) (Adjustment, error) {
	if err := authorize(actor, actAdjust); err != nil {
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
	if amount.Amount <= 0 {
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
	row := adjustmentRow{ID: ids.New("adj"), PartnerID: partnerID, Period: period, Kind: kind, Amount: amount.Amount,
		Currency: amount.Currency, Reason: reason, CreatedBy: actor.ID, CreatedAt: s.now()}
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		sign := int64(1)
		if kind == AdjustmentCredit {
			sign = -1
		}
		p, err := s.Ledger.Post(ctx, tx, Posting{IdempotencyKey: AdjustmentKey(row.ID),
			Description: kind + " note " + row.ID + " for " + partnerID + ", " + period + ": " + reason,
			Entries: []Entry{
				{Account: PartnerAccount(AccountPartnerReceivable, partnerID), Currency: amount.Currency, Amount: sign * amount.Amount},
				{Account: AccountBankAdjustments, Currency: amount.Currency, Amount: -sign * amount.Amount},
			}})
		if err != nil {
			return err
		}
		row.PostingID = p.ID
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{ActorType: audit.ActorStaff, ActorID: actor.ID, Action: "adjustment.issued",
			ObjectType: "adjustment", ObjectID: row.ID, PartnerID: partnerID,
			Details: map[string]any{"kind": kind, "amount": amount.Amount, "currency": amount.Currency, "period": period, "reason": reason}})
	})
	if err != nil {
		return Adjustment{}, err
	}
	return row.adjustment(), nil
}

// Adjustments lists a partner's adjustments (partnerID "" for all), newest first.
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
