package reviews

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
)

// Errors a Store returns besides the database's own (wrapped).
var (
	// ErrNotFound: no review has that id.
	ErrNotFound = errors.New("reviews: review not found")
	// ErrDuplicate: the partner already has a review for that quarter.
	ErrDuplicate = errors.New("reviews: the partner already has a review for that quarter")
	// ErrChanged: the review was not in the state the update expected
	// (another request changed it first).
	ErrChanged = errors.New("reviews: review changed concurrently")
)

// Filter narrows List; zero fields match everything.
type Filter struct {
	PartnerID string
	Status    Status
	Quarter   string
}

// Store keeps reviews. The transaction travels in the context: Tx passes fn
// a context that carries it, and every method called with that context
// joins it.
type Store interface {
	// Tx runs fn in one transaction carried by the context fn receives (a
	// nested Tx joins the outer one).
	Tx(ctx context.Context, fn func(ctx context.Context) error) error
	// Handle is the transaction in ctx (else the database) for the other
	// domains' methods that take the caller's transaction (staff.Require,
	// partners.SetRiskRating).
	Handle(ctx context.Context) *gorm.DB
	// Create inserts r. Errors: ErrDuplicate, the database's.
	Create(ctx context.Context, r *Review) error
	// Get returns the review with id. Errors: ErrNotFound, the database's.
	Get(ctx context.Context, id string) (*Review, error)
	// List returns the reviews matching f, newest quarter first, then by
	// partner. Errors: the database's.
	List(ctx context.Context, f Filter) ([]Review, error)
	// Update writes r's mutable fields (status, scorecard, ratings, notes,
	// outcome, submission, decision, return note, updated_at) if the stored
	// review is still in state from: the conditional update that makes one
	// of two parallel decisions win. Errors: ErrChanged, the database's.
	Update(ctx context.Context, r *Review, from Status) error
	// Audit records e in the transaction in ctx (audit.Record).
	Audit(ctx context.Context, e audit.Entry) error
	// Lifecycle returns the partner's audit events in [from, to) of its
	// own lifecycle (partner.status_changed) and its apps' (app.*),
	// oldest first. Errors: the database's.
	Lifecycle(ctx context.Context, partnerID string, from, to time.Time) ([]audit.Event, error)
}
