package corrections

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
)

// GormStore is the Store on internal/db (migration 0100_corrections.sql).
type GormStore struct{ db *db.DB }

// NewGormStore returns the Store of d.
func NewGormStore(d *db.DB) *GormStore { return &GormStore{db: d} }

var _ Store = (*GormStore)(nil)

// Tx implements Store.
func (s *GormStore) Tx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.TxContext(ctx, fn)
}

// Conn implements Store.
func (s *GormStore) Conn(ctx context.Context) *gorm.DB { return s.db.Conn(ctx) }

// Audit implements Store.
func (s *GormStore) Audit(ctx context.Context, e audit.Entry) error {
	return audit.Record(ctx, s.db.Conn(ctx), e)
}

type row struct {
	ID                      string `gorm:"primaryKey"`
	PaymentID               string
	PartnerID               string
	ClientID                string
	Environment             environment.Environment
	CustomerID              string
	Kind                    string
	AmountMinor             int64
	Currency                string
	Reason                  string
	ComplaintID             string
	Status                  string
	RaisedByType            string
	RaisedBy                string
	DecidedBy               string
	DecisionNote            string
	DecidedAt               *time.Time
	CoreCreditTransactionID string
	CoreDebitTransactionID  string
	PostedAt                *time.Time
	FailureReason           string
	CreatedAt               time.Time
	UpdatedAt               time.Time
}

func (row) TableName() string { return "corrections" }

