// Package contracts is the commercial side of Bankbridge: metered usage, contracts
// with fee schedules and revenue-share terms, the double-entry ledger, monthly
// settlement into statements, adjustments (credit and debit notes) and
// reconciliation. It serves no HTML; pages call the exported Service methods.
//
// # Contracts and roles
//
// A contract (ctr_…) moves draft → pending_approval → active → expired |
// terminated. Its terms (term, renewal, notice, currency, fee schedule, revenue
// share, data-sharing scope) live in numbered versions: editing an active
// contract creates a draft version n+1 that replaces the active one when approved.
// Approval is maker-checker: the approver must be neither the version's
// submitter nor anyone who wrote its terms (its creator and every editor, kept in
// Version.Editors), so a version rejected and rewritten by the checker needs a
// third person. Roles are staff roles, authorised through staff.Can (the one
// staff permission table, partners/staff): finance and admin draft, edit,
// submit, approve, reject, terminate, issue adjustments, approve credit notes,
// reverse postings and run settlements; partner_manager drafts and submits;
// risk_officer and auditor only read; the platform (staff.RoleSystem) reads
// and runs settlements; any other role is refused (CodeForbidden). Every
// state change is audited (internal/audit) in the transaction that makes it.
//
// # Clauses and the signed agreement
//
// A version's terms also hold the clauses (clauses.go): confidentiality,
// service levels with their credit schedule, liability and risk sharing, and
// dispute resolution; zero values are "not agreed", which is what terms stored
// before them decode to. When the terms in force have service levels,
// settlement asks the ServiceLevelSource (monitoring, wired in cmd/bankbridge)
// for the partner's production figures of the month before the partner's
// transaction, stores them with the statement (statement_service_levels) and
// adds a service_credit line (ServiceCredit; debit bank_service_credits,
// credit the partner's receivable); reconciliation recomputes the line from
// the stored figures. Each version carries its own signed agreement, a PDF
// stored with its SHA-256 (agreement.go); with Options.RequireSignedAgreement
// (the platform's setting) a version without one is not approved.
//
// # Metering
//
// Every billable call and every payment is one row of usage_records, keyed by a
// caller-chosen unique Key (interaction id or idempotency key). RecordUsage is one
// INSERT … ON CONFLICT (key) DO NOTHING, so a replayed key is a silent no-op and is
// billed once. Refused calls are recorded with Billable=false and never billed.
// Only production usage is billed; sandbox usage is recorded and reported.
//
// # Money and rounding
//
// Money is money.Money (internal/money): int64 minor units plus an ISO 4217
// currency; rates are basis points.
// Per-call prices are given in micro-minor units (millionths of a minor unit) per
// call, so 0.25 cent per call is UnitPriceMicros 250000 in EUR. Every statement
// line is computed exactly (math/big) and rounded once, half-even on minor units
// (banker's rounding: 0.5 → 0, 1.5 → 2, 2.5 → 2, -0.5 → 0, -1.5 → -2):
//
//   - call fee line (one per product and tier): calls in tier × UnitPriceMicros / 1e6
//   - payment fixed fee line: payments × FixedMinor (exact)
//   - payment value fee line: sum(payment values) × BPS / 10000
//   - revenue share line: payment revenue (the two payment fee lines) × rate / 10000,
//     where the rate is the one of the tier the month's payment value falls in
//     (a volume tier applies to the whole volume, it is not graduated)
//   - minimum-commitment top-up: MonthlyMinimum − (call fees + payment fees) when
//     positive (revenue share and adjustments do not count toward the minimum)
//
// Call tiers are graduated: tier [From, To) prices the calls numbered From+1 … To
// of the month (To 0 = unbounded, last tier only), so with tiers [0,1000) and
// [1000,∞) the 1000th call is priced by the first tier and the 1001st by the second.
// Payments in a currency other than the contract's are not billed (Reconcile lists
// them).
//
// # Ledger
//
// The ledger (ledger_postings, ledger_entries) is append-only and double-entry:
// amounts are signed minor units, debit positive, credit negative, and every posting
// sums to zero per currency. Each posting has a unique idempotency key; posting the
// same key again returns the existing posting. A correction is a reversing posting
// (Ledger.Reverse). No code path in this package updates or deletes a ledger row,
// and the database refuses to (triggers on ledger_postings and ledger_entries,
// migration 0061, on both engines).
// Accounts:
//
//	partner_receivable:<ptn>   what the partner owes the bank
//	partner_payable:<ptn>      what the bank owes the partner
//	bank_api_revenue           per-call fees and minimum-commitment top-ups
//	bank_payment_revenue       payment fees
//	revenue_share_expense      the partner's share of payment revenue
//	bank_adjustments           credit notes (debit) and debit notes (credit)
//	bank_service_credits       service credits given for missed service levels
//
// # Settlement
//
// Settle turns a calendar month (UTC) of production usage into one Statement per
// partner whose contract covers the month, using the contract version in effect at
// the end of the month (a contract covering part of the month is billed the whole
// month's usage and the full minimum: there is no proration). Usage is summed in
// SQL, one GROUP BY over the month for every partner at once (one pass over the
// table), never record by record in Go; reconciliation sums it the same way. Each statement is written, with its lines, its ledger
// posting (idempotency key "statement:<stm id>") and its statement.issued event, in
// one transaction; (partner_id, period) is unique, so running a settled period
// again changes nothing. Adjustments issued for a period that is already settled
// appear on the partner's next statement. A credit note above the currency's
// limit (Options.CreditNoteLimits, default DefaultCreditNoteLimit major units)
// waits in pending_approval, unposted and unbilled, until a second member of
// staff (finance or admin, not its maker) approves it (ApproveAdjustment) or
// rejects it (RejectAdjustment). The statement's net amount is positive
// when the partner owes the bank (receivable) and negative when the bank owes the
// partner (payable); the posting nets receivable against payable so only the net
// remains on one side.
package contracts
