package screening

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
)

// GormStore is the Store on the platform database (migration
// 0085_screening.sql).
type GormStore struct{ db *db.DB }

var _ Store = (*GormStore)(nil)

// NewGormStore returns the Store on d.
func NewGormStore(d *db.DB) *GormStore { return &GormStore{db: d} }

func (s *GormStore) handle(ctx context.Context) *gorm.DB { return s.db.Conn(ctx) }

func storageErr(what string, err error) error { return fmt.Errorf("screening: %s: %w", what, err) }

// Tx implements Store.
func (s *GormStore) Tx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.TxContext(ctx, fn)
}

type entryRow struct {
	Seq       int64 `gorm:"primaryKey;autoIncrement"`
	List      string
	Reference string
	Name      string
	Kind      string
	Program   string
	Aliases   string
}

func (entryRow) TableName() string { return "screening_entries" }

type importRow struct {
	Seq        int64 `gorm:"primaryKey;autoIncrement"`
	ID         string
	List       string
	Format     string
	FileSHA256 string `gorm:"column:file_sha256"`
	Entries    int
	ImportedAt time.Time
	ImportedBy string
}

func (importRow) TableName() string { return "screening_imports" }

func (r importRow) toImport() Import {
	return Import{ID: r.ID, List: r.List, Format: Format(r.Format), FileSHA256: r.FileSHA256, Entries: r.Entries,
		At: r.ImportedAt.UTC(), By: r.ImportedBy}
}

// ReplaceList implements Store.
func (s *GormStore) ReplaceList(ctx context.Context, list string, entries []Entry) error {
	rows := make([]entryRow, len(entries))
	for i, e := range entries {
		if e.List != list {
			return fmt.Errorf("%w: entry %s is of list %q, not %q", ErrInvalidEntry, e.Reference, e.List, list)
		}
		if err := e.Validate(); err != nil {
			return err
		}
		aliases := e.Aliases
		if aliases == nil {
			aliases = []Alias{}
		}
		b, err := json.Marshal(aliases)
		if err != nil {
			return err
		}
		rows[i] = entryRow{List: e.List, Reference: e.Reference, Name: e.Name, Kind: e.Kind, Program: e.Program, Aliases: string(b)}
	}
	return s.Tx(ctx, func(ctx context.Context) error {
		h := s.handle(ctx)
		if err := h.Where("list = ?", list).Delete(&entryRow{}).Error; err != nil {
			return storageErr("delete entries", err)
		}
		if len(rows) == 0 {
			return nil
		}
		if err := h.CreateInBatches(rows, 500).Error; err != nil {
			return storageErr("insert entries", err)
		}
		return nil
	})
}

// RecordImport implements Store.
func (s *GormStore) RecordImport(ctx context.Context, imp Import) error {
	r := importRow{ID: imp.ID, List: imp.List, Format: string(imp.Format), FileSHA256: imp.FileSHA256, Entries: imp.Entries,
		ImportedAt: imp.At.UTC().Truncate(time.Microsecond), ImportedBy: imp.By}
	if err := s.handle(ctx).Create(&r).Error; err != nil {
		return storageErr("record import", err)
	}
	return nil
}

// Audit implements Store.
func (s *GormStore) Audit(ctx context.Context, e audit.Entry) error {
	return audit.Record(ctx, s.handle(ctx), e)
}

// Lists implements Store.
func (s *GormStore) Lists(ctx context.Context) ([]ListSummary, error) {
	var last []importRow
	if err := s.handle(ctx).Raw(`SELECT * FROM screening_imports i
WHERE i.seq = (SELECT MAX(seq) FROM screening_imports j WHERE j.list = i.list) ORDER BY i.list`).Scan(&last).Error; err != nil {
		return nil, storageErr("list imports", err)
	}
	var counts []struct {
		List string
		N    int
	}
	if err := s.handle(ctx).Raw(`SELECT list, COUNT(*) AS n FROM screening_entries GROUP BY list`).Scan(&counts).Error; err != nil {
		return nil, storageErr("count entries", err)
	}
	n := map[string]int{}
	for _, c := range counts {
		n[c.List] = c.N
	}
	out := make([]ListSummary, len(last))
	for i, r := range last {
		out[i] = ListSummary{List: r.List, Entries: n[r.List], Last: r.toImport()}
	}
	return out, nil
}

// Entries implements Store.
func (s *GormStore) Entries(ctx context.Context) ([]Entry, error) {
	var rows []entryRow
	if err := s.handle(ctx).Order("list, reference").Find(&rows).Error; err != nil {
		return nil, storageErr("read entries", err)
	}
	out := make([]Entry, len(rows))
	for i, r := range rows {
		out[i] = Entry{List: r.List, Reference: r.Reference, Name: r.Name, Kind: r.Kind, Program: r.Program}
		if err := json.Unmarshal([]byte(r.Aliases), &out[i].Aliases); err != nil {
			return nil, storageErr("aliases of "+r.List+"/"+r.Reference, err)
		}
		if len(out[i].Aliases) == 0 {
			out[i].Aliases = nil
		}
	}
	return out, nil
}

// Version implements Store.
func (s *GormStore) Version(ctx context.Context) (int64, error) {
	var v *int64
	if err := s.handle(ctx).Raw(`SELECT MAX(seq) FROM screening_imports`).Scan(&v).Error; err != nil {
		return 0, storageErr("version", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}
