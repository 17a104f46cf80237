package risk

import (
	"context"
	"errors"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
)

// Store errors.
var (
	// ErrNotFound: no such case or report.
	ErrNotFound = errors.New("risk: case not found")
	// ErrStale: the case was not in the status the change expected (another
	// officer decided first).
	ErrStale = errors.New("risk: case changed concurrently")
	// ErrCaseExists: the payment has a case already.
	ErrCaseExists = errors.New("risk: the payment has a case already")
)

// Store is the risk package's persistence. A transaction travels in the
// context (as in apis): Tx passes fn a context carrying it, and every method
// called with that context joins it — including the apis store's methods on
// the same database, so a case opens in its payment's transaction. Errors not
// named are the database's.
type Store interface {
	// Tx runs fn in one transaction carried by fn's context (joining one
	// already in ctx); it commits when fn returns nil.
	Tx(ctx context.Context, fn func(ctx context.Context) error) error
	// Audit records e in the transaction in ctx.
	Audit(ctx context.Context, e audit.Entry) error
	// CreateCase inserts c; ErrCaseExists when its payment has a case.
	CreateCase(ctx context.Context, c *Case) error
	// Case returns one case, or ErrNotFound.
	Case(ctx context.Context, id string) (*Case, error)
	// OpenCases lists the cases in CaseOpen or CaseProposed, oldest first.
	OpenCases(ctx context.Context) ([]Case, error)
	// UpdateCase writes c's status and its proposal and decision fields when
	// the stored case is in status from; ErrStale otherwise (or when the case
	// does not exist).
	UpdateCase(ctx context.Context, c *Case, from string) error
	// CreateSAR inserts r.
	CreateSAR(ctx context.Context, r *SAR) error
	// SAR returns one report, or ErrNotFound.
	SAR(ctx context.Context, id string) (*SAR, error)
	// CaseSARs lists a case's reports, oldest first.
	CaseSARs(ctx context.Context, caseID string) ([]SAR, error)
	// RejectedCasesByPartner counts each partner's cases rejected at or
	// after since (the risk rating's incident signal); partners without
	// any are absent.
	RejectedCasesByPartner(ctx context.Context, since time.Time) (map[string]int64, error)
	// AuditTrail lists the audit events of the objects, oldest first.
	AuditTrail(ctx context.Context, objectIDs ...string) ([]AuditEvent, error)
}
