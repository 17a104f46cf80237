package corrections

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/money"
)

// Store errors.
var (
	// ErrNotFound: no such correction.
	ErrNotFound = errors.New("corrections: not found")
	// ErrStale: the correction was not in the status the change expected
	// (another decision or posting came first).
	ErrStale = errors.New("corrections: changed concurrently")
	// ErrExceeds: the payment has less left to correct than asked.
	ErrExceeds = errors.New("corrections: exceeds what is left of the payment")
	// ErrReversed: a reversal was asked of a payment with corrections (or one
	// reversed already).
	ErrReversed = errors.New("corrections: the payment has corrections already")
)

// Totals is what a payment's live corrections hold of it.
type Totals struct {
	PaymentID string
	Original  money.Money
	Reserved  int64
	Reversed  bool
}

// Filter selects corrections (zero fields: any).
type Filter struct {
	Status    string
	PaymentID string
	PartnerID string
	Limit     int // default 200
}

// Store is corrections' persistence. A transaction travels in the context
// (as in apis and risk): Tx passes fn a context carrying it and every
// method called with that context joins it. Errors not named are the
// database's.
type Store interface {
	// Tx runs fn in one transaction carried by fn's context (joining one
	// already in ctx); it commits when fn returns nil.
	Tx(ctx context.Context, fn func(ctx context.Context) error) error
	// Conn is the transaction in ctx (or the database), for the ports that
	// take one: the ledger, events, mail and complaints.
	Conn(ctx context.Context) *gorm.DB
	// Audit records e in the transaction in ctx.
	Audit(ctx context.Context, e audit.Entry) error
	// Reserve takes amount of the payment's original (creating its totals
	// row) with one conditional update: a refund while reserved + amount ≤
	// original, a reversal (reversal true) while nothing is reserved, which
	// then reserves everything. ErrExceeds or ErrReversed, with the totals
	// as they stand.
	Reserve(ctx context.Context, paymentID string, original money.Money, amount int64, reversal bool) (Totals, error)
	// Release gives amount back (a rejected correction).
	Release(ctx context.Context, paymentID string, amount int64, reversal bool) error
	// Totals returns a payment's totals (zero Reserved when it has none).
	Totals(ctx context.Context, paymentID string) (Totals, error)
	// Create inserts c.
	Create(ctx context.Context, c *Correction) error
	// Get returns one correction, or ErrNotFound.
	Get(ctx context.Context, id string) (*Correction, error)
	// List returns the corrections f selects, newest first.
	List(ctx context.Context, f Filter) ([]Correction, error)
	// Update writes c's status, decision and posting fields when the stored
	// correction is in status from; ErrStale otherwise.
	Update(ctx context.Context, c *Correction, from string) error
}