func toRow(c *Correction) *row {
	return &row{ID: c.ID, PaymentID: c.PaymentID, PartnerID: c.PartnerID, ClientID: c.ClientID, Environment: c.Environment,
		CustomerID: c.CustomerID, Kind: c.Kind, AmountMinor: c.Amount.Minor, Currency: c.Amount.Currency, Reason: c.Reason,
		ComplaintID: c.ComplaintID, Status: c.Status, RaisedByType: c.RaisedByType, RaisedBy: c.RaisedBy,
		DecidedBy: c.DecidedBy, DecisionNote: c.DecisionNote, DecidedAt: db.NullTime(c.DecidedAt),
		CoreCreditTransactionID: c.CoreCreditTransactionID, CoreDebitTransactionID: c.CoreDebitTransactionID,
		PostedAt: db.NullTime(c.PostedAt), FailureReason: c.FailureReason, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
}

func (r *row) toCorrection() Correction {
	return Correction{ID: r.ID, PaymentID: r.PaymentID, PartnerID: r.PartnerID, ClientID: r.ClientID, Environment: r.Environment,
		CustomerID: r.CustomerID, Kind: r.Kind, Amount: money.Money{Minor: r.AmountMinor, Currency: r.Currency}, Reason: r.Reason,
		ComplaintID: r.ComplaintID, Status: r.Status, RaisedByType: r.RaisedByType, RaisedBy: r.RaisedBy,
		DecidedBy: r.DecidedBy, DecisionNote: r.DecisionNote, DecidedAt: db.TimeOf(r.DecidedAt),
		CoreCreditTransactionID: r.CoreCreditTransactionID, CoreDebitTransactionID: r.CoreDebitTransactionID,
		PostedAt: db.TimeOf(r.PostedAt), FailureReason: r.FailureReason, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

type totalsRow struct {
	PaymentID     string `gorm:"primaryKey"`
	OriginalMinor int64
	Currency      string
	ReservedMinor int64
	Reversed      bool
}

func (totalsRow) TableName() string { return "correction_totals" }

func (t *totalsRow) totals() Totals {
	return Totals{PaymentID: t.PaymentID, Original: money.Money{Minor: t.OriginalMinor, Currency: t.Currency},
		Reserved: t.ReservedMinor, Reversed: t.Reversed}
}

// Reserve implements Store. The insert-if-absent comes first, so on SQLite
// the transaction holds the write lock before it reads.
func (s *GormStore) Reserve(ctx context.Context, paymentID string, original money.Money, amount int64, reversal bool) (Totals, error) {
	g := s.db.Conn(ctx)
	if err := g.Exec(`INSERT INTO correction_totals (payment_id, original_minor, currency, reserved_minor, reversed)
		VALUES (?, ?, ?, 0, FALSE) ON CONFLICT (payment_id) DO NOTHING`, paymentID, original.Minor, original.Currency).Error; err != nil {
		return Totals{}, err
	}
	var res *gorm.DB
	if reversal {
		res = g.Exec(`UPDATE correction_totals SET reserved_minor = original_minor, reversed = TRUE
			WHERE payment_id = ? AND reserved_minor = 0 AND reversed = FALSE AND original_minor = ?`, paymentID, amount)
	} else {
		res = g.Exec(`UPDATE correction_totals SET reserved_minor = reserved_minor + ?
			WHERE payment_id = ? AND reversed = FALSE AND reserved_minor + ? <= original_minor`, amount, paymentID, amount)
	}
	if res.Error != nil {
		return Totals{}, res.Error
	}
	t, err := s.Totals(ctx, paymentID)
	if err != nil || res.RowsAffected == 1 {
		return t, err
	}
	if reversal || t.Reversed {
		return t, ErrReversed
	}
	return t, ErrExceeds
}

// Release implements Store.
func (s *GormStore) Release(ctx context.Context, paymentID string, amount int64, reversal bool) error {
	q := `UPDATE correction_totals SET reserved_minor = reserved_minor - ? WHERE payment_id = ? AND reserved_minor >= ?`
	if reversal {
		q = `UPDATE correction_totals SET reserved_minor = reserved_minor - ?, reversed = FALSE WHERE payment_id = ? AND reserved_minor >= ?`
	}
	res := s.db.Conn(ctx).Exec(q, amount, paymentID, amount)
	if res.Error == nil && res.RowsAffected != 1 {
		return ErrStale
	}
	return res.Error
}

// Totals implements Store.
func (s *GormStore) Totals(ctx context.Context, paymentID string) (Totals, error) {
	var t totalsRow
	err := s.db.Conn(ctx).Where("payment_id = ?", paymentID).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Totals{PaymentID: paymentID}, nil
	}
	return t.totals(), err
}

// Create implements Store.
func (s *GormStore) Create(ctx context.Context, c *Correction) error {
	return s.db.Conn(ctx).Create(toRow(c)).Error
}

// Get implements Store.
func (s *GormStore) Get(ctx context.Context, id string) (*Correction, error) {
	var r row
	err := s.db.Conn(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c := r.toCorrection()
	return &c, nil
}

// List implements Store.
func (s *GormStore) List(ctx context.Context, f Filter) ([]Correction, error) {
	q := s.db.Conn(ctx).Model(&row{})
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.PaymentID != "" {
		q = q.Where("payment_id = ?", f.PaymentID)
	}
	if f.PartnerID != "" {
		q = q.Where("partner_id = ?", f.PartnerID)
	}
	if f.Limit <= 0 {
		f.Limit = 200
	}
	var rows []row
	if err := q.Order("created_at DESC, id DESC").Limit(f.Limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Correction, len(rows))
	for i := range rows {
		out[i] = rows[i].toCorrection()
	}
	return out, nil
}

// Update implements Store.
func (s *GormStore) Update(ctx context.Context, c *Correction, from string) error {
	res := s.db.Conn(ctx).Model(&row{}).Where("id = ? AND status = ?", c.ID, from).Updates(map[string]any{
		"status": c.Status, "decided_by": c.DecidedBy, "decision_note": c.DecisionNote, "decided_at": db.NullTime(c.DecidedAt),
		"core_credit_transaction_id": c.CoreCreditTransactionID, "core_debit_transaction_id": c.CoreDebitTransactionID,
		"posted_at": db.NullTime(c.PostedAt), "failure_reason": c.FailureReason, "updated_at": c.UpdatedAt.UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrStale
	}
	return nil
}
