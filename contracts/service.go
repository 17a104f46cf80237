package contracts

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/events"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Options are the Service's collaborators; every field may be left zero.
type Options struct {
	// Events receives statement.issued in the statement's transaction (nil: none).
	Events events.Publisher
	// Partners is told when a partner's contract becomes active (nil: nobody).
	Partners PartnerHook
	// Now is the clock (default time.Now().UTC()).
	Now func() time.Time
	// CreditNoteLimits maps an ISO 4217 currency to the largest credit note, in
	// minor units, one member of staff may issue alone; a larger credit note
	// waits in pending_approval until a second member of staff (finance or
	// admin, not its maker) approves it. Currencies not listed use
	// DefaultCreditNoteLimit major units in that currency's minor unit
	// (1,000.00 GBP = 100000, 1,000 JPY = 1000, 1,000.000 BHD = 1000000). A
	// limit of 0 sends every credit note to a second approver.
	CreditNoteLimits map[string]int64
	// ServiceLevels measures a partner's month for the service credits of
	// terms with service levels (nil: settling such terms fails).
	ServiceLevels ServiceLevelSource
	// RequireSignedAgreement refuses to approve a version without its signed
	// agreement (the platform sets it; see UploadAgreement).
	RequireSignedAgreement bool
}

// DefaultCreditNoteLimit is the credit note limit, in major units, of a currency
// Options.CreditNoteLimits does not list.
const DefaultCreditNoteLimit = 1000

// CreditNoteLimit is the largest credit note in currency (minor units) one
// member of staff may issue without a second approver.
func (s *Service) CreditNoteLimit(currency string) int64 {
	if n, ok := s.creditLimits[currency]; ok {
		return n
	}
	n := int64(DefaultCreditNoteLimit)
	for i := 0; i < money.Decimals(currency); i++ {
		n *= 10
	}
	return n
}

// Service is the contracts domain: usage, contracts, settlement, adjustments and
// reconciliation. Its Ledger field is the double-entry ledger.
type Service struct {
	db       *db.DB
	events   events.Publisher
	partners PartnerHook
	now      func() time.Time
	// creditLimits is Options.CreditNoteLimits (copied).
	creditLimits map[string]int64
	// serviceLevels is Options.ServiceLevels.
	serviceLevels ServiceLevelSource
	// requireAgreement is Options.RequireSignedAgreement.
	requireAgreement bool
	// Ledger is the append-only double-entry ledger the service posts to.
	Ledger *Ledger
	// Scope answers HasActiveContract and the data-sharing scope (its
	// methods are the Service's too).
	*Scope
}

// New makes a Service on a migrated database.
func New(d *db.DB, opts Options) *Service {
	now := opts.Now
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	limits := map[string]int64{}
	for c, n := range opts.CreditNoteLimits {
		limits[strings.ToUpper(c)] = n
	}
	return &Service{db: d, events: opts.Events, partners: opts.Partners, now: func() time.Time { return now().UTC() },
		creditLimits: limits, serviceLevels: opts.ServiceLevels, requireAgreement: opts.RequireSignedAgreement, Ledger: &Ledger{db: d, now: func() time.Time { return now().UTC() }}, Scope: NewScope(d, now)}
}

// inTx runs fn in tx when tx is not nil, else in a new transaction.
func inTx(ctx context.Context, d *db.DB, tx *gorm.DB, fn func(tx *gorm.DB) error) error {
	if tx != nil {
		return fn(tx.WithContext(ctx))
	}
	return d.Tx(ctx, fn)
}

// authorize refuses an actor whose role may not do what (staff.Authorize).
func authorize(a Actor, what staff.Action) error { return staff.Authorize(a.ID, a.Role, what) }

// CanRead reports whether the actor's role may read contracts, statements and the
// ledger in the console (every staff role may: staff.ActContractsRead).
func CanRead(a Actor) error { return authorize(a, staff.ActContractsRead) }

// isDuplicate reports a unique-constraint violation (gorm's TranslateError is on).
func isDuplicate(err error) bool { return errors.Is(err, gorm.ErrDuplicatedKey) }

func notFound(what, id string) error {
	return problem.New(problem.CodeNotFound, "%s %s not found", what, id)
}
