package risk

import (
	"context"
	"encoding/json"
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

// Tx implements Store.
func (s *GormStore) Tx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.TxContext(ctx, fn)
}

// Audit implements Store.
func (s *GormStore) Audit(ctx context.Context, e audit.Entry) error {
	return audit.Record(ctx, s.db.Conn(ctx), e)
}

type caseRow struct {
	ID               string `gorm:"primaryKey"`
	PaymentID        string
	ConsentID        string
	PartnerID        string
	ClientID         string
	Environment      environment.Environment
	CustomerID       string
	AmountMinor      int64
	Currency         string
	CreditorName     string
	CreditorAccount  string
	Score            int
	Reasons          string
	Matches          string
	Status           string
	ProposedDecision string
	ProposedBy       string
	ProposedNote     string
	ProposedAt       *time.Time
	DecidedBy        string
	DecisionNote     string
	DecidedAt        *time.Time
	CreatedAt        time.Time
}

func (caseRow) TableName() string { return "risk_cases" }

func toRow(c *Case) (*caseRow, error) {
	reasons, err := json.Marshal(orEmpty(c.Reasons))
	if err != nil {
		return nil, err
	}
	matches, err := json.Marshal(orEmpty(c.Matches))
	if err != nil {
		return nil, err
	}
	return &caseRow{ID: c.ID, PaymentID: c.PaymentID, ConsentID: c.ConsentID, PartnerID: c.PartnerID, ClientID: c.ClientID,
		Environment: c.Environment, CustomerID: c.CustomerID, AmountMinor: c.Amount.Minor, Currency: c.Amount.Currency,
		CreditorName: c.CreditorName, CreditorAccount: c.CreditorAccount, Score: c.Score, Reasons: string(reasons),
		Matches: string(matches), Status: c.Status, ProposedDecision: c.ProposedDecision,
		ProposedBy: c.ProposedBy, ProposedNote: c.ProposedNote, ProposedAt: db.NullTime(c.ProposedAt), DecidedBy: c.DecidedBy,
		DecisionNote: c.DecisionNote, DecidedAt: db.NullTime(c.DecidedAt), CreatedAt: c.CreatedAt.UTC()}, nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (r *caseRow) toCase() (*Case, error) {
	c := &Case{ID: r.ID, PaymentID: r.PaymentID, ConsentID: r.ConsentID, PartnerID: r.PartnerID, ClientID: r.ClientID,
		Environment: r.Environment, CustomerID: r.CustomerID, Amount: money.Money{Minor: r.AmountMinor, Currency: r.Currency},
		CreditorName: r.CreditorName, CreditorAccount: r.CreditorAccount, Score: r.Score, Status: r.Status,
		ProposedDecision: r.ProposedDecision, ProposedBy: r.ProposedBy, ProposedNote: r.ProposedNote,
		ProposedAt: db.TimeOf(r.ProposedAt), DecidedBy: r.DecidedBy, DecisionNote: r.DecisionNote, DecidedAt: db.TimeOf(r.DecidedAt),
		CreatedAt: r.CreatedAt.UTC()}
	if err := json.Unmarshal([]byte(r.Reasons), &c.Reasons); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(r.Matches), &c.Matches); err != nil {
		return nil, err
	}
	return c, nil
}

// CreateCase implements Store.
func (s *GormStore) CreateCase(ctx context.Context, c *Case) error {
	r, err := toRow(c)
	if err != nil {
		return err
	}
	err = s.db.Conn(ctx).Create(r).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrCaseExists
	}
	return err
}

// Case implements Store.
func (s *GormStore) Case(ctx context.Context, id string) (*Case, error) {
	var r caseRow
	err := s.db.Conn(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return r.toCase()
}

// OpenCases implements Store.
func (s *GormStore) OpenCases(ctx context.Context) ([]Case, error) {
	var rows []caseRow
	if err := s.db.Conn(ctx).Where("status IN ?", []string{CaseOpen, CaseProposed}).
		Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Case, 0, len(rows))
	for i := range rows {
		c, err := rows[i].toCase()
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

// UpdateCase implements Store.
func (s *GormStore) UpdateCase(ctx context.Context, c *Case, from string) error {
	res := s.db.Conn(ctx).Model(&caseRow{}).Where("id = ? AND status = ?", c.ID, from).Updates(map[string]any{
		"status": c.Status, "proposed_decision": c.ProposedDecision, "proposed_by": c.ProposedBy,
		"proposed_note": c.ProposedNote, "proposed_at": db.NullTime(c.ProposedAt), "decided_by": c.DecidedBy,
		"decision_note": c.DecisionNote, "decided_at": db.NullTime(c.DecidedAt)})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrStale
	}
	return nil
}

type sarRow struct {
	ID        string `gorm:"primaryKey"`
	CaseID    string
	Narrative string
	FiledBy   string
	FiledAt   time.Time
}

func (sarRow) TableName() string { return "risk_sars" }

// CreateSAR implements Store.
func (s *GormStore) CreateSAR(ctx context.Context, r *SAR) error {
	return s.db.Conn(ctx).Create(&sarRow{ID: r.ID, CaseID: r.CaseID, Narrative: r.Narrative, FiledBy: r.FiledBy,
		FiledAt: r.FiledAt.UTC()}).Error
}

// SAR implements Store.
func (s *GormStore) SAR(ctx context.Context, id string) (*SAR, error) {
	var r sarRow
	err := s.db.Conn(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &SAR{ID: r.ID, CaseID: r.CaseID, Narrative: r.Narrative, FiledBy: r.FiledBy, FiledAt: r.FiledAt.UTC()}, nil
}

// CaseSARs implements Store.
func (s *GormStore) CaseSARs(ctx context.Context, caseID string) ([]SAR, error) {
	var rows []sarRow
	if err := s.db.Conn(ctx).Where("case_id = ?", caseID).Order("filed_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]SAR, 0, len(rows))
	for _, r := range rows {
		out = append(out, SAR{ID: r.ID, CaseID: r.CaseID, Narrative: r.Narrative, FiledBy: r.FiledBy, FiledAt: r.FiledAt.UTC()})
	}
	return out, nil
}

// AuditTrail implements Store.
func (s *GormStore) AuditTrail(ctx context.Context, objectIDs ...string) ([]AuditEvent, error) {
	var evs []audit.Event
	if err := s.db.Conn(ctx).Where("object_id IN ?", objectIDs).Order("at, id").Find(&evs).Error; err != nil {
		return nil, err
	}
	out := make([]AuditEvent, 0, len(evs))
	for _, e := range evs {
		a := AuditEvent{At: e.At.UTC(), ActorType: e.ActorType, ActorID: e.ActorID, Action: e.Action,
			ObjectType: e.ObjectType, ObjectID: e.ObjectID}
		if e.Details != "" && e.Details != "{}" {
			if err := json.Unmarshal([]byte(e.Details), &a.Details); err != nil {
				return nil, err
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// RejectedCasesByPartner implements Store.
func (s *GormStore) RejectedCasesByPartner(ctx context.Context, since time.Time) (map[string]int64, error) {
	var rows []struct {
		PartnerID string
		N         int64
	}
	err := s.db.Conn(ctx).Model(&caseRow{}).Select("partner_id, COUNT(*) AS n").
		Where("status = ? AND decided_at >= ?", CaseRejected, since.UTC()).Group("partner_id").Scan(&rows).Error
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.PartnerID] = r.N
	}
	return out, err
}
