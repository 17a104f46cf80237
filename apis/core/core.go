package core

import (
	"context"
	"errors"

	"github.com/bankbridge/bankbridge/internal/money"
)

// Domain errors returned by every Core implementation. Callers match them with
// errors.Is; implementations may wrap them with more detail.
var (
	// ErrNotFound: the customer, account or payment does not exist.
	ErrNotFound = errors.New("core: not found")
	// ErrBadCursor: a transaction page cursor was not issued by this core for
	// this account and query (garbage, tampered with, or reused with other filters).
	ErrBadCursor = errors.New("core: invalid page cursor")
	// ErrInvalid: an argument is malformed (empty payment id, non-positive
	// amount, bad username…). The wrapped message says which.
	ErrInvalid = errors.New("core: invalid argument")
	// ErrCurrencyMismatch: an amount's currency differs from the account's.
	ErrCurrencyMismatch = errors.New("core: currency does not match the account")
	// ErrIdempotencyConflict: a payment id was reused with a different instruction.
	ErrIdempotencyConflict = errors.New("core: payment id reused with a different instruction")
	// ErrUsernameTaken: CreateCustomer was given a username that already exists.
	ErrUsernameTaken = errors.New("core: username already taken")
	// ErrNotReversible: ReversePayment was asked to reverse a payment it may
	// not (a rejected payment moved no money; an account involved is not a
	// synthetic sandbox account). The wrapped message says why.
	ErrNotReversible = errors.New("core: payment cannot be reversed")
)

// Core is the port to the bank's core banking system. Everything above it (the
// consented APIs, the consent pages, the sandbox portal) talks to the bank only
// through this interface; the reference core in this package implements it for
// the sandbox, and a bank plugs its own adapter behind it in production. The
// conformance suite in package coretest states the behaviour precisely.
//
// Sandbox and production never meet. Every customer belongs to exactly one
// environment (Customer.Environment: environment.Sandbox or environment.Production)
// and every account to its customer's (Account.Environment). The platform
// only lets an app reach customers of its own environment; the core enforces
// the money side itself: ExecutePayment never moves money between a sandbox
// and a production account. A creditor identification that names an account
// of the other environment is, to the debtor's environment, no account of
// this bank at all: the payment is a result with Status PaymentRejected and
// RejectReason RejectCreditorInvalid (exactly what an unknown account number
// at this bank gets, so a sandbox caller learns nothing about which production
// accounts exist), nothing is debited or credited, and the other
// environment's account is not touched. A real bank keeps its sandbox in a
// separate system, where that is simply what an unknown account gets.
type Core interface {
	// Customer returns one customer (with its Environment), or ErrNotFound.
	Customer(ctx context.Context, customerID string) (*Customer, error)
	// Accounts lists every account the customer holds, closed and blocked ones
	// included (with their Status), oldest first; ErrNotFound for an unknown
	// customer.
	Accounts(ctx context.Context, customerID string) ([]Account, error)
	// Account returns one account, or ErrNotFound.
	Account(ctx context.Context, accountID string) (*Account, error)
	// Balances returns the account's current balances: BalanceInterimBooked and
	// BalanceInterimAvailable (the latter including any credit line, described in
	// CreditLines). ErrNotFound for an unknown account.
	Balances(ctx context.Context, accountID string) ([]Balance, error)
	// Transactions returns one page of the account's transactions, newest first
	// (booking time descending, then posting order descending: a stable order),
	// with the opaque cursor of the next page ("" on the last page). Errors:
	// ErrNotFound (account), ErrBadCursor (cursor not issued for this account and
	// query), ErrInvalid (To not after From).
	Transactions(ctx context.Context, accountID string, q TransactionQuery) (*TransactionPage, error)
	// CheckFunds reports whether the account could pay amount now (available
	// balance including credit line ≥ amount, account enabled). Errors:
	// ErrNotFound, ErrInvalid (non-positive amount), ErrCurrencyMismatch.
	CheckFunds(ctx context.Context, accountID string, amount money.Money) (bool, error)
	// ExecutePayment moves money out of the debtor account, atomically and at
	// most once per PaymentID: calling again with the same instruction returns the
	// first result without moving money again. A payment the bank refuses is a
	// result with Status PaymentRejected and a RejectReason, never an error;
	// a creditor account of the other environment than the debtor's is
	// RejectCreditorInvalid (see above).
	// Errors: ErrInvalid (malformed instruction), ErrNotFound (debtor account),
	// ErrIdempotencyConflict (same PaymentID, different instruction).
	ExecutePayment(ctx context.Context, in PaymentInstruction) (*PaymentResult, error)
	// Payment returns the stored result of an executed payment, or ErrNotFound.
	Payment(ctx context.Context, paymentID string) (*PaymentResult, error)
}

// SandboxReverser is an optional port a Core may also implement: it undoes a
// payment in the sandbox, so a partner can reset its sandbox data without
// disturbing the test customers that every partner shares. Callers find it
// with a type assertion (core.(SandboxReverser)); a real bank's core need not
// implement it, and the platform then resets a partner's sandbox data without
// reversing payments (and says so).
type SandboxReverser interface {
	// ReversePayment books the compensating entries of an accepted payment:
	// a credit of the amount back to the debtor account ("Reversal of payment
	// <id>: <reason>") and, when the creditor holds an account at this bank,
	// the matching debit of that account, so balances and transaction lists
	// keep agreeing. It is atomic and happens at most once per payment:
	// reversing a reversed payment returns the first Reversal with
	// AlreadyReversed set and moves no money. Only payments between synthetic
	// sandbox accounts may be reversed. Errors: ErrInvalid (empty payment id,
	// reason empty or longer than 100 characters), ErrNotFound (no such
	// payment), ErrNotReversible (a rejected payment, or a debtor or internal
	// creditor account that is not synthetic).
	ReversePayment(ctx context.Context, paymentID, reason string) (*Reversal, error)
}

// Corrector is the port through which the platform posts a correction (a
// refund or a reversal) of an accepted payment in the core, for every
// account (sandbox and production); the reference core implements it.
// Callers find it with a type assertion (core.(Corrector)) or are wired with
// it.
type Corrector interface {
	// PostCorrection books the correction at most once per CorrectionID (the
	// idempotency key): a credit of the amount to the original payment's
	// debtor account ("Refund of payment <id>: <reason>", or "Reversal of
	// …") and the matching debit of the creditor's account at this bank, or
	// of the bank's suspense account when the creditor banks elsewhere, both
	// with the original payment's reference. Calling again with the same
	// instruction returns the first result (Already set) and moves nothing.
	// The corrections of a payment never sum to more than it; a reversal is
	// the whole amount. Errors: ErrInvalid (malformed instruction),
	// ErrNotFound (no such payment), ErrNotReversible (a rejected or
	// sandbox-reversed payment, or the payment's remaining amount is less
	// than the correction), ErrIdempotencyConflict (the same CorrectionID
	// with a different instruction), ErrCurrencyMismatch.
	PostCorrection(ctx context.Context, in CorrectionInstruction) (*CorrectionResult, error)
}
