package corrections

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/contracts"
)

// Ledger accounts of a correction: the customer's money comes back
// (customer_refunds is credited) from the creditor or, until the bank
// recovers it, its suspense (corrections_receivable is debited).
const (
	LedgerAccountRefunds    = "customer_refunds"
	LedgerAccountReceivable = "corrections_receivable"
)

// LedgerKey is the idempotency key of a correction's ledger posting.
func LedgerKey(correctionID string) string { return "correction:" + correctionID }

// ContractsLedger is the Ledger on the contracts' append-only double-entry
// ledger.
type ContractsLedger struct{ Ledger *contracts.Ledger }

// PostCorrection implements Ledger.
func (l ContractsLedger) PostCorrection(ctx context.Context, tx *gorm.DB, c *Correction) error {
	what := "Refund"
	if c.Kind == KindReversal {
		what = "Reversal"
	}
	_, err := l.Ledger.Post(ctx, tx, contracts.Posting{IdempotencyKey: LedgerKey(c.ID),
		Description: fmt.Sprintf("%s of payment %s (correction %s, partner %s): %s", what, c.PaymentID, c.ID, c.PartnerID, c.Reason),
		Entries: []contracts.Entry{
			{Account: LedgerAccountReceivable, Currency: c.Amount.Currency, Amount: c.Amount.Minor},
			{Account: LedgerAccountRefunds, Currency: c.Amount.Currency, Amount: -c.Amount.Minor},
		}})
	return err
}
