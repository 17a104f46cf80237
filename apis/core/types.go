package core

import (
	"fmt"
	"regexp"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
)

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// Credit/debit indicators (Open Banking OBCreditDebitCode).
const (
	Credit = "Credit"
	Debit  = "Debit"
)

// Customer statuses.
const (
	CustomerActive = "active"
	CustomerLocked = "locked" // cannot log in
)

// ConsentBehaviourReject is the ConsentBehaviour of a persona whose consents
// are always rejected, whatever the tester clicks.
const ConsentBehaviourReject = "reject"

// Customer is a bank customer (a person who logs in at the bank).
type Customer struct {
	ID string // cus_…
	// Environment is where the customer lives, environment.Sandbox (synthetic
	// test customers) or environment.Production (the bank's real customers):
	// only apps of that environment may sign them in, read their accounts or
	// pay from them. Usernames are unique per environment.
	Environment environment.Environment
	Username    string
	DisplayName string
	// Email is where the platform mails the customer (payment
	// notifications); "" when the bank has none: nothing is mailed.
	Email  string
	Status string // CustomerActive or CustomerLocked
	// ConsentBehaviour is a sandbox persona's scripted behaviour on the consent
	// page: "" (the tester decides) or "reject" (the consent is always rejected).
	ConsentBehaviour string
	Synthetic        bool // a seeded sandbox persona (removed by ResetSandbox)
	CreatedAt        time.Time
}

// Account types (the bank's product family).
const (
	AccountCurrent    = "current"
	AccountSavings    = "savings"
	AccountCreditCard = "credit_card"
)

// Open Banking account sub-types (OBExternalAccountSubType1Code) of the types above.
const (
	SubTypeCurrentAccount = "CurrentAccount"
	SubTypeSavings        = "Savings"
	SubTypeCreditCard     = "CreditCard"
)

// Account statuses. Only enabled accounts can pay or be paid.
const (
	AccountEnabled = "enabled"
	AccountClosed  = "closed"
	AccountBlocked = "blocked"
)

// Account identification schemes (Open Banking OBExternalAccountIdentification4Code).
const (
	SchemeSortCodeAccountNumber = "UK.OBIE.SortCodeAccountNumber"
	SchemePAN                   = "UK.OBIE.PAN"
)

// Account is one account a customer holds.
type Account struct {
	ID          string // acc_…
	CustomerID  string
	Environment environment.Environment // the customer's: environment.Sandbox or environment.Production
	Type        string                  // AccountCurrent, AccountSavings, AccountCreditCard
	SubType     string                  // SubTypeCurrentAccount, SubTypeSavings, SubTypeCreditCard
	Nickname    string
	HolderName  string // the name on the account
	Currency    string
	// SchemeName and Identification identify the account to other banks:
	// UK.OBIE.SortCodeAccountNumber with 14 digits (sort code + account
	// number), or UK.OBIE.PAN with the masked card number for cards.
	SchemeName     string
	Identification string
	SortCode       string // 6 digits, "" for cards
	AccountNumber  string // 8 digits, "" for cards
	MaskedPAN      string // cards only, e.g. "4000 00•• •••• 1234"
	Status         string // AccountEnabled, AccountClosed, AccountBlocked
	StatusUpdated  time.Time
	OpenedAt       time.Time
	Balance        money.Money // booked balance; negative when overdrawn or owed on a card
	CreditLimit    money.Money // arranged overdraft or card limit (0 when none)
}

// Available is the amount the account can pay now: balance plus credit line.
func (a *Account) Available() money.Money {
	return money.Money{Minor: a.Balance.Minor + a.CreditLimit.Minor, Currency: a.Currency}
}

// Balance types served (Open Banking OBBalanceType1Code).
const (
	BalanceInterimBooked    = "InterimBooked"
	BalanceInterimAvailable = "InterimAvailable"
)

// Credit line types (Open Banking OBReadBalance1 CreditLine.Type).
const (
	CreditLineCredit    = "Credit"     // a card's credit limit
	CreditLinePreAgreed = "Pre-Agreed" // an arranged overdraft
)

// CreditLine describes a credit facility behind a balance.
type CreditLine struct {
	Included bool // whether Amount is included in the balance it is attached to
	Type     string
	Amount   money.Money
}

// Balance is one balance of an account at a moment.
type Balance struct {
	AccountID   string
	Type        string      // BalanceInterimBooked or BalanceInterimAvailable
	Amount      money.Money // signed: negative is a debit balance
	DateTime    time.Time
	CreditLines []CreditLine
}

// CreditDebit is the Open Banking indicator of the balance's sign.
func (b Balance) CreditDebit() string {
	if b.Amount.Minor < 0 {
		return Debit
	}
	return Credit
}

