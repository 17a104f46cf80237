-- corrections: refunds (partial or full) and reversals (the whole amount,
-- once) of accepted payments (issue 17 item 2), raised by the partner or by
-- staff, approved or rejected by a second staff member (maker-checker),
-- then posted in the core and the ledger.
-- status: pending_approval → rejected | approved → posted | failed. approved
-- means the decision is recorded and the core posting is under way (or must
-- be retried: the core is idempotent per correction id); failed, that the
-- core refused it for good (failure_reason says why).
CREATE TABLE corrections (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    client_id TEXT NOT NULL DEFAULT '',
    environment TEXT NOT NULL,
    customer_id TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('refund', 'reversal')),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    reason TEXT NOT NULL,
    complaint_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('pending_approval', 'approved', 'posted', 'rejected', 'failed')),
    raised_by_type TEXT NOT NULL,
    raised_by TEXT NOT NULL,
    decided_by TEXT NOT NULL DEFAULT '',
    decision_note TEXT NOT NULL DEFAULT '',
    decided_at TIMESTAMPTZ,
    core_credit_transaction_id TEXT NOT NULL DEFAULT '',
    core_debit_transaction_id TEXT NOT NULL DEFAULT '',
    posted_at TIMESTAMPTZ,
    failure_reason TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX corrections_payment ON corrections (payment_id, created_at);
CREATE INDEX corrections_status ON corrections (status, created_at);

-- One row per corrected payment: what its corrections (pending, approved or
-- posted) hold of the original amount. A refund or reversal reserves its
-- amount with one conditional UPDATE (reserved_minor + amount ≤
-- original_minor), so concurrent requests can never exceed the payment; a
-- rejection gives it back.
CREATE TABLE correction_totals (
    payment_id TEXT PRIMARY KEY,
    original_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    reserved_minor BIGINT NOT NULL DEFAULT 0,
    reversed BOOLEAN NOT NULL DEFAULT FALSE
);
