package contracts

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Ledger is the append-only double-entry ledger. It only ever inserts: it has no
// method, and this package has no code path, that updates or deletes a posting or
// an entry. A correction is Reverse.
type Ledger struct {
	db  *db.DB
	now func() time.Time
}

type postingRow struct {
	ID                string `gorm:"primaryKey"`
	IdempotencyKey    string
	Description       string
	CreatedAt         time.Time
	ReversesPostingID *string
}

func (postingRow) TableName() string { return "ledger_postings" }

type entryRow struct {
	Seq       int64 `gorm:"primaryKey;autoIncrement"`
	PostingID string
	Account   string
	Currency  string
	Amount    int64
}

func (entryRow) TableName() string { return "ledger_entries" }

// ErrPostingKeyReused is the detail-bearing refusal when an idempotency key is
// posted again with different entries (match with errors.Is on the problem code
// problem.CodeIdempotencyKeyReused).
func errKeyReused(key string) error {
	return problem.New(problem.CodeIdempotencyKeyReused, "idempotency key %q was already used for a different posting", key)
}

// Post appends a balanced posting in tx (nil: its own transaction). It refuses
// with a validation problem a posting that does not balance per currency (detail
// "posting does not balance: EUR entries sum to 5") or has malformed entries.
// Posting an idempotency key again returns the existing posting unchanged, or
// CodeIdempotencyKeyReused when the entries differ.
func (l *Ledger) Post(ctx context.Context, tx *gorm.DB, p Posting) (Posting, error) {
	if err := p.Validate(); err != nil {
		return Posting{}, err
	}
	var out Posting
	err := inTx(ctx, l.db, tx, func(tx *gorm.DB) error {
		var err error
		out, err = l.post(ctx, tx, p)
		return err
	})
	return out, err
}

