package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
)

var _ Corrector = (*Reference)(nil)

// Suspense accounts: the bank's own account per environment and currency
// that a correction debits when the original creditor banks elsewhere (the
// bank recovers the money from the other bank outside the platform). It has
// no customer; its entries are booked like any account's.
const (
	SchemeSuspense      = "Bankbridge.Suspense"
	AccountTypeSuspense = "suspense"
	suspenseCustomerID  = "bank"
)

// SuspenseAccountID is the id of the suspense account of env and currency.
func SuspenseAccountID(env environment.Environment, currency string) string {
	return "acc_suspense_" + string(env) + "_" + strings.ToLower(currency)
}

type correctionRow struct {
	ID                  string `gorm:"primaryKey"`
	Fingerprint         string
	PaymentID           string
	Kind                string
	AmountMinor         int64
	Currency            string
	Reason              string
	CreditTransactionID string
	DebitAccountID      string
	DebitTransactionID  string
	Suspense            bool
	CreatedAt           time.Time
}

func (correctionRow) TableName() string { return "core_corrections" }

func (r *correctionRow) toResult(already bool) *CorrectionResult {
	return &CorrectionResult{CorrectionID: r.ID, PaymentID: r.PaymentID, CreditTransactionID: r.CreditTransactionID,
		DebitAccountID: r.DebitAccountID, DebitTransactionID: r.DebitTransactionID, Suspense: r.Suspense,
		PostedAt: r.CreatedAt.UTC(), Already: already}
}