// Transaction statuses (Open Banking OBEntryStatus1Code). The reference core
// books everything immediately.
const (
	StatusBooked  = "Booked"
	StatusPending = "Pending"
)

// Transaction categories used by the reference core.
const (
	CategoryGroceries     = "groceries"
	CategoryTransport     = "transport"
	CategorySalary        = "salary"
	CategoryRent          = "rent"
	CategoryUtilities     = "utilities"
	CategoryEatingOut     = "eating_out"
	CategoryEntertainment = "entertainment"
	CategorySubscriptions = "subscriptions"
	CategoryTransfers     = "transfers"
	CategoryCash          = "cash"
	CategoryShopping      = "shopping"
	CategoryTravel        = "travel"
	CategoryHealth        = "health"
	CategoryRefund        = "refund"
	CategoryInterest      = "interest"
	CategoryPayments      = "payments" // payments executed through the API
)

// Transaction methods (how the money moved), for ProprietaryBankTransactionCode.
const (
	MethodCard           = "card_payment"
	MethodDirectDebit    = "direct_debit"
	MethodStandingOrder  = "standing_order"
	MethodFasterPayment  = "faster_payment"
	MethodBankCredit     = "bank_credit"
	MethodInterest       = "interest"
	MethodCashWithdrawal = "cash_withdrawal"
	MethodTransfer       = "internal_transfer"
	MethodRefund         = "card_refund"
	MethodReversal       = "payment_reversal" // SandboxReverser's compensating entries
)

// Transaction is one booked entry on an account.
type Transaction struct {
	ID          string // txn_…
	AccountID   string
	BookedAt    time.Time
	ValueAt     time.Time
	Amount      money.Money // always positive
	CreditDebit string      // Credit or Debit
	Status      string      // StatusBooked
	Method      string      // Method…
	Category    string      // Category…
	// MerchantName and MerchantCategoryCode (ISO 18245) are set for card
	// transactions.
	MerchantName         string
	MerchantCategoryCode string
	Description          string // TransactionInformation
	Reference            string // the payment reference, if any
	// The other party's account, when known (transfers, payments, salary).
	CounterpartyName           string
	CounterpartyScheme         string
	CounterpartyIdentification string
	// BalanceAfter is the account's booked balance right after this entry: the
	// newest entry's BalanceAfter equals the account's booked balance.
	BalanceAfter money.Money
	PaymentID    string // set for entries made by ExecutePayment (and by ReversePayment: the reversed payment's id)
}

// Signed returns the amount as it changes the balance (negative for a debit).
func (t Transaction) Signed() int64 {
	if t.CreditDebit == Debit {
		return -t.Amount.Minor
	}
	return t.Amount.Minor
}

// Transaction list limits.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// TransactionQuery selects and pages an account's transactions.
type TransactionQuery struct {
	From time.Time // inclusive lower bound on booking time; zero: unbounded
	To   time.Time // exclusive upper bound on booking time; zero: unbounded
	// CreditDebit filters on the indicator: "" (both), Credit or Debit.
	CreditDebit string
	Cursor      string // "" for the first page, else TransactionPage.NextCursor
	Limit       int    // page size; ≤0 means DefaultPageSize, capped at MaxPageSize
}

// Validate checks the query's own fields (not the cursor).
func (q TransactionQuery) Validate() error {
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return fmt.Errorf("%w: to must be after from", ErrInvalid)
	}
	switch q.CreditDebit {
	case "", Credit, Debit:
	default:
		return fmt.Errorf("%w: credit/debit filter must be Credit or Debit", ErrInvalid)
	}
	return nil
}

// TransactionPage is one page of transactions.
type TransactionPage struct {
	Transactions []Transaction
	NextCursor   string // "" when this is the last page
	// Version, when not empty, names the page's content: two pages with
	// the same Version hold the same transactions (a caller may reuse what
	// it made of one for the other). Empty: unknown.
	Version string
}

// Creditor is who a payment pays.
type Creditor struct {
	SchemeName     string // SchemeSortCodeAccountNumber
	Identification string // 14 digits: sort code + account number
	Name           string
}

// PaymentInstruction asks the core to pay.
type PaymentInstruction struct {
	// PaymentID is the caller's unique id for this payment and the idempotency
	// key: executing the same PaymentID again returns the first result.
	PaymentID       string
	DebtorAccountID string
	Creditor        Creditor
	Amount          money.Money // positive, in the debtor account's currency
	Reference       string      // shown on both sides' statements (≤ 35 characters)
}