func (l *Ledger) post(ctx context.Context, tx *gorm.DB, p Posting) (Posting, error) {
	row := postingRow{ID: ids.New("pst"), IdempotencyKey: p.IdempotencyKey, Description: p.Description, CreatedAt: l.now()}
	if p.ReversesPostingID != "" {
		row.ReversesPostingID = &p.ReversesPostingID
	}
	res := tx.Exec(`INSERT INTO ledger_postings (id, idempotency_key, description, created_at, reverses_posting_id)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
		row.ID, row.IdempotencyKey, row.Description, row.CreatedAt, row.ReversesPostingID)
	if res.Error != nil {
		return Posting{}, res.Error
	}
	if res.RowsAffected == 0 {
		existing, err := l.byKey(ctx, tx, p.IdempotencyKey)
		if err != nil {
			return Posting{}, err
		}
		if entriesKey(existing.Entries) != entriesKey(p.Entries) {
			return Posting{}, errKeyReused(p.IdempotencyKey)
		}
		return existing, nil
	}
	rows := make([]entryRow, len(p.Entries))
	for i, e := range p.Entries {
		rows[i] = entryRow{PostingID: row.ID, Account: e.Account, Currency: e.Currency, Amount: e.Amount}
	}
	if err := tx.Create(&rows).Error; err != nil {
		return Posting{}, err
	}
	out := Posting{ID: row.ID, IdempotencyKey: row.IdempotencyKey, Description: row.Description,
		CreatedAt: row.CreatedAt, ReversesPostingID: p.ReversesPostingID}
	for _, r := range rows {
		out.Entries = append(out.Entries, Entry{Seq: r.Seq, Account: r.Account, Currency: r.Currency, Amount: r.Amount})
	}
	return out, nil
}

// entriesKey is an order-independent fingerprint of a posting's entries.
func entriesKey(es []Entry) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = fmt.Sprintf("%s|%s|%d", e.Account, e.Currency, e.Amount)
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}

func (l *Ledger) load(ctx context.Context, g *gorm.DB, where string, arg any) (Posting, error) {
	var row postingRow
	err := g.WithContext(ctx).Where(where, arg).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Posting{}, notFound("posting", fmt.Sprint(arg))
	}
	if err != nil {
		return Posting{}, err
	}
	var es []entryRow
	if err := g.WithContext(ctx).Where("posting_id = ?", row.ID).Order("seq").Find(&es).Error; err != nil {
		return Posting{}, err
	}
	p := Posting{ID: row.ID, IdempotencyKey: row.IdempotencyKey, Description: row.Description, CreatedAt: row.CreatedAt.UTC()}
	if row.ReversesPostingID != nil {
		p.ReversesPostingID = *row.ReversesPostingID
	}
	for _, e := range es {
		p.Entries = append(p.Entries, Entry{Seq: e.Seq, Account: e.Account, Currency: e.Currency, Amount: e.Amount})
	}
	return p, nil
}

func (l *Ledger) byKey(ctx context.Context, g *gorm.DB, key string) (Posting, error) {
	return l.load(ctx, g, "idempotency_key = ?", key)
}

// Posting returns a posting with its entries, or CodeNotFound.
func (l *Ledger) Posting(ctx context.Context, id string) (Posting, error) {
	return l.load(ctx, l.db.DB, "id = ?", id)
}

// PostingByKey returns the posting with that idempotency key, or CodeNotFound.
func (l *Ledger) PostingByKey(ctx context.Context, key string) (Posting, error) {
	return l.byKey(ctx, l.db.DB, key)
}

// ReversalKey is the idempotency key of the posting that reverses postingID.
func ReversalKey(postingID string) string { return "reverse:" + postingID }

// Reverse appends the posting that cancels postingID (every entry negated),
// audited in the same transaction. Reversing again returns the same reversal. It
// refuses CodeForbidden for a role other than finance or admin, CodeValidation
// without a reason, CodeNotFound for an unknown posting.
func (l *Ledger) Reverse(ctx context.Context, actor Actor, postingID, reason string) (Posting, error) {
	if err := authorize(actor, staff.ActPostingsReverse); err != nil {
		return Posting{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return Posting{}, problem.New(problem.CodeValidation, "a reversal needs a reason").
			With("errors", []FieldError{{Field: "reason", Reason: "is required"}})
	}
	var out Posting
	err := l.db.Tx(ctx, func(tx *gorm.DB) error {
		orig, err := l.load(ctx, tx, "id = ?", postingID)
		if err != nil {
			return err
		}
		rev := Posting{IdempotencyKey: ReversalKey(orig.ID), ReversesPostingID: orig.ID,
			Description: "Reversal of " + orig.ID + ": " + reason}
		for _, e := range orig.Entries {
			rev.Entries = append(rev.Entries, Entry{Account: e.Account, Currency: e.Currency, Amount: -e.Amount})
		}
		if out, err = l.post(ctx, tx, rev); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{ActorType: audit.ActorStaff, ActorID: actor.ID, Action: "ledger.posting_reversed",
			ObjectType: "ledger_posting", ObjectID: orig.ID, Details: map[string]any{"reversal": out.ID, "reason": reason}})
	})
	return out, err
}

// Balance is the sum of an account's entries in a currency (debit positive).
func (l *Ledger) Balance(ctx context.Context, account, currency string) (int64, error) {
	var n int64
	err := l.db.DB.WithContext(ctx).Raw(`SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE account = ? AND currency = ?`,
		account, currency).Scan(&n).Error
	return n, err
}

// Totals sums the whole ledger per currency; a sound ledger has every total 0.
func (l *Ledger) Totals(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Currency string
		Total    int64
	}
	if err := l.db.DB.WithContext(ctx).Raw(`SELECT currency, COALESCE(SUM(amount), 0) AS total FROM ledger_entries GROUP BY currency`).
		Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Currency] = r.Total
	}
	return out, nil
}

// AccountEntry is one entry as an account statement shows it.
type AccountEntry struct {
	Seq         int64     `json:"seq"`
	PostingID   string    `json:"posting_id"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	Currency    string    `json:"currency"`
	Amount      int64     `json:"amount"`
}

// Entries lists an account's entries, oldest first (limit ≤ 0: 1000).
func (l *Ledger) Entries(ctx context.Context, account string, limit int) ([]AccountEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var out []AccountEntry
	err := l.db.DB.WithContext(ctx).Raw(`SELECT e.seq, e.posting_id, p.description, p.created_at, e.currency, e.amount
		FROM ledger_entries e JOIN ledger_postings p ON p.id = e.posting_id
		WHERE e.account = ? ORDER BY e.seq LIMIT ?`, account, limit).Scan(&out).Error
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out, err
}
