package reviews

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
)

// GormStore is the Store on the platform's database (partner_reviews).
type GormStore struct{ db *db.DB }

// NewGormStore returns the Store on d.
func NewGormStore(d *db.DB) *GormStore { return &GormStore{db: d} }

// Handle implements Store.
func (s *GormStore) Handle(ctx context.Context) *gorm.DB { return s.db.Conn(ctx) }

// Tx implements Store.
func (s *GormStore) Tx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.TxContext(ctx, fn)
}

// row is a partner_reviews row.
type row struct {
	ID            string `gorm:"primaryKey"`
	PartnerID     string
	Quarter       string
	Status        string
	Scorecard     string
	Ratings       string
	PartnerNotes  string
	InternalNotes string
	Outcome       string
	CreatedBy     string
	SubmittedBy   string
	SubmittedAt   *time.Time
	DecidedBy     string
	DecidedAt     *time.Time
	ReturnNote    string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (row) TableName() string { return "partner_reviews" }

func toRow(r *Review) (row, error) {
	sc, err := json.Marshal(r.Scorecard)
	if err != nil {
		return row{}, err
	}
	ratings := r.Ratings
	if ratings == nil {
		ratings = Ratings{}
	}
	rt, err := json.Marshal(ratings)
	if err != nil {
		return row{}, err
	}
	return row{ID: r.ID, PartnerID: r.PartnerID, Quarter: r.Quarter, Status: string(r.Status), Scorecard: string(sc),
		Ratings: string(rt), PartnerNotes: r.PartnerNotes, InternalNotes: r.InternalNotes, Outcome: string(r.Outcome),
		CreatedBy: r.CreatedBy, SubmittedBy: r.SubmittedBy, SubmittedAt: utc(r.SubmittedAt), DecidedBy: r.DecidedBy,
		DecidedAt: utc(r.DecidedAt), ReturnNote: r.ReturnNote, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (w *row) review() (*Review, error) {
	r := &Review{ID: w.ID, PartnerID: w.PartnerID, Quarter: w.Quarter, Status: Status(w.Status),
		PartnerNotes: w.PartnerNotes, InternalNotes: w.InternalNotes, Outcome: Outcome(w.Outcome), CreatedBy: w.CreatedBy,
		SubmittedBy: w.SubmittedBy, SubmittedAt: utc(w.SubmittedAt), DecidedBy: w.DecidedBy, DecidedAt: utc(w.DecidedAt),
		ReturnNote: w.ReturnNote, CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC()}
	if err := json.Unmarshal([]byte(w.Scorecard), &r.Scorecard); err != nil {
		return nil, fmt.Errorf("reviews: scorecard of %s: %w", w.ID, err)
	}
	if err := json.Unmarshal([]byte(w.Ratings), &r.Ratings); err != nil {
		return nil, fmt.Errorf("reviews: ratings of %s: %w", w.ID, err)
	}
	return r, nil
}

// Create implements Store.
func (s *GormStore) Create(ctx context.Context, r *Review) error {
	w, err := toRow(r)
	if err != nil {
		return err
	}
	var n int64
	if err := s.Handle(ctx).Model(&row{}).Where("partner_id = ? AND quarter = ?", r.PartnerID, r.Quarter).Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return ErrDuplicate
	}
	err = s.Handle(ctx).Create(&w).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) { // a concurrent Create of the same quarter
		return ErrDuplicate
	}
	return err
}

// Get implements Store.
func (s *GormStore) Get(ctx context.Context, id string) (*Review, error) {
	var w row
	err := s.Handle(ctx).Where("id = ?", id).Take(&w).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return w.review()
}

// List implements Store.
func (s *GormStore) List(ctx context.Context, f Filter) ([]Review, error) {
	q := s.Handle(ctx).Model(&row{})
	if f.PartnerID != "" {
		q = q.Where("partner_id = ?", f.PartnerID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.Quarter != "" {
		q = q.Where("quarter = ?", f.Quarter)
	}
	var rows []row
	if err := q.Order("quarter DESC, partner_id, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Review, 0, len(rows))
	for i := range rows {
		r, err := rows[i].review()
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, nil
}

// Update implements Store.
func (s *GormStore) Update(ctx context.Context, r *Review, from Status) error {
	w, err := toRow(r)
	if err != nil {
		return err
	}
	res := s.Handle(ctx).Model(&row{}).Where("id = ? AND status = ?", r.ID, string(from)).Updates(map[string]any{
		"status": w.Status, "scorecard": w.Scorecard, "ratings": w.Ratings, "partner_notes": w.PartnerNotes,
		"internal_notes": w.InternalNotes, "outcome": w.Outcome, "submitted_by": w.SubmittedBy, "submitted_at": w.SubmittedAt,
		"decided_by": w.DecidedBy, "decided_at": w.DecidedAt, "return_note": w.ReturnNote, "updated_at": w.UpdatedAt})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrChanged
	}
	return nil
}

// Audit implements Store.
func (s *GormStore) Audit(ctx context.Context, e audit.Entry) error {
	return audit.Record(ctx, s.Handle(ctx), e)
}

// Lifecycle implements Store.
func (s *GormStore) Lifecycle(ctx context.Context, partnerID string, from, to time.Time) ([]audit.Event, error) {
	var out []audit.Event
	for _, action := range []string{"partner.status_changed", "app."} {
		evs, err := audit.List(ctx, s.Handle(ctx), audit.Filter{PartnerID: partnerID, Action: action, From: from, To: to, Limit: 1000})
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	slices.SortFunc(out, func(a, b audit.Event) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
