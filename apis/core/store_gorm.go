package core

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Row types of the reference core's tables (migration 0030_core.sql;
// environment columns: 0032_core_environments.sql).

type customerRow struct {
	ID               string `gorm:"primaryKey"`
	Environment      environment.Environment
	Username         string
	PasswordHash     string
	DisplayName      string
	Email            string
	Status           string
	ConsentBehaviour string
	Synthetic        bool
	CreatedAt        time.Time
}

func (customerRow) TableName() string { return "core_customers" }

func (r *customerRow) toCustomer() *Customer {
	return &Customer{
		ID: r.ID, Environment: r.Environment, Username: r.Username, DisplayName: r.DisplayName, Email: r.Email, Status: r.Status,
		ConsentBehaviour: r.ConsentBehaviour, Synthetic: r.Synthetic, CreatedAt: r.CreatedAt.UTC(),
	}
}

type accountRow struct {
	ID               string `gorm:"primaryKey"`
	CustomerID       string
	Environment      environment.Environment // the customer's
	Type             string
	SubType          string
	Nickname         string
	HolderName       string
	Currency         string
	SchemeName       string
	Identification   string
	SortCode         string
	AccountNumber    string
	MaskedPAN        string `gorm:"column:masked_pan"`
	Status           string
	StatusUpdatedAt  time.Time
	OpenedAt         time.Time
	BalanceMinor     int64
	CreditLimitMinor int64
	TxnSeq           int64
	LastBookedAt     time.Time
	Synthetic        bool
}

func (accountRow) TableName() string { return "core_accounts" }

func (r *accountRow) toAccount() Account {
	return Account{
		ID: r.ID, CustomerID: r.CustomerID, Environment: r.Environment, Type: r.Type, SubType: r.SubType, Nickname: r.Nickname,
		HolderName: r.HolderName, Currency: r.Currency, SchemeName: r.SchemeName,
		Identification: r.Identification, SortCode: r.SortCode, AccountNumber: r.AccountNumber,
		MaskedPAN: r.MaskedPAN, Status: r.Status, StatusUpdated: r.StatusUpdatedAt.UTC(),
		OpenedAt: r.OpenedAt.UTC(), Balance: money.Money{Minor: r.BalanceMinor, Currency: r.Currency},
		CreditLimit: money.Money{Minor: r.CreditLimitMinor, Currency: r.Currency},
	}
}

type transactionRow struct {
	ID                         string `gorm:"primaryKey"`
	AccountID                  string
	Seq                        int64
	BookedAt                   time.Time
	ValueAt                    time.Time
	AmountMinor                int64
	Currency                   string
	CreditDebit                string
	Status                     string
	Method                     string
	Category                   string
	MerchantName               string
	MerchantCategoryCode       string
	Description                string
	Reference                  string
	CounterpartyName           string
	CounterpartyScheme         string
	CounterpartyIdentification string
	BalanceAfterMinor          int64
	PaymentID                  string
}

func (transactionRow) TableName() string { return "core_transactions" }

// transactionPageColumns are the columns a transaction page reads: all of
// transactionRow's but the account id, which the caller knows (no SELECT *
// on the hot read).
const transactionPageColumns = "id, seq, booked_at, value_at, amount_minor, currency, credit_debit, status, method, category, " +
	"merchant_name, merchant_category_code, description, reference, counterparty_name, counterparty_scheme, " +
	"counterparty_identification, balance_after_minor, payment_id"

// balanceOf reads what Balances needs of an account (its type, balance and
// credit limit) as one row scanned into place: the partner API's hottest
// read after the ledger head, kept free of the ORM's reflection.
// ErrNotFound when there is no such account.
func (r *Reference) balanceOf(ctx context.Context, accountID string) (Account, error) {
	a := Account{ID: accountID}
	err := r.db.DB.WithContext(ctx).Raw(`SELECT type, currency, balance_minor, credit_limit_minor FROM core_accounts WHERE id = ?`, accountID).
		Row().Scan(&a.Type, &a.Currency, &a.Balance.Minor, &a.CreditLimit.Minor)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, err
	}
	a.Balance.Currency, a.CreditLimit.Currency = a.Currency, a.Currency
	return a, nil
}

func (r *transactionRow) toTransaction() Transaction {
	return Transaction{
		ID: r.ID, AccountID: r.AccountID, BookedAt: r.BookedAt.UTC(), ValueAt: r.ValueAt.UTC(),
		Amount: money.Money{Minor: r.AmountMinor, Currency: r.Currency}, CreditDebit: r.CreditDebit, Status: r.Status,
		Method: r.Method, Category: r.Category, MerchantName: r.MerchantName,
		MerchantCategoryCode: r.MerchantCategoryCode, Description: r.Description, Reference: r.Reference,
		CounterpartyName: r.CounterpartyName, CounterpartyScheme: r.CounterpartyScheme,
		CounterpartyIdentification: r.CounterpartyIdentification,
		BalanceAfter:               money.Money{Minor: r.BalanceAfterMinor, Currency: r.Currency}, PaymentID: r.PaymentID,
	}
}

