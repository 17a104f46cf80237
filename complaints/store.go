package complaints

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
)

// Store errors.
var (
	// ErrNotFound: no complaint has that id.
	ErrNotFound = errors.New("complaints: complaint not found")
	// ErrOpenExists: the payment has an open complaint already.
	ErrOpenExists = errors.New("complaints: the payment has an open complaint")
	// ErrStale: the complaint was not in the state the update expected
	// (another request changed it first).
	ErrStale = errors.New("complaints: complaint changed concurrently")
)

// Filter narrows List; zero fields match everything.
type Filter struct {
	PartnerID string
	Status    Status
	// OverdueAt, when set, keeps the open complaints due before it.
	OverdueAt time.Time
}

// Store keeps complaints. The transaction travels in the context: Tx passes
// fn a context that carries it, and every method called with that context
// joins it; Join makes a context that carries a caller's *gorm.DB
// transaction (Refunded, called by corrections in its own). Errors not
// named are the database's.
type Store interface {
	// Tx runs fn in one transaction carried by fn's context (joining one
	// already in ctx); it commits when fn returns nil.
	Tx(ctx context.Context, fn func(ctx context.Context) error) error
	// Join returns ctx carrying tx: methods called with it use tx.
	Join(ctx context.Context, tx *gorm.DB) context.Context
	// Handle is the transaction in ctx (else the database) for the other
	// domains' methods that take the caller's transaction (staff.Require,
	// mail, events).
	Handle(ctx context.Context) *gorm.DB
	// Audit records e in the transaction in ctx.
	Audit(ctx context.Context, e audit.Entry) error
	// Create inserts c; ErrOpenExists when its payment has an open complaint.
	Create(ctx context.Context, c *Complaint) error
	// Get returns one complaint, or ErrNotFound.
	Get(ctx context.Context, id string) (*Complaint, error)
	// List returns the complaints matching f, the soonest due first.
	List(ctx context.Context, f Filter) ([]Complaint, error)
	// ForCustomer lists a customer's complaints, newest first.
	ForCustomer(ctx context.Context, customerID string) ([]Complaint, error)
	// Update writes c's assignment, partner answer and outcome fields (and
	// status) when the stored complaint is in status from, and (with
	// unanswered) has no partner answer yet; ErrStale otherwise.
	Update(ctx context.Context, c *Complaint, from Status, unanswered bool) error
	// AddNote inserts n (its ID is set).
	AddNote(ctx context.Context, n *Note) error
	// Notes lists a complaint's notes, oldest first.
	Notes(ctx context.Context, complaintID string) ([]Note, error)
	// CountReceived counts the partner's complaints received in [from, to).
	CountReceived(ctx context.Context, partnerID string, from, to time.Time) (int64, error)
	// UpheldOrUnauthorisedByPartner counts, per partner, the complaints
	// received at or after since that are about an unauthorised payment or
	// were upheld (outcome refund); partners without any are absent.
	UpheldOrUnauthorisedByPartner(ctx context.Context, since time.Time) (map[string]int64, error)
	// AuditTrail lists the audit events of the complaint, oldest first.
	AuditTrail(ctx context.Context, complaintID string) ([]audit.Event, error)
}