func correctionFingerprint(in CorrectionInstruction) string {
	h := sha256.New()
	for _, s := range []string{in.CorrectionID, in.PaymentID, in.Kind, strconv.FormatInt(in.Amount.Minor, 10), in.Amount.Currency, in.Reason} {
		h.Write([]byte(strconv.Itoa(len(s)) + ":" + s + ";"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// PostCorrection implements Corrector. In one write transaction it returns
// the recorded correction of the id if there is one, locks the payment
// (PostgreSQL: FOR UPDATE; SQLite: writeTx holds the write lock), checks it
// was accepted and not reversed in the sandbox, that the payment's earlier
// corrections plus this one do not exceed it (a reversal: nothing earlier,
// the whole amount), locks the debtor and the debit side in id order,
// credits the debtor, debits the creditor's account here or the suspense
// account, books both entries (the original's reference, its payment id)
// and records the correction. Like the sandbox reversal's, the entries are a
// correction, not a payment: booked whatever the accounts' status and
// credit lines.
func (r *Reference) PostCorrection(ctx context.Context, in CorrectionInstruction) (*CorrectionResult, error) {
	in.Reason = strings.TrimSpace(in.Reason)
	if err := in.Validate(); err != nil {
		return nil, err
	}
	fp := correctionFingerprint(in)
	var out *CorrectionResult
	err := r.writeTx(ctx, func(tx *gorm.DB) error {
		var existing correctionRow
		err := tx.Where("id = ?", in.CorrectionID).Take(&existing).Error
		if err == nil {
			if existing.Fingerprint != fp {
				return ErrIdempotencyConflict
			}
			out = existing.toResult(true)
			return nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		var p paymentRow
		q := tx.Where("id = ?", in.PaymentID)
		if r.db.Dialect == db.Postgres {
			q = q.Clauses(forUpdate)
		}
		if err := q.Take(&p).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		switch {
		case p.Status != PaymentAccepted:
			return fmt.Errorf("%w: payment %s was rejected (%s) and moved no money", ErrNotReversible, p.ID, p.RejectReason)
		case p.ReversedAt != nil:
			return fmt.Errorf("%w: payment %s was reversed in the sandbox", ErrNotReversible, p.ID)
		case p.Currency != in.Amount.Currency:
			return fmt.Errorf("%w: payment %s is in %s, the correction in %s", ErrCurrencyMismatch, p.ID, p.Currency, in.Amount.Currency)
		}
		var done struct{ N, Sum int64 }
		if err := tx.Raw(`SELECT COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS sum FROM core_corrections WHERE payment_id = ?`,
			p.ID).Scan(&done).Error; err != nil {
			return err
		}
		switch {
		case in.Kind == CorrectionReversal && (done.N > 0 || in.Amount.Minor != p.AmountMinor):
			return fmt.Errorf("%w: a reversal is the whole amount of payment %s, once, and nothing else corrected it", ErrNotReversible, p.ID)
		case done.Sum+in.Amount.Minor > p.AmountMinor:
			return fmt.Errorf("%w: payment %s has %d of %d minor units left to correct, not %d", ErrNotReversible,
				p.ID, p.AmountMinor-done.Sum, p.AmountMinor, in.Amount.Minor)
		}
		row, err := r.correct(tx, &p, in)
		if err != nil {
			return err
		}
		row.Fingerprint = fp
		if err := tx.Create(row).Error; err != nil {
			return err
		}
		out = row.toResult(false)
		return nil
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		var existing correctionRow
		if err := first(ctx, r.db.DB, &existing, in.CorrectionID); err != nil {
			return nil, err
		}
		if existing.Fingerprint != fp {
			return nil, ErrIdempotencyConflict
		}
		return existing.toResult(true), nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// correct books the entries of correction in of accepted payment p in tx.
func (r *Reference) correct(tx *gorm.DB, p *paymentRow, in CorrectionInstruction) (*correctionRow, error) {
	var debtorEnv []environment.Environment
	if err := tx.Model(&accountRow{}).Where("id = ?", p.DebtorAccountID).Pluck("environment", &debtorEnv).Error; err != nil {
		return nil, err
	}
	if len(debtorEnv) != 1 {
		return nil, fmt.Errorf("%w: debtor account %s of payment %s no longer exists", ErrNotReversible, p.DebtorAccountID, p.ID)
	}
	otherID, suspense := p.CreditorAccountID, false
	if otherID == "" {
		suspense = true
		var err error
		if otherID, err = r.ensureSuspense(tx, debtorEnv[0], p.Currency); err != nil {
			return nil, err
		}
	}
	debtor, other, err := r.lockAccounts(tx, p.DebtorAccountID, otherID)
	if err != nil {
		return nil, err
	}
	if debtor == nil || other == nil {
		return nil, fmt.Errorf("%w: an account of payment %s no longer exists", ErrNotReversible, p.ID)
	}
	now := r.now().Truncate(time.Microsecond)
	bookedAt := now
	for _, a := range []*accountRow{debtor, other} {
		if a.LastBookedAt.After(bookedAt) {
			bookedAt = a.LastBookedAt.UTC()
		}
	}
	what := "Refund"
	if in.Kind == CorrectionReversal {
		what = "Reversal"
	}
	description := fmt.Sprintf("%s of payment %s: %s", what, p.ID, in.Reason)
	bal, seq, err := adjustAccount(tx, debtor.ID, in.Amount.Minor, bookedAt)
	if err != nil {
		return nil, err
	}
	obal, oseq, err := adjustAccount(tx, other.ID, -in.Amount.Minor, bookedAt)
	if err != nil {
		return nil, err
	}
	credit := transactionRow{ID: ids.New("txn"), AccountID: debtor.ID, Seq: seq, BookedAt: bookedAt, ValueAt: bookedAt,
		AmountMinor: in.Amount.Minor, Currency: in.Amount.Currency, CreditDebit: Credit, Status: StatusBooked,
		Method: MethodCorrection, Category: CategoryRefund, Description: description, Reference: p.Reference,
		CounterpartyName: p.CreditorName, CounterpartyScheme: p.CreditorScheme,
		CounterpartyIdentification: p.CreditorIdentification, BalanceAfterMinor: bal, PaymentID: p.ID}
	debit := transactionRow{ID: ids.New("txn"), AccountID: other.ID, Seq: oseq, BookedAt: bookedAt, ValueAt: bookedAt,
		AmountMinor: in.Amount.Minor, Currency: in.Amount.Currency, CreditDebit: Debit, Status: StatusBooked,
		Method: MethodCorrection, Category: CategoryRefund, Description: description, Reference: p.Reference,
		CounterpartyName: debtor.HolderName, CounterpartyScheme: debtor.SchemeName,
		CounterpartyIdentification: debtor.Identification, BalanceAfterMinor: obal, PaymentID: p.ID}
	if err := tx.Create(&[]transactionRow{credit, debit}).Error; err != nil {
		return nil, err
	}
	return &correctionRow{ID: in.CorrectionID, PaymentID: p.ID, Kind: in.Kind, AmountMinor: in.Amount.Minor,
		Currency: in.Amount.Currency, Reason: in.Reason, CreditTransactionID: credit.ID, DebitAccountID: other.ID,
		DebitTransactionID: debit.ID, Suspense: suspense, CreatedAt: now}, nil
}

// ensureSuspense creates the suspense account of env and currency if it
// does not exist (insert-if-absent) and returns its id.
func (r *Reference) ensureSuspense(tx *gorm.DB, env environment.Environment, currency string) (string, error) {
	id := SuspenseAccountID(env, currency)
	now := time.Unix(0, 0).UTC()
	err := tx.Exec(`INSERT INTO core_accounts (id, customer_id, environment, type, sub_type, nickname, holder_name, currency,
		scheme_name, identification, status, status_updated_at, opened_at, balance_minor, last_booked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT (id) DO NOTHING`,
		id, suspenseCustomerID, env, AccountTypeSuspense, "Suspense", "Corrections suspense", "Bank suspense account",
		currency, SchemeSuspense, string(env)+":"+currency, AccountEnabled, now, now, now).Error
	return id, err
}
