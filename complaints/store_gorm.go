package complaints

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

// GormStore is the Store on internal/db.
type GormStore struct{ db *db.DB }

// NewGormStore returns the Store of d.
func NewGormStore(d *db.DB) *GormStore { return &GormStore{db: d} }

// joinedKey is the context key of a transaction passed to Join.
type joinedKey struct{ s *GormStore }

// Join implements Store.
func (s *GormStore) Join(ctx context.Context, tx *gorm.DB) context.Context {
	return context.WithValue(ctx, joinedKey{s}, tx)
}

// Tx implements Store.
func (s *GormStore) Tx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(joinedKey{s}).(*gorm.DB); ok {
		return fn(ctx)
	}
	return s.db.TxContext(ctx, fn)
}

// Handle implements Store.
func (s *GormStore) Handle(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(joinedKey{s}).(*gorm.DB); ok {
		return tx.WithContext(ctx)
	}
	return s.db.Conn(ctx)
}

// Audit implements Store.
func (s *GormStore) Audit(ctx context.Context, e audit.Entry) error {
	return audit.Record(ctx, s.Handle(ctx), e)
}

type row struct {
	ID                  string `gorm:"primaryKey"`
	PaymentID           string
	OpenPaymentID       *string
	ConsentID           string
	PartnerID           string
	ClientID            string
	Environment         environment.Environment
	CustomerID          string
	AmountMinor         int64
	Currency            string
	Payee               string
	Category            string
	Description         string
	Status              string
	ReceivedAt          time.Time
	DueAt               time.Time
	PartnerDueAt        time.Time
	AssignedTo          string
	PartnerAnswer       string
	PartnerAgreesRefund bool
	PartnerAnsweredBy   string
	PartnerAnsweredAt   *time.Time
	Outcome             string
	Reasons             string
	DecidedBy           string
	CorrectionID        string
	RefundMinor         int64
	ResolvedAt          *time.Time
}

func (row) TableName() string { return "complaints" }

func toRow(c *Complaint) *row {
	r := &row{ID: c.ID, PaymentID: c.PaymentID, ConsentID: c.ConsentID, PartnerID: c.PartnerID, ClientID: c.ClientID,
		Environment: c.Environment, CustomerID: c.CustomerID, AmountMinor: c.Amount.Minor, Currency: c.Amount.Currency,
		Payee: c.Payee, Category: string(c.Category), Description: c.Description, Status: string(c.Status),
		ReceivedAt: c.ReceivedAt.UTC(), DueAt: c.DueAt.UTC(), PartnerDueAt: c.PartnerDueAt.UTC(), AssignedTo: c.AssignedTo,
		PartnerAnswer: c.PartnerAnswer, PartnerAgreesRefund: c.PartnerAgreesRefund, PartnerAnsweredBy: c.PartnerAnsweredBy,
		PartnerAnsweredAt: db.NullTime(c.PartnerAnsweredAt), Outcome: string(c.Outcome), Reasons: c.Reasons,
		DecidedBy: c.DecidedBy, CorrectionID: c.CorrectionID, RefundMinor: c.Refund.Minor, ResolvedAt: db.NullTime(c.ResolvedAt)}
	if c.Status == StatusOpen {
		id := c.PaymentID
		r.OpenPaymentID = &id
	}
	return r
}

func (r *row) complaint() *Complaint {
	c := &Complaint{ID: r.ID, PaymentID: r.PaymentID, ConsentID: r.ConsentID, PartnerID: r.PartnerID, ClientID: r.ClientID,
		Environment: r.Environment, CustomerID: r.CustomerID, Amount: money.Money{Minor: r.AmountMinor, Currency: r.Currency},
		Payee: r.Payee, Category: Category(r.Category), Description: r.Description, Status: Status(r.Status),
		ReceivedAt: r.ReceivedAt.UTC(), DueAt: r.DueAt.UTC(), PartnerDueAt: r.PartnerDueAt.UTC(), AssignedTo: r.AssignedTo,
		PartnerAnswer: r.PartnerAnswer, PartnerAgreesRefund: r.PartnerAgreesRefund, PartnerAnsweredBy: r.PartnerAnsweredBy,
		PartnerAnsweredAt: db.TimeOf(r.PartnerAnsweredAt), Outcome: Outcome(r.Outcome), Reasons: r.Reasons,
		DecidedBy: r.DecidedBy, CorrectionID: r.CorrectionID, ResolvedAt: db.TimeOf(r.ResolvedAt)}
	if r.Outcome == string(OutcomeRefund) {
		c.Refund = money.Money{Minor: r.RefundMinor, Currency: r.Currency}
	}
	return c
}

func rows(rs []row) []Complaint {
	out := make([]Complaint, 0, len(rs))
	for i := range rs {
		out = append(out, *rs[i].complaint())
	}
	return out
}

