// Package core is the port to the bank's core banking system, and the embedded
// reference core that serves the sandbox.
//
// # The port
//
// Core (core.go) is everything the platform asks of a bank's core: customers,
// accounts, balances, paged transactions, a funds check, and payment
// execution. The consented APIs, consent pages and portal only ever see this
// interface and the types in types.go, so a bank plugs its own adapter behind
// it and nothing above changes. Package coretest is the conformance suite an
// adapter must pass; the reference core passes it on SQLite and PostgreSQL.
//
// Choices the port makes:
//   - Money is money.Money{Minor, Currency} (internal/money); balances are signed (negative is
//     a debit balance: overdrawn, or owed on a card), transaction and payment
//     amounts positive with a Credit/Debit indicator (as Open Banking does).
//   - Balances are InterimBooked and InterimAvailable; available includes the
//     credit line (arranged overdraft "Pre-Agreed", card limit "Credit"),
//     described as a CreditLine with Included=true, as OBReadBalance1 expects.
//   - Transactions carry what OBTransaction6 needs: booking and value time,
//     status, TransactionInformation (Description), TransactionReference
//     (Reference), MerchantDetails (name, ISO 18245 MCC), the counterparty's
//     account, a method for ProprietaryBankTransactionCode, a category, and
//     the running balance after the entry (OBTransactionCashBalance).
//   - Lists are newest first in a stable order and paged with an opaque
//     cursor; a cursor is bound to the account and filters and MACed, so a
//     forged or replayed one is ErrBadCursor rather than a silent wrong page.
//   - A refused payment is a result (PaymentRejected + a reason code), not an
//     error; errors are for malformed calls and unknown ids. ExecutePayment is
//     idempotent by PaymentID: a retry returns the first result and moves no
//     money; the same id with a different instruction is ErrIdempotencyConflict.
//   - Every customer and account belongs to one environment (sandbox or
//     production, the environment.Sandbox / environment.Production names) and the
//     two never meet: no payment moves money between them (a creditor of the
//     other environment is RejectCreditorInvalid, like an unknown account).
//
// SandboxReverser (core.go) is an optional second port: ReversePayment books
// the compensating entries of a payment, once, so a partner can reset its own
// sandbox effects on the shared test customers. A real bank's core need not
// implement it; the platform then resets a partner's sandbox data without
// reversing payments and says so. coretest checks it when a core has it.
//
// # The reference core
//
// Reference stores the sandbox bank in the platform database (tables core_*,
// migration 0030) and also implements oauth.CustomerAuthenticator: it is the
// bank's identity store (bcrypt passwords via internal/secrets). Customers and
// accounts carry their environment (migration 0032); usernames are unique per
// environment and Authenticate looks a username up only in the signing-in
// app's environment.
//
//   - Money moves only in ExecutePayment, in one database transaction: lock the
//     accounts involved (PostgreSQL: SELECT … FOR UPDATE in id order, so
//     opposite transfers cannot deadlock; SQLite: the transaction takes the
//     write lock first, see writeTx), decide, then debit with the conditional
//     UPDATE … SET balance = balance - x WHERE status = 'enabled' AND
//     balance + credit_limit >= x, so no interleaving can overdraw an account.
//     A creditor identified by sort code + account number that is an account
//     of this bank is credited in the same transaction (internal transfer).
//   - Each account numbers its postings (txn_seq → transactions.seq) and
//     booking times never decrease along that sequence, so "booking time
//     descending" is "seq descending": the page order is total and stable and
//     the cursor is just the last seq. BalanceAfter chains from entry to entry
//     and the newest equals the account's balance, always (checked by the
//     suite after seeding, payments and concurrent payments).
//   - Everything is booked at once: no Pending entries, so InterimBooked is
//     the ledger balance.
//   - ExecutePayment reads the debtor's environment first and refuses a
//     creditor account of the other environment without locking it.
//   - ReversePayment reverses only payments between synthetic (seeded
//     persona) accounts, in one transaction like ExecutePayment, and records
//     it on the payment (reversed_at, migration 0031), so it happens once.
//
// # Sandbox data
//
// Seed creates the Personas, sandbox customers (documented usernames, password SandboxPassword,
// purpose; including ones that fail on purpose: locked login, insufficient
// funds, a closed account, a blocked account, a customer whose consents are
// rejected) with current, savings and card accounts and a year of generated
// history: salary, rent, bills by direct debit, groceries, commuting, meals
// out, subscriptions, cash, refunds, standing orders to savings, interest,
// card spending and monthly card repayments (both sides of every transfer
// between a customer's own accounts are booked). Generation is deterministic
// for a seed and an end time, ids included, so the sandbox is the same after
// every ResetSandbox; Seed is idempotent (existing personas are skipped).
// Second factors live outside the core: one persona (hana.totp) has an
// authenticator app whose secret, SandboxTOTPSecret, is derived from the
// seed and documented; Seed and ResetSandbox enrol it through
// Options.SandboxFactors (oauth/sca in cmd), keeping an app already active.
// The others (ivan.nofactor on purpose) have no second factor.
// CreateCustomer adds a customer of either environment for `bankbridge
// customers create --env sandbox|production` with a current account and
// ninety days of history.
package core
