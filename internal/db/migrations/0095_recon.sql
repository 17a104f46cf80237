-- recon: partner payment reconciliation (issue 17 item 1). One row per
-- partner, environment and UTC day that has a partner record or breaks:
-- the partner's uploaded record (JSON list of {line, payment_id, amount,
-- status}; replaced by each upload until finance closes the day).
CREATE TABLE recon_days (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    day TEXT NOT NULL,
    record TEXT NOT NULL DEFAULT '[]',
    record_lines INTEGER NOT NULL DEFAULT 0,
    uploads INTEGER NOT NULL DEFAULT 0,
    uploaded_by TEXT NOT NULL DEFAULT '',
    uploaded_at TIMESTAMPTZ,
    matched_at TIMESTAMPTZ,
    closed_by TEXT NOT NULL DEFAULT '',
    closed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX recon_days_key ON recon_days (partner_id, environment, day);

-- The breaks of a day: one per payment and kind (the unique index keeps a
-- recomputation idempotent). status open | resolved; resolution is the code
-- (matched: the break disappeared on recomputation). version guards the
-- staff workflow's conditional updates.
CREATE TABLE recon_breaks (
    id TEXT PRIMARY KEY,
    day_id TEXT NOT NULL REFERENCES recon_days (id),
    partner_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    day TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    bank_value TEXT NOT NULL DEFAULT '',
    partner_value TEXT NOT NULL DEFAULT '',
    core_value TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    resolution TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    assignee TEXT NOT NULL DEFAULT '',
    resolved_by TEXT NOT NULL DEFAULT '',
    resolved_at TIMESTAMPTZ,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX recon_breaks_key ON recon_breaks (partner_id, environment, day, payment_id, kind);
CREATE INDEX recon_breaks_status ON recon_breaks (status, day);
CREATE INDEX recon_breaks_day ON recon_breaks (day_id);