type paymentRow struct {
	ID                     string `gorm:"primaryKey"`
	Fingerprint            string
	DebtorAccountID        string
	CreditorScheme         string
	CreditorIdentification string
	CreditorName           string
	CreditorAccountID      string
	AmountMinor            int64
	Currency               string
	Reference              string
	Status                 string
	RejectReason           string
	DebitTransactionID     string
	CreditTransactionID    string
	BookedAt               *time.Time
	CreatedAt              time.Time
	// Set by ReversePayment (migration 0031_core_payment_reversals.sql).
	ReversedAt                  *time.Time
	ReversalReason              string
	ReversalCreditTransactionID string
	ReversalDebitTransactionID  string
}

func (paymentRow) TableName() string { return "core_payments" }

// toReversal describes the payment's recorded reversal (ReversedAt set).
func (r *paymentRow) toReversal(already bool) *Reversal {
	out := &Reversal{PaymentID: r.ID, Reason: r.ReversalReason, CreditTransactionID: r.ReversalCreditTransactionID,
		DebitTransactionID: r.ReversalDebitTransactionID, AlreadyReversed: already}
	if r.ReversedAt != nil {
		out.ReversedAt = r.ReversedAt.UTC()
	}
	return out
}

func (r *paymentRow) toResult() *PaymentResult {
	out := &PaymentResult{
		PaymentID: r.ID, Status: r.Status, RejectReason: r.RejectReason,
		DebitTransactionID: r.DebitTransactionID, CreditTransactionID: r.CreditTransactionID,
		CreatedAt: r.CreatedAt.UTC(),
	}
	if r.BookedAt != nil {
		out.BookedAt = r.BookedAt.UTC()
	}
	return out
}

// first loads one row by primary key, mapping a miss to ErrNotFound.
func first(ctx context.Context, g *gorm.DB, dst any, id string) error {
	err := g.WithContext(ctx).Where("id = ?", id).Take(dst).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// debitAccount takes amount off an enabled account if its balance plus credit
// line covers it, in one conditional UPDATE (so concurrent payments can never
// overdraw it), stamps the booking time and returns the new balance and posting
// sequence number. ok is false when no row qualified.
func debitAccount(tx *gorm.DB, accountID string, amount int64, bookedAt time.Time) (balance, seq int64, ok bool, err error) {
	return moveBalance(tx, `UPDATE core_accounts
		SET balance_minor = balance_minor - ?, txn_seq = txn_seq + 1, last_booked_at = ?
		WHERE id = ? AND status = 'enabled' AND balance_minor + credit_limit_minor >= ?
		RETURNING balance_minor, txn_seq`, amount, bookedAt, accountID, amount)
}

// creditAccount adds amount to an enabled account (see debitAccount).
func creditAccount(tx *gorm.DB, accountID string, amount int64, bookedAt time.Time) (balance, seq int64, ok bool, err error) {
	return moveBalance(tx, `UPDATE core_accounts
		SET balance_minor = balance_minor + ?, txn_seq = txn_seq + 1, last_booked_at = ?
		WHERE id = ? AND status = 'enabled'
		RETURNING balance_minor, txn_seq`, amount, bookedAt, accountID)
}

// adjustAccount adds delta (negative: takes it off) to an account whatever
// its status and credit line, for ReversePayment's compensating entries (a
// sandbox correction, not a payment), and returns the new balance and posting
// sequence number.
func adjustAccount(tx *gorm.DB, accountID string, delta int64, bookedAt time.Time) (balance, seq int64, err error) {
	balance, seq, ok, err := moveBalance(tx, `UPDATE core_accounts
		SET balance_minor = balance_minor + ?, txn_seq = txn_seq + 1, last_booked_at = ?
		WHERE id = ?
		RETURNING balance_minor, txn_seq`, delta, bookedAt, accountID)
	if err == nil && !ok {
		err = fmt.Errorf("core: adjust account %s: %w", accountID, ErrNotFound)
	}
	return balance, seq, err
}

func moveBalance(tx *gorm.DB, sql string, args ...any) (int64, int64, bool, error) {
	var out []struct {
		BalanceMinor int64
		TxnSeq       int64
	}
	if err := tx.Raw(sql, args...).Scan(&out).Error; err != nil {
		return 0, 0, false, err
	}
	if len(out) != 1 {
		return 0, 0, false, nil
	}
	return out[0].BalanceMinor, out[0].TxnSeq, true, nil
}

// forUpdate locks selected rows until the transaction ends (PostgreSQL only;
// SQLite transactions here hold the database write lock from BEGIN).
var forUpdate = clause.Locking{Strength: "UPDATE"}

// writeTx runs fn in a transaction that holds the database write lock from its
// first statement on SQLite. internal/db asks for BEGIN IMMEDIATE with
// _txlock=immediate, but glebarez/go-sqlite v1.21.2 ignores _txlock when
// _time_format is also given (applyQueryParams returns early), so transactions
// begin DEFERRED and a read-then-write transaction fails with SQLITE_BUSY_SNAPSHOT
// ("database is locked (517)") when another writer commits in between. A write
// as the first statement takes the lock up front (waiting under busy_timeout),
// so the reads that follow see the latest data. PostgreSQL needs nothing here.
func (r *Reference) writeTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return r.db.Tx(ctx, func(tx *gorm.DB) error {
		if r.db.Dialect == db.SQLite {
			if err := tx.Exec(`UPDATE core_accounts SET txn_seq = txn_seq WHERE id = ''`).Error; err != nil {
				return err
			}
		}
		return fn(tx)
	})
}
