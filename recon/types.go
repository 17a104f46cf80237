// Package recon reconciles partners' payments with the bank (issue 17 item
// 1): it keeps each partner's own record of a UTC day (uploaded through the
// partner API, apis.Reconciler), matches it against the platform's payments
// of the day and the core's booked debit entries, and keeps the differences
// as breaks that finance works through in the console (assign, resolve with
// a code and a note, reopen, close the day).
//
// Break kinds, for one partner, environment and day (apis.Break…):
//
//   - missing_at_partner: a platform payment of the day that the partner's
//     record does not list (only once a record was uploaded);
//   - missing_at_bank: a payment id in the partner's record that is not one
//     of the partner's platform payments of that day and environment;
//   - missing_in_core: a platform payment the platform holds as accepted
//     (AcceptedSettlementInProcess or …Completed) without a booked debit
//     entry on the debtor account's statement in the core;
//   - currency_differs: the partner's currency, or the core entry's, is not
//     the platform payment's (the amount is then not compared);
//   - amount_differs: same currency, but the partner's amount, or the core
//     entry's, is not the platform payment's;
//   - status_differs: the partner's Status is not the platform's.
//
// A recomputation (on every upload, and on request from the console) is
// idempotent: one break per payment and kind (a unique index), values
// refreshed; a break no longer found is closed as "matched"; a "matched"
// break found again is reopened; a break finance resolved stays resolved.
package recon

import (
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Resolution codes finance picks; ResolutionMatched is the platform's own
// (the break disappeared).
const (
	ResolutionPartnerCorrected = "partner_corrected"
	ResolutionBankCorrected    = "bank_corrected"
	ResolutionWriteOff         = "write_off"
	ResolutionDuplicate        = "duplicate"
	ResolutionMatched          = "matched"
)

// ResolutionCodes are the codes finance may resolve a break with.
var ResolutionCodes = []string{ResolutionPartnerCorrected, ResolutionBankCorrected, ResolutionWriteOff, ResolutionDuplicate}

// MaxNote bounds a resolution note (bytes).
const MaxNote = 2000

// Actor is the member of staff acting (or the platform: RoleSystem).
type Actor struct {
	ID            string
	Role          staff.Role
	InteractionID string
}

// Day is one partner's reconciliation day.
type Day struct {
	ID          string
	PartnerID   string
	Environment environment.Environment
	Day         string // YYYY-MM-DD
	// Record is the partner's last uploaded record (nil: none uploaded).
	Record     []apis.RecordedPayment
	Uploads    int
	UploadedBy string
	UploadedAt time.Time
	MatchedAt  time.Time
	ClosedBy   string
	ClosedAt   time.Time // zero: open for uploads
	CreatedAt  time.Time
}

// Closed reports whether finance closed the day.
func (d *Day) Closed() bool { return !d.ClosedAt.IsZero() }

// Break is one difference, with finance's workflow fields.
type Break struct {
	apis.Break
	DayID       string
	PartnerID   string
	Environment environment.Environment
	Note        string
	Assignee    string
	ResolvedBy  string
	Version     int
}

// Open reports whether the break waits for finance.
func (b *Break) Open() bool { return b.Status == apis.BreakOpen }

// Filter selects breaks for the console's list.
type Filter struct {
	Status    string // "" (all), apis.BreakOpen or apis.BreakResolved
	PartnerID string
	Day       string // YYYY-MM-DD or ""
	Limit     int    // ≤0: 500
}
