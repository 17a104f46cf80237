-- apis/core: corrections (refunds and reversals) the reference core posted
-- through core.Corrector, one row per correction id (the idempotency key):
-- the compensating entries credit the original payment's debtor and debit
-- its creditor's account at this bank, or the bank's suspense account of
-- the environment and currency when the creditor banks elsewhere. The sum of
-- a payment's corrections never exceeds the payment (checked with the
-- payment row locked).
CREATE TABLE core_corrections (
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    credit_transaction_id TEXT NOT NULL,
    debit_account_id TEXT NOT NULL,
    debit_transaction_id TEXT NOT NULL,
    suspense BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX core_corrections_payment ON core_corrections (payment_id);
