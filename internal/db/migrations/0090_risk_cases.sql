-- risk: the risk officers' case queue (issue 16 item 4). One case per held
-- payment, opened in the payment's transaction; a snapshot of what the
-- officer needs (amount, customer, partner, payee, score, reasons, screening
-- matches). status: open → (proposed →) released | rejected; a case at or
-- above the dual-control amount is proposed by one officer and approved by
-- another.
CREATE TABLE risk_cases (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    creditor_name TEXT NOT NULL DEFAULT '',
    creditor_account TEXT NOT NULL DEFAULT '',
    score INTEGER NOT NULL,
    reasons TEXT NOT NULL DEFAULT '[]',
    matches TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    proposed_decision TEXT NOT NULL DEFAULT '',
    proposed_by TEXT NOT NULL DEFAULT '',
    proposed_note TEXT NOT NULL DEFAULT '',
    proposed_at TIMESTAMPTZ,
    decided_by TEXT NOT NULL DEFAULT '',
    decision_note TEXT NOT NULL DEFAULT '',
    decided_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX risk_cases_payment ON risk_cases (payment_id);
CREATE INDEX risk_cases_status ON risk_cases (status, created_at);
