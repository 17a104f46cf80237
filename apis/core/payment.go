package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"gorm.io/gorm"
)

var sortCodeAccountNumber = regexp.MustCompile(`^[0-9]{14}$`)

// fingerprint identifies an instruction's content, to tell a genuine retry
// from a reused payment id.
func fingerprint(in PaymentInstruction) string {
	h := sha256.New()
	for _, s := range []string{in.PaymentID, in.DebtorAccountID, in.Creditor.SchemeName,
		in.Creditor.Identification, in.Creditor.Name, strconv.FormatInt(in.Amount.Minor, 10),
		in.Amount.Currency, in.Reference} {
		h.Write([]byte(strconv.Itoa(len(s)) + ":" + s + ";"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ExecutePayment implements Core. In one database transaction it reads the
// debtor's environment, looks the creditor up (an account of the other
// environment is refused as RejectCreditorInvalid and never locked), locks the
// accounts involved (PostgreSQL: SELECT … FOR UPDATE in id order, so two
// transfers in opposite directions cannot deadlock; SQLite: the transaction
// holds the write lock from BEGIN), decides, debits with a conditional UPDATE
// (balance + credit line ≥ amount), credits an internal creditor, books both
// entries with their running balances and records the result under the
// payment id. A concurrent or repeated call with the same id sees that record
// (or loses the insert race and reads it), so money moves once.
func (r *Reference) ExecutePayment(ctx context.Context, in PaymentInstruction) (*PaymentResult, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	fp := fingerprint(in)
	var res *PaymentResult
	err := r.writeTx(ctx, func(tx *gorm.DB) error {
		var existing paymentRow
		err := tx.Where("id = ?", in.PaymentID).Take(&existing).Error
		if err == nil {
			if existing.Fingerprint != fp {
				return ErrIdempotencyConflict
			}
			res = existing.toResult()
			return nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		p, err := r.execute(tx, in)
		if err != nil {
			return err
		}
		p.Fingerprint = fp
		if err := tx.Create(p).Error; err != nil {
			return err
		}
		res = p.toResult()
		return nil
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		// A concurrent call with the same payment id committed first: ours rolled
		// back, theirs is the result.
		var existing paymentRow
		if err := first(ctx, r.db.DB, &existing, in.PaymentID); err != nil {
			return nil, err
		}
		if existing.Fingerprint != fp {
			return nil, ErrIdempotencyConflict
		}
		return existing.toResult(), nil
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// execute decides and applies one new payment inside tx and returns its record
// (not yet inserted).
func (r *Reference) execute(tx *gorm.DB, in PaymentInstruction) (*paymentRow, error) {
	now := r.now().Truncate(time.Microsecond)
	p := &paymentRow{
		ID: in.PaymentID, DebtorAccountID: in.DebtorAccountID, CreditorScheme: in.Creditor.SchemeName,
		CreditorIdentification: in.Creditor.Identification, CreditorName: in.Creditor.Name,
		AmountMinor: in.Amount.Minor, Currency: in.Amount.Currency, Reference: in.Reference,
		Status: PaymentRejected, CreatedAt: now,
	}
	reject := func(reason string) (*paymentRow, error) {
		p.RejectReason = reason
		return p, nil
	}

	// The debtor's environment is the whole bank this payment sees: an
	// account of the other environment is no account of ours to it (and is
	// never locked by it).
	var debtorEnv []environment.Environment
	if err := tx.Model(&accountRow{}).Where("id = ?", in.DebtorAccountID).Pluck("environment", &debtorEnv).Error; err != nil {
		return nil, err
	}
	if len(debtorEnv) != 1 {
		return nil, ErrNotFound
	}

	// Who is paid: an account at this bank (internal transfer) or elsewhere.
	var creditorID string
	otherEnvironment := false
	validCreditor := in.Creditor.SchemeName == SchemeSortCodeAccountNumber &&
		sortCodeAccountNumber.MatchString(in.Creditor.Identification)
	if validCreditor {
		var found []accountRow
		if err := tx.Select("id", "environment").Where("scheme_name = ? AND identification = ?",
			in.Creditor.SchemeName, in.Creditor.Identification).Find(&found).Error; err != nil {
			return nil, err
		}
		switch {
		case len(found) == 1 && found[0].Environment == debtorEnv[0]:
			creditorID = found[0].ID
		case len(found) == 1:
			otherEnvironment = true
		}
	}

	debtor, creditor, err := r.lockAccounts(tx, in.DebtorAccountID, creditorID)
	if err != nil {
		return nil, err
	}
	if debtor == nil {
		return nil, ErrNotFound
	}

	switch {
	case debtor.Status == AccountClosed:
		return reject(RejectAccountClosed)
	case debtor.Status != AccountEnabled:
		return reject(RejectAccountBlocked)
	case in.Amount.Currency != debtor.Currency:
		return reject(RejectCurrencyMismatch)
	case !validCreditor || creditorID == debtor.ID:
		return reject(RejectCreditorInvalid)
	case otherEnvironment:
		// Sandbox and production never meet: a sandbox account cannot pay a
		// production one, nor the reverse. Refused exactly like an unknown
		// account at this bank, so a sandbox partner learns nothing about
		// which production account numbers exist.
		return reject(RejectCreditorInvalid)
	case creditor == nil && in.Creditor.Identification[:6] == SandboxSortCode:
		return reject(RejectCreditorInvalid) // our sort code, no such account
	case creditor != nil && creditor.Status != AccountEnabled:
		return reject(RejectCreditorUnavailable)
	case creditor != nil && creditor.Currency != in.Amount.Currency:
		return reject(RejectCurrencyMismatch)
	}

	// Booking times never go backwards on an account (page order relies on it).
	bookedAt := now
	for _, a := range []*accountRow{debtor, creditor} {
		if a != nil && a.LastBookedAt.After(bookedAt) {
			bookedAt = a.LastBookedAt.UTC()
		}
	}
	bal, seq, ok, err := debitAccount(tx, debtor.ID, in.Amount.Minor, bookedAt)
	if err != nil {
		return nil, err
	}
	if !ok {
		return reject(RejectInsufficientFunds)
	}
	debit := transactionRow{
		ID: ids.New("txn"), AccountID: debtor.ID, Seq: seq, BookedAt: bookedAt, ValueAt: bookedAt,
		AmountMinor: in.Amount.Minor, Currency: in.Amount.Currency, CreditDebit: Debit, Status: StatusBooked,
		Method: MethodFasterPayment, Category: CategoryPayments, Description: describe("Payment to", in.Creditor.Name),
		Reference: in.Reference, CounterpartyName: in.Creditor.Name, CounterpartyScheme: in.Creditor.SchemeName,
		CounterpartyIdentification: in.Creditor.Identification, BalanceAfterMinor: bal, PaymentID: in.PaymentID,
	}
	entries := []transactionRow{debit}
	if creditor != nil {
		entries[0].Method, entries[0].Category = MethodTransfer, CategoryTransfers
		cbal, cseq, ok, err := creditAccount(tx, creditor.ID, in.Amount.Minor, bookedAt)
		if err != nil {
			return nil, err
		}
		if !ok { // cannot happen: the row is locked and was enabled
			return nil, fmt.Errorf("core: credit account %s: not enabled", creditor.ID)
		}
		entries = append(entries, transactionRow{
			ID: ids.New("txn"), AccountID: creditor.ID, Seq: cseq, BookedAt: bookedAt, ValueAt: bookedAt,
			AmountMinor: in.Amount.Minor, Currency: in.Amount.Currency, CreditDebit: Credit, Status: StatusBooked,
			Method: MethodTransfer, Category: CategoryTransfers, Description: describe("Payment from", debtor.HolderName),
			Reference: in.Reference, CounterpartyName: debtor.HolderName, CounterpartyScheme: debtor.SchemeName,
			CounterpartyIdentification: debtor.Identification, BalanceAfterMinor: cbal, PaymentID: in.PaymentID,
		})
		p.CreditorAccountID = creditor.ID
		p.CreditTransactionID = entries[1].ID
	}
	if err := tx.Create(&entries).Error; err != nil {
		return nil, err
	}
	p.Status, p.DebitTransactionID, p.BookedAt = PaymentAccepted, debit.ID, &bookedAt
	return p, nil
}

func describe(prefix, name string) string {
	if name == "" {
		return prefix + " account"
	}
	return prefix + " " + name
}

// Payment implements Core.
func (r *Reference) Payment(ctx context.Context, paymentID string) (*PaymentResult, error) {
	var row paymentRow
	if err := first(ctx, r.db.DB, &row, paymentID); err != nil {
		return nil, err
	}
	return row.toResult(), nil
}

// errReversedConcurrently: the conditional UPDATE that marks a payment
// reversed found it marked already (the transaction rolls back).
var errReversedConcurrently = errors.New("core: payment reversed concurrently")

// ReversePayment implements SandboxReverser. In one write transaction it loads
// the payment (PostgreSQL: SELECT … FOR UPDATE, so concurrent reversals of one
// payment queue up; SQLite: writeTx holds the write lock), returns the
// recorded reversal if there is one, refuses a rejected payment and accounts
// that are not synthetic, locks the debtor and any internal creditor in id
// order (as ExecutePayment does), credits the debtor and debits the creditor,
// books both entries with their running balances (booking times never go
// backwards on an account) and marks the payment reversed with a conditional
// UPDATE (reversed_at IS NULL). The compensating entries are a sandbox
// correction, not a payment: they are booked whatever the accounts' status,
// and the creditor's debit may take it below its credit line.
func (r *Reference) ReversePayment(ctx context.Context, paymentID, reason string) (*Reversal, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case paymentID == "":
		return nil, fmt.Errorf("%w: payment id is required", ErrInvalid)
	case reason == "" || utf8.RuneCountInString(reason) > 100:
		return nil, fmt.Errorf("%w: reversal reason must be 1 to 100 characters", ErrInvalid)
	}
	var out *Reversal
	err := r.writeTx(ctx, func(tx *gorm.DB) error {
		var p paymentRow
		q := tx.Where("id = ?", paymentID)
		if r.db.Dialect == db.Postgres {
			q = q.Clauses(forUpdate)
		}
		if err := q.Take(&p).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if p.ReversedAt != nil {
			out = p.toReversal(true)
			return nil
		}
		if p.Status != PaymentAccepted {
			return fmt.Errorf("%w: payment %s was rejected (%s) and moved no money", ErrNotReversible, p.ID, p.RejectReason)
		}
		var corrected int64
		if err := tx.Model(&correctionRow{}).Where("payment_id = ?", p.ID).Count(&corrected).Error; err != nil {
			return err
		}
		if corrected > 0 {
			return fmt.Errorf("%w: payment %s was refunded or reversed by a correction", ErrNotReversible, p.ID)
		}
		rev, err := r.reverse(tx, &p, reason)
		if err != nil {
			return err
		}
		res := tx.Model(&paymentRow{}).Where("id = ? AND reversed_at IS NULL", p.ID).Updates(map[string]any{
			"reversed_at": rev.ReversedAt, "reversal_reason": rev.Reason,
			"reversal_credit_transaction_id": rev.CreditTransactionID, "reversal_debit_transaction_id": rev.DebitTransactionID})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errReversedConcurrently
		}
		out = rev
		return nil
	})
	if errors.Is(err, errReversedConcurrently) {
		var p paymentRow
		if err := first(ctx, r.db.DB, &p, paymentID); err != nil {
			return nil, err
		}
		return p.toReversal(true), nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// lockAccounts loads the debtor and the internal creditor (creditorID may be
// empty) inside tx, locked in id order so two payments between the same
// accounts cannot deadlock (PostgreSQL: FOR UPDATE; SQLite: writeTx already
// holds the database's write lock). A missing account comes back nil.
func (r *Reference) lockAccounts(tx *gorm.DB, debtorID, creditorID string) (debtor, creditor *accountRow, err error) {
	lockIDs := []string{debtorID}
	if creditorID != "" && creditorID != debtorID {
		lockIDs = append(lockIDs, creditorID)
	}
	sort.Strings(lockIDs)
	var rows []accountRow
	q := tx.Where("id IN ?", lockIDs).Order("id")
	if r.db.Dialect == db.Postgres {
		q = q.Clauses(forUpdate)
	}
	if err := q.Find(&rows).Error; err != nil {
		return nil, nil, err
	}
	for i := range rows {
		if rows[i].ID == debtorID {
			debtor = &rows[i]
		}
		if creditorID != "" && rows[i].ID == creditorID {
			creditor = &rows[i]
		}
	}
	return debtor, creditor, nil
}

// reverse books the compensating entries of accepted payment p inside tx and
// returns the reversal (not yet recorded on p).
func (r *Reference) reverse(tx *gorm.DB, p *paymentRow, reason string) (*Reversal, error) {
	debtor, creditor, err := r.lockAccounts(tx, p.DebtorAccountID, p.CreditorAccountID)
	if err != nil {
		return nil, err
	}
	switch {
	case debtor == nil:
		return nil, fmt.Errorf("%w: debtor account %s of payment %s no longer exists", ErrNotReversible, p.DebtorAccountID, p.ID)
	case !debtor.Synthetic:
		return nil, fmt.Errorf("%w: debtor account %s is not a synthetic sandbox account", ErrNotReversible, debtor.ID)
	case p.CreditorAccountID != "" && creditor == nil:
		return nil, fmt.Errorf("%w: creditor account %s of payment %s no longer exists", ErrNotReversible, p.CreditorAccountID, p.ID)
	case creditor != nil && !creditor.Synthetic:
		return nil, fmt.Errorf("%w: creditor account %s is not a synthetic sandbox account", ErrNotReversible, creditor.ID)
	}

	now := r.now().Truncate(time.Microsecond)
	bookedAt := now
	for _, a := range []*accountRow{debtor, creditor} {
		if a != nil && a.LastBookedAt.After(bookedAt) {
			bookedAt = a.LastBookedAt.UTC()
		}
	}
	description := fmt.Sprintf("Reversal of payment %s: %s", p.ID, reason)
	category := CategoryPayments
	if creditor != nil {
		category = CategoryTransfers
	}
	bal, seq, err := adjustAccount(tx, debtor.ID, p.AmountMinor, bookedAt)
	if err != nil {
		return nil, err
	}
	entries := []transactionRow{{
		ID: ids.New("txn"), AccountID: debtor.ID, Seq: seq, BookedAt: bookedAt, ValueAt: bookedAt,
		AmountMinor: p.AmountMinor, Currency: p.Currency, CreditDebit: Credit, Status: StatusBooked,
		Method: MethodReversal, Category: category, Description: description, Reference: p.Reference,
		CounterpartyName: p.CreditorName, CounterpartyScheme: p.CreditorScheme,
		CounterpartyIdentification: p.CreditorIdentification, BalanceAfterMinor: bal, PaymentID: p.ID,
	}}
	rev := &Reversal{PaymentID: p.ID, Reason: reason, CreditTransactionID: entries[0].ID, ReversedAt: now}
	if creditor != nil {
		cbal, cseq, err := adjustAccount(tx, creditor.ID, -p.AmountMinor, bookedAt)
		if err != nil {
			return nil, err
		}
		entries = append(entries, transactionRow{
			ID: ids.New("txn"), AccountID: creditor.ID, Seq: cseq, BookedAt: bookedAt, ValueAt: bookedAt,
			AmountMinor: p.AmountMinor, Currency: p.Currency, CreditDebit: Debit, Status: StatusBooked,
			Method: MethodReversal, Category: category, Description: description, Reference: p.Reference,
			CounterpartyName: debtor.HolderName, CounterpartyScheme: debtor.SchemeName,
			CounterpartyIdentification: debtor.Identification, BalanceAfterMinor: cbal, PaymentID: p.ID,
		})
		rev.DebitTransactionID = entries[1].ID
	}
	if err := tx.Create(&entries).Error; err != nil {
		return nil, err
	}
	return rev, nil
}
