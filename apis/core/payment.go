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
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
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

// ExecutePayment implements Core. In one database transaction it locks the
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

	// Who is paid: an account at this bank (internal transfer) or elsewhere.
	var creditorID string
	validCreditor := in.Creditor.SchemeName == SchemeSortCodeAccountNumber &&
		sortCodeAccountNumber.MatchString(in.Creditor.Identification)
	if validCreditor {
		var found []string
		if err := tx.Model(&accountRow{}).Where("scheme_name = ? AND identification = ?",
			in.Creditor.SchemeName, in.Creditor.Identification).Pluck("id", &found).Error; err != nil {
			return nil, err
		}
		if len(found) == 1 {
			creditorID = found[0]
		}
	}

	// Lock what moves, in id order.
	lockIDs := []string{in.DebtorAccountID}
	if creditorID != "" && creditorID != in.DebtorAccountID {
		lockIDs = append(lockIDs, creditorID)
	}
	sort.Strings(lockIDs)
	var rows []accountRow
	q := tx.Where("id IN ?", lockIDs).Order("id")
	if r.db.Dialect == db.Postgres {
		q = q.Clauses(forUpdate)
	}
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	var debtor, creditor *accountRow
	for i := range rows {
		if rows[i].ID == in.DebtorAccountID {
			debtor = &rows[i]
		}
		if rows[i].ID == creditorID {
			creditor = &rows[i]
		}
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
