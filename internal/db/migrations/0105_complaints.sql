-- complaints: customers' complaints about payments made through partners
-- (issue 17 item 3). One row per complaint with a snapshot of the payment;
-- open_payment_id is the payment id while the complaint is open and NULL
-- once resolved, so a payment has at most one open complaint (a unique
-- index allows many NULLs on both engines). status: open → resolved with
-- outcome rejected (reasons) or refund (the correction's id and amount).
CREATE TABLE complaints (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    open_payment_id TEXT,
    consent_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    payee TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    due_at TIMESTAMPTZ NOT NULL,
    partner_due_at TIMESTAMPTZ NOT NULL,
    assigned_to TEXT NOT NULL DEFAULT '',
    partner_answer TEXT NOT NULL DEFAULT '',
    partner_agrees_refund BOOLEAN NOT NULL DEFAULT FALSE,
    partner_answered_by TEXT NOT NULL DEFAULT '',
    partner_answered_at TIMESTAMPTZ,
    outcome TEXT NOT NULL DEFAULT '',
    reasons TEXT NOT NULL DEFAULT '',
    decided_by TEXT NOT NULL DEFAULT '',
    correction_id TEXT NOT NULL DEFAULT '',
    refund_minor BIGINT NOT NULL DEFAULT 0,
    resolved_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX complaints_open_payment ON complaints (open_payment_id);
CREATE INDEX complaints_partner ON complaints (partner_id, received_at);
CREATE INDEX complaints_customer ON complaints (customer_id, received_at);
CREATE INDEX complaints_status ON complaints (status, due_at);

-- Staff's notes on a complaint (inside the bank; never shown to the
-- partner or the customer), oldest first.
CREATE TABLE complaint_notes (
    id BIGSERIAL PRIMARY KEY,
    complaint_id TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX complaint_notes_complaint ON complaint_notes (complaint_id, id);