// Validate checks the instruction's shape (not whether the bank accepts it).
func (p PaymentInstruction) Validate() error {
	switch {
	case p.PaymentID == "" || len(p.PaymentID) > 128:
		return fmt.Errorf("%w: payment id must be 1 to 128 characters", ErrInvalid)
	case p.DebtorAccountID == "":
		return fmt.Errorf("%w: debtor account id is required", ErrInvalid)
	case p.Amount.Minor <= 0:
		return fmt.Errorf("%w: amount must be positive", ErrInvalid)
	case !currencyCode.MatchString(p.Amount.Currency):
		return fmt.Errorf("%w: currency must be an ISO 4217 code", ErrInvalid)
	case len(p.Reference) > 35:
		return fmt.Errorf("%w: reference must be at most 35 characters", ErrInvalid)
	case p.Creditor.SchemeName == "" || p.Creditor.Identification == "":
		return fmt.Errorf("%w: creditor scheme name and identification are required", ErrInvalid)
	case len(p.Creditor.Name) > 140:
		return fmt.Errorf("%w: creditor name must be at most 140 characters", ErrInvalid)
	}
	return nil
}

// Payment statuses.
const (
	PaymentAccepted = "accepted"
	PaymentRejected = "rejected"
)

// Reasons a payment is rejected.
const (
	RejectInsufficientFunds   = "insufficient_funds"
	RejectAccountClosed       = "account_closed"
	RejectAccountBlocked      = "account_blocked"
	RejectCreditorInvalid     = "creditor_invalid"     // unsupported scheme, malformed or unknown account at this bank (an account of the other environment included), or the debtor itself
	RejectCreditorUnavailable = "creditor_unavailable" // the creditor is an account at this bank that is closed or blocked
	RejectCurrencyMismatch    = "currency_mismatch"
)

// PaymentResult is what became of a payment.
type PaymentResult struct {
	PaymentID    string
	Status       string // PaymentAccepted or PaymentRejected
	RejectReason string // Reject…, when rejected
	// DebitTransactionID is the debtor's entry; CreditTransactionID the
	// creditor's when the creditor holds an account at this bank.
	DebitTransactionID  string
	CreditTransactionID string
	BookedAt            time.Time // when accepted
	CreatedAt           time.Time
}

// Reversal records a payment undone by SandboxReverser.ReversePayment.
type Reversal struct {
	PaymentID string
	Reason    string
	// CreditTransactionID is the entry that gave the debtor account its money
	// back; DebitTransactionID the entry that took it from the creditor's
	// account at this bank ("" when the creditor banks elsewhere).
	CreditTransactionID string
	DebitTransactionID  string
	ReversedAt          time.Time
	// AlreadyReversed is set when the payment had been reversed before the
	// call: nothing moved and the fields describe the first reversal.
	AlreadyReversed bool
}

// Correction kinds (CorrectionInstruction.Kind).
const (
	CorrectionRefund   = "refund"
	CorrectionReversal = "reversal"
)

// MethodCorrection is the method of the entries Corrector.PostCorrection
// books.
const MethodCorrection = "payment_correction"

// CorrectionInstruction asks the core to refund or reverse a payment.
type CorrectionInstruction struct {
	// CorrectionID is the caller's unique id and the idempotency key.
	CorrectionID string
	PaymentID    string
	Kind         string      // CorrectionRefund or CorrectionReversal
	Amount       money.Money // positive, the payment's currency; a reversal's is the whole payment
	Reason       string      // 1 to 100 characters, shown on the statement
}

// Validate checks the instruction's shape.
func (c CorrectionInstruction) Validate() error {
	switch {
	case c.CorrectionID == "" || len(c.CorrectionID) > 128:
		return fmt.Errorf("%w: correction id must be 1 to 128 characters", ErrInvalid)
	case c.PaymentID == "":
		return fmt.Errorf("%w: payment id is required", ErrInvalid)
	case c.Kind != CorrectionRefund && c.Kind != CorrectionReversal:
		return fmt.Errorf("%w: correction kind must be %s or %s", ErrInvalid, CorrectionRefund, CorrectionReversal)
	case c.Amount.Minor <= 0:
		return fmt.Errorf("%w: amount must be positive", ErrInvalid)
	case !currencyCode.MatchString(c.Amount.Currency):
		return fmt.Errorf("%w: currency must be an ISO 4217 code", ErrInvalid)
	case c.Reason == "" || len([]rune(c.Reason)) > 100:
		return fmt.Errorf("%w: correction reason must be 1 to 100 characters", ErrInvalid)
	}
	return nil
}

// CorrectionResult is a posted correction.
type CorrectionResult struct {
	CorrectionID string
	PaymentID    string
	// CreditTransactionID is the debtor's entry; DebitTransactionID the
	// entry on DebitAccountID (the creditor's account at this bank, or the
	// suspense account when Suspense).
	CreditTransactionID string
	DebitAccountID      string
	DebitTransactionID  string
	Suspense            bool
	PostedAt            time.Time
	// Already: the correction had been posted before this call; nothing moved.
	Already bool
}
