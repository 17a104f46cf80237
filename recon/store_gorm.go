package recon

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
)

// GormStore is the Store on the platform database.
type GormStore struct{ db *db.DB }

// NewGormStore returns a Store on a migrated database.
func NewGormStore(d *db.DB) *GormStore { return &GormStore{db: d} }

// Tx implements Store.
func (s *GormStore) Tx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.TxContext(ctx, fn)
}

// Audit implements Store.
func (s *GormStore) Audit(ctx context.Context, e audit.Entry) error {
	return audit.Record(ctx, s.db.Conn(ctx), e)
}

type dayRow struct {
	ID          string `gorm:"primaryKey"`
	PartnerID   string
	Environment string
	Day         string
	Record      string
	RecordLines int
	Uploads     int
	UploadedBy  string
	UploadedAt  *time.Time
	MatchedAt   *time.Time
	ClosedBy    string
	ClosedAt    *time.Time
	CreatedAt   time.Time
}

func (dayRow) TableName() string { return "recon_days" }

func (r *dayRow) toDay() (*Day, error) {
	d := &Day{ID: r.ID, PartnerID: r.PartnerID, Environment: environment.Environment(r.Environment), Day: r.Day,
		Uploads: r.Uploads, UploadedBy: r.UploadedBy, UploadedAt: db.TimeOf(r.UploadedAt), MatchedAt: db.TimeOf(r.MatchedAt),
		ClosedBy: r.ClosedBy, ClosedAt: db.TimeOf(r.ClosedAt), CreatedAt: r.CreatedAt.UTC()}
	if r.Uploads > 0 {
		d.Record = []apis.RecordedPayment{}
		if err := json.Unmarshal([]byte(r.Record), &d.Record); err != nil {
			return nil, err
		}
	}
	return d, nil
}

type breakRow struct {
	ID           string `gorm:"primaryKey"`
	DayID        string
	PartnerID    string
	Environment  string
	Day          string
	PaymentID    string
	Kind         string
	BankValue    string
	PartnerValue string
	CoreValue    string
	Status       string
	Resolution   string
	Note         string
	Assignee     string
	ResolvedBy   string
	ResolvedAt   *time.Time
	Version      int
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (breakRow) TableName() string { return "recon_breaks" }

func toBreakRow(b *Break) *breakRow {
	return &breakRow{ID: b.ID, DayID: b.DayID, PartnerID: b.PartnerID, Environment: string(b.Environment), Day: b.Day,
		PaymentID: b.PaymentID, Kind: b.Kind, BankValue: b.BankValue, PartnerValue: b.PartnerValue, CoreValue: b.CoreValue,
		Status: b.Status, Resolution: b.Resolution, Note: b.Note, Assignee: b.Assignee, ResolvedBy: b.ResolvedBy,
		ResolvedAt: db.NullTime(b.ResolvedAt), Version: b.Version, CreatedAt: b.CreatedAt.UTC(), UpdatedAt: b.UpdatedAt.UTC()}
}

func (r *breakRow) toBreak() Break {
	return Break{Break: apis.Break{ID: r.ID, Day: r.Day, PaymentID: r.PaymentID, Kind: r.Kind, BankValue: r.BankValue,
		PartnerValue: r.PartnerValue, CoreValue: r.CoreValue, Status: r.Status, Resolution: r.Resolution,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), ResolvedAt: db.TimeOf(r.ResolvedAt)},
		DayID: r.DayID, PartnerID: r.PartnerID, Environment: environment.Environment(r.Environment), Note: r.Note,
		Assignee: r.Assignee, ResolvedBy: r.ResolvedBy, Version: r.Version}
}

// LockDay implements Store.
func (s *GormStore) LockDay(ctx context.Context, partnerID string, env environment.Environment, day string, now time.Time) (*Day, error) {
	g := s.db.Conn(ctx)
	row := dayRow{ID: ids.New("rcd"), PartnerID: partnerID, Environment: string(env), Day: day, Record: "[]", CreatedAt: now.UTC()}
	if err := g.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return nil, err
	}
	q := g.Where("partner_id = ? AND environment = ? AND day = ?", partnerID, string(env), day)
	if s.db.Dialect == db.Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var r dayRow
	if err := q.Take(&r).Error; err != nil {
		return nil, err
	}
	return r.toDay()
}