// Create implements Store.
func (s *GormStore) Create(ctx context.Context, c *Complaint) error {
	err := s.Handle(ctx).Create(toRow(c)).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrOpenExists
	}
	return err
}

// Get implements Store.
func (s *GormStore) Get(ctx context.Context, id string) (*Complaint, error) {
	var r row
	err := s.Handle(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return r.complaint(), nil
}

// List implements Store.
func (s *GormStore) List(ctx context.Context, f Filter) ([]Complaint, error) {
	q := s.Handle(ctx)
	if f.PartnerID != "" {
		q = q.Where("partner_id = ?", f.PartnerID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if !f.OverdueAt.IsZero() {
		q = q.Where("status = ? AND due_at < ?", StatusOpen, f.OverdueAt.UTC())
	}
	var rs []row
	if err := q.Order("due_at, id").Limit(1000).Find(&rs).Error; err != nil {
		return nil, err
	}
	return rows(rs), nil
}

// ForCustomer implements Store.
func (s *GormStore) ForCustomer(ctx context.Context, customerID string) ([]Complaint, error) {
	var rs []row
	if err := s.Handle(ctx).Where("customer_id = ?", customerID).Order("received_at DESC, id DESC").Find(&rs).Error; err != nil {
		return nil, err
	}
	return rows(rs), nil
}

// Update implements Store.
func (s *GormStore) Update(ctx context.Context, c *Complaint, from Status, unanswered bool) error {
	r := toRow(c)
	q := s.Handle(ctx).Model(&row{}).Where("id = ? AND status = ?", c.ID, from)
	if unanswered {
		q = q.Where("partner_answered_at IS NULL")
	}
	res := q.Updates(map[string]any{"status": r.Status, "open_payment_id": r.OpenPaymentID, "assigned_to": r.AssignedTo,
		"partner_answer": r.PartnerAnswer, "partner_agrees_refund": r.PartnerAgreesRefund,
		"partner_answered_by": r.PartnerAnsweredBy, "partner_answered_at": r.PartnerAnsweredAt, "outcome": r.Outcome,
		"reasons": r.Reasons, "decided_by": r.DecidedBy, "correction_id": r.CorrectionID, "refund_minor": r.RefundMinor,
		"resolved_at": r.ResolvedAt})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrStale
	}
	return nil
}

type noteRow struct {
	ID          int64 `gorm:"primaryKey;autoIncrement"`
	ComplaintID string
	StaffID     string
	Body        string
	CreatedAt   time.Time
}

func (noteRow) TableName() string { return "complaint_notes" }

// AddNote implements Store.
func (s *GormStore) AddNote(ctx context.Context, n *Note) error {
	r := noteRow{ComplaintID: n.ComplaintID, StaffID: n.StaffID, Body: n.Body, CreatedAt: n.CreatedAt.UTC()}
	if err := s.Handle(ctx).Create(&r).Error; err != nil {
		return err
	}
	n.ID = r.ID
	return nil
}

// Notes implements Store.
func (s *GormStore) Notes(ctx context.Context, complaintID string) ([]Note, error) {
	var rs []noteRow
	if err := s.Handle(ctx).Where("complaint_id = ?", complaintID).Order("id").Find(&rs).Error; err != nil {
		return nil, err
	}
	out := make([]Note, 0, len(rs))
	for _, r := range rs {
		out = append(out, Note{ID: r.ID, ComplaintID: r.ComplaintID, StaffID: r.StaffID, Body: r.Body, CreatedAt: r.CreatedAt.UTC()})
	}
	return out, nil
}

// CountReceived implements Store.
func (s *GormStore) CountReceived(ctx context.Context, partnerID string, from, to time.Time) (int64, error) {
	var n int64
	err := s.Handle(ctx).Model(&row{}).Where("partner_id = ? AND received_at >= ? AND received_at < ?", partnerID, from.UTC(), to.UTC()).
		Count(&n).Error
	return n, err
}

// UpheldOrUnauthorisedByPartner implements Store.
func (s *GormStore) UpheldOrUnauthorisedByPartner(ctx context.Context, since time.Time) (map[string]int64, error) {
	var rs []struct {
		PartnerID string
		N         int64
	}
	err := s.Handle(ctx).Model(&row{}).Select("partner_id, COUNT(*) AS n").
		Where("received_at >= ? AND (category = ? OR outcome = ?)", since.UTC(), CategoryUnauthorised, OutcomeRefund).
		Group("partner_id").Scan(&rs).Error
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(rs))
	for _, r := range rs {
		out[r.PartnerID] = r.N
	}
	return out, nil
}

// AuditTrail implements Store.
func (s *GormStore) AuditTrail(ctx context.Context, complaintID string) ([]audit.Event, error) {
	var out []audit.Event
	err := s.Handle(ctx).Where("object_type = ? AND object_id = ?", "complaint", complaintID).Order("at, id").Find(&out).Error
	return out, err
}
