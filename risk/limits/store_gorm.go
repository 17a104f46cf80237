package limits

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// GormStore is the Store on the platform's database (SQLite or PostgreSQL).
type GormStore struct{ db *db.DB }

var _ Store = (*GormStore)(nil)

// NewGormStore returns the Store on d.
func NewGormStore(d *db.DB) *GormStore { return &GormStore{db: d} }

func (s *GormStore) handle(ctx context.Context) *gorm.DB { return s.db.Conn(ctx) }

// Tx implements Store.
func (s *GormStore) Tx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.TxContext(ctx, fn)
}

// Audit implements Store.
func (s *GormStore) Audit(ctx context.Context, e audit.Entry) error {
	return audit.Record(ctx, s.handle(ctx), e)
}

type ruleRow struct {
	ID            string `gorm:"primaryKey"`
	Environment   string
	Currency      string
	Scope         string
	SubjectID     string
	Kind          string
	AmountMinor   int64
	MaxCount      int64
	WindowSeconds int64
	ProposedBy    string
	ApprovedBy    string
	UpdatedAt     time.Time
}

func (ruleRow) TableName() string { return "limit_rules" }

func (r ruleRow) rule() Rule {
	return Rule{ID: r.ID, Environment: environment.Environment(r.Environment), Currency: r.Currency, Scope: Scope(r.Scope),
		SubjectID: r.SubjectID, Kind: Kind(r.Kind), Amount: r.AmountMinor, Count: r.MaxCount,
		Window: time.Duration(r.WindowSeconds) * time.Second, ProposedBy: r.ProposedBy, ApprovedBy: r.ApprovedBy,
		UpdatedAt: r.UpdatedAt.UTC()}
}

func rowOf(r Rule) ruleRow {
	return ruleRow{ID: r.ID, Environment: string(r.Environment), Currency: r.Currency, Scope: string(r.Scope),
		SubjectID: r.SubjectID, Kind: string(r.Kind), AmountMinor: r.Amount, MaxCount: r.Count,
		WindowSeconds: int64(r.Window / time.Second), ProposedBy: r.ProposedBy, ApprovedBy: r.ApprovedBy,
		UpdatedAt: r.UpdatedAt.UTC()}
}

// Rules implements Store.
func (s *GormStore) Rules(ctx context.Context, env environment.Environment) ([]Rule, error) {
	q := s.handle(ctx).Model(&ruleRow{})
	if env != "" {
		q = q.Where("environment = ?", string(env))
	}
	var rows []ruleRow
	if err := q.Order("environment, currency, scope, subject_id, kind").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Rule, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.rule())
	}
	return out, nil
}

// Rule implements Store.
func (s *GormStore) Rule(ctx context.Context, id string) (Rule, error) {
	var row ruleRow
	err := s.handle(ctx).Where("id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Rule{}, ErrNotFound
	}
	if err != nil {
		return Rule{}, err
	}
	return row.rule(), nil
}

// InsertRule implements Store.
func (s *GormStore) InsertRule(ctx context.Context, r Rule) error {
	row := rowOf(r)
	err := s.handle(ctx).Create(&row).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrDuplicate
	}
	return err
}

// UpdateRule implements Store.
func (s *GormStore) UpdateRule(ctx context.Context, r Rule) error {
	res := s.handle(ctx).Model(&ruleRow{}).Where("id = ?", r.ID).Updates(map[string]any{
		"amount_minor": r.Amount, "max_count": r.Count, "window_seconds": int64(r.Window / time.Second),
		"proposed_by": r.ProposedBy, "approved_by": r.ApprovedBy, "updated_at": r.UpdatedAt.UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrNotFound
	}
	return nil
}

// DeleteRule implements Store.
func (s *GormStore) DeleteRule(ctx context.Context, id string) error {
	res := s.handle(ctx).Where("id = ?", id).Delete(&ruleRow{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrNotFound
	}
	return nil
}

type proposalRow struct {
	ID            string `gorm:"primaryKey"`
	Op            string
	RuleID        string
	Environment   string
	Currency      string
	Scope         string
	SubjectID     string
	Kind          string
	AmountMinor   int64
	MaxCount      int64
	WindowSeconds int64
	Reason        string
	Status        string
	ProposedBy    string
	DecidedBy     string
	DecisionNote  string
	CreatedAt     time.Time
	DecidedAt     *time.Time
}

func (proposalRow) TableName() string { return "limit_proposals" }

func (r proposalRow) proposal() Proposal {
	p := Proposal{ID: r.ID, Op: r.Op, RuleID: r.RuleID, Reason: r.Reason, Status: r.Status, ProposedBy: r.ProposedBy,
		DecidedBy: r.DecidedBy, DecisionNote: r.DecisionNote, CreatedAt: r.CreatedAt.UTC(),
		Rule: ruleRow{ID: r.RuleID, Environment: r.Environment, Currency: r.Currency, Scope: r.Scope, SubjectID: r.SubjectID,
			Kind: r.Kind, AmountMinor: r.AmountMinor, MaxCount: r.MaxCount, WindowSeconds: r.WindowSeconds}.rule()}
	if r.DecidedAt != nil {
		t := r.DecidedAt.UTC()
		p.DecidedAt = &t
	}
	return p
}

// CreateProposal implements Store.
func (s *GormStore) CreateProposal(ctx context.Context, p Proposal) error {
	rr := rowOf(p.Rule)
	row := proposalRow{ID: p.ID, Op: p.Op, RuleID: p.RuleID, Environment: rr.Environment, Currency: rr.Currency,
		Scope: rr.Scope, SubjectID: rr.SubjectID, Kind: rr.Kind, AmountMinor: rr.AmountMinor, MaxCount: rr.MaxCount,
		WindowSeconds: rr.WindowSeconds, Reason: p.Reason, Status: p.Status, ProposedBy: p.ProposedBy,
		CreatedAt: p.CreatedAt.UTC()}
	return s.handle(ctx).Create(&row).Error
}

// Proposal implements Store.
func (s *GormStore) Proposal(ctx context.Context, id string) (Proposal, error) {
	var row proposalRow
	err := s.handle(ctx).Where("id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Proposal{}, ErrNotFound
	}
	if err != nil {
		return Proposal{}, err
	}
	return row.proposal(), nil
}

// Proposals implements Store.
func (s *GormStore) Proposals(ctx context.Context, status string, limit int) ([]Proposal, error) {
	if limit <= 0 {
		limit = 200
	}
	q := s.handle(ctx).Model(&proposalRow{})
	if status != "" {
		q = q.Where("status = ?", status)
	}
	var rows []proposalRow
	if err := q.Order("created_at DESC, id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Proposal, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.proposal())
	}
	return out, nil
}

// DecideProposal implements Store.
func (s *GormStore) DecideProposal(ctx context.Context, id, status, by, note, ruleID string, at time.Time) error {
	at = at.UTC()
	res := s.handle(ctx).Model(&proposalRow{}).Where("id = ? AND status = ?", id, ProposalPending).Updates(map[string]any{
		"status": status, "decided_by": by, "decision_note": note, "decided_at": at,
		"rule_id": gorm.Expr("CASE WHEN rule_id = '' THEN ? ELSE rule_id END", ruleID)})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrStale
	}
	return nil
}
