package recon

import (
	"context"
	"errors"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// Store errors.
var (
	// ErrNotFound: no such day or break.
	ErrNotFound = errors.New("recon: not found")
	// ErrStale: a conditional update found the row changed meanwhile
	// (another version, or the day already closed).
	ErrStale = errors.New("recon: changed meanwhile")
)

// Store keeps days and breaks. Methods called with the ctx of Tx join its
// transaction.
type Store interface {
	// Tx runs fn in one transaction carried in its ctx.
	Tx(ctx context.Context, fn func(ctx context.Context) error) error
	// Audit records e in the transaction in ctx.
	Audit(ctx context.Context, e audit.Entry) error
	// LockDay returns the day, creating it, locked until the transaction in
	// ctx ends (PostgreSQL: SELECT … FOR UPDATE; SQLite's write transaction
	// holds the database lock).
	LockDay(ctx context.Context, partnerID string, env environment.Environment, day string, now time.Time) (*Day, error)
	// Day returns a day, or ErrNotFound.
	Day(ctx context.Context, partnerID string, env environment.Environment, day string) (*Day, error)
	// DayByID returns a day, or ErrNotFound.
	DayByID(ctx context.Context, id string) (*Day, error)
	// SaveRecord writes the day's record, upload and match fields.
	SaveRecord(ctx context.Context, d *Day) error
	// CloseDay closes an open day (closed_at IS NULL), else ErrStale.
	CloseDay(ctx context.Context, id, by string, at time.Time) error
	// DayBreaks lists a day's breaks by payment id and kind.
	DayBreaks(ctx context.Context, dayID string) ([]Break, error)
	// InsertBreak stores a new break.
	InsertBreak(ctx context.Context, b *Break) error
	// UpdateBreak writes b if its stored version is still from, setting
	// version from+1; ErrStale otherwise.
	UpdateBreak(ctx context.Context, b *Break, from int) error
	// Break returns one break, or ErrNotFound.
	Break(ctx context.Context, id string) (*Break, error)
	// Breaks lists breaks by day (newest first), partner, payment and kind.
	Breaks(ctx context.Context, f Filter) ([]Break, error)
	// AuditTrail lists the audit events of objectIDs, oldest first.
	AuditTrail(ctx context.Context, objectIDs ...string) ([]audit.Event, error)
}