func (s *GormStore) day(ctx context.Context, where string, args ...any) (*Day, error) {
	var r dayRow
	err := s.db.Conn(ctx).Where(where, args...).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return r.toDay()
}

// Day implements Store.
func (s *GormStore) Day(ctx context.Context, partnerID string, env environment.Environment, day string) (*Day, error) {
	return s.day(ctx, "partner_id = ? AND environment = ? AND day = ?", partnerID, string(env), day)
}

// DayByID implements Store.
func (s *GormStore) DayByID(ctx context.Context, id string) (*Day, error) {
	return s.day(ctx, "id = ?", id)
}

// SaveRecord implements Store.
func (s *GormStore) SaveRecord(ctx context.Context, d *Day) error {
	rec := "[]"
	if d.Record != nil {
		b, err := json.Marshal(d.Record)
		if err != nil {
			return err
		}
		rec = string(b)
	}
	return s.db.Conn(ctx).Model(&dayRow{}).Where("id = ?", d.ID).Updates(map[string]any{
		"record": rec, "record_lines": len(d.Record), "uploads": d.Uploads, "uploaded_by": d.UploadedBy,
		"uploaded_at": db.NullTime(d.UploadedAt), "matched_at": db.NullTime(d.MatchedAt)}).Error
}

// CloseDay implements Store.
func (s *GormStore) CloseDay(ctx context.Context, id, by string, at time.Time) error {
	res := s.db.Conn(ctx).Model(&dayRow{}).Where("id = ? AND closed_at IS NULL", id).
		Updates(map[string]any{"closed_by": by, "closed_at": at.UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrStale
	}
	return nil
}

func (s *GormStore) breaks(q *gorm.DB) ([]Break, error) {
	var rows []breakRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Break, len(rows))
	for i := range rows {
		out[i] = rows[i].toBreak()
	}
	return out, nil
}

// DayBreaks implements Store.
func (s *GormStore) DayBreaks(ctx context.Context, dayID string) ([]Break, error) {
	return s.breaks(s.db.Conn(ctx).Where("day_id = ?", dayID).Order("payment_id, kind"))
}

// InsertBreak implements Store.
func (s *GormStore) InsertBreak(ctx context.Context, b *Break) error {
	return s.db.Conn(ctx).Create(toBreakRow(b)).Error
}

// UpdateBreak implements Store.
func (s *GormStore) UpdateBreak(ctx context.Context, b *Break, from int) error {
	r := toBreakRow(b)
	res := s.db.Conn(ctx).Model(&breakRow{}).Where("id = ? AND version = ?", b.ID, from).Updates(map[string]any{
		"bank_value": r.BankValue, "partner_value": r.PartnerValue, "core_value": r.CoreValue, "status": r.Status,
		"resolution": r.Resolution, "note": r.Note, "assignee": r.Assignee, "resolved_by": r.ResolvedBy,
		"resolved_at": r.ResolvedAt, "version": from + 1, "updated_at": r.UpdatedAt})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrStale
	}
	b.Version = from + 1
	return nil
}

// Break implements Store.
func (s *GormStore) Break(ctx context.Context, id string) (*Break, error) {
	var r breakRow
	err := s.db.Conn(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	b := r.toBreak()
	return &b, nil
}

// Breaks implements Store.
func (s *GormStore) Breaks(ctx context.Context, f Filter) ([]Break, error) {
	q := s.db.Conn(ctx).Model(&breakRow{})
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.PartnerID != "" {
		q = q.Where("partner_id = ?", f.PartnerID)
	}
	if f.Day != "" {
		q = q.Where("day = ?", f.Day)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 500
	}
	return s.breaks(q.Order("day DESC, partner_id, environment, payment_id, kind").Limit(limit))
}

// AuditTrail implements Store.
func (s *GormStore) AuditTrail(ctx context.Context, objectIDs ...string) ([]audit.Event, error) {
	var evs []audit.Event
	err := s.db.Conn(ctx).Where("object_id IN ?", objectIDs).Order("at, id").Find(&evs).Error
	return evs, err
}
