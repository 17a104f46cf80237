-- apis/core: the reference core records a payment's sandbox reversal
-- (core.SandboxReverser: a partner resetting its sandbox data), so a payment is
-- reversed at most once and the compensating entries can be found again.
ALTER TABLE core_payments ADD COLUMN reversed_at TIMESTAMPTZ;
ALTER TABLE core_payments ADD COLUMN reversal_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE core_payments ADD COLUMN reversal_credit_transaction_id TEXT NOT NULL DEFAULT '';
ALTER TABLE core_payments ADD COLUMN reversal_debit_transaction_id TEXT NOT NULL DEFAULT '';
