-- contracts: metered usage, contracts and their versions, settlement runs and
-- statements, adjustments, and the append-only double-entry ledger.

-- One row per billable call or payment; key is the caller's unique key
-- (interaction id or idempotency key): inserts use ON CONFLICT (key) DO NOTHING.
CREATE TABLE usage_records (
    key TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    product TEXT NOT NULL,
    kind TEXT NOT NULL,
    billable BOOLEAN NOT NULL,
    status INTEGER NOT NULL,
    amount BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT '',
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX usage_records_partner_at ON usage_records (partner_id, at);

-- A contract's current state; its terms live in contract_versions. At most one
-- open (draft, pending or active) contract per partner.
CREATE TABLE contracts (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    status TEXT NOT NULL,
    active_version INTEGER NOT NULL DEFAULT 0,
    latest_version INTEGER NOT NULL,
    start_at TIMESTAMPTZ NOT NULL,
    end_at TIMESTAMPTZ NOT NULL,
    auto_renew BOOLEAN NOT NULL,
    notice_days INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    terminated_at TIMESTAMPTZ NULL
);
CREATE UNIQUE INDEX contracts_one_open ON contracts (partner_id) WHERE status IN ('draft', 'pending_approval', 'active');
CREATE INDEX contracts_partner ON contracts (partner_id, status);
CREATE INDEX contracts_status_end ON contracts (status, end_at);

-- terms is the Terms JSON (fee schedule, revenue share, data scopes, term).
CREATE TABLE contract_versions (
    contract_id TEXT NOT NULL REFERENCES contracts (id),
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    terms TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    submitted_by TEXT NOT NULL DEFAULT '',
    submitted_at TIMESTAMPTZ NULL,
    approved_by TEXT NOT NULL DEFAULT '',
    approved_at TIMESTAMPTZ NULL,
    rejection_reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (contract_id, version)
);

-- One renewal reminder per contract and term end.
CREATE TABLE contract_reminders (
    contract_id TEXT NOT NULL REFERENCES contracts (id),
    term_end TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (contract_id, term_end)
);

CREATE TABLE settlement_runs (
    id TEXT PRIMARY KEY,
    period TEXT NOT NULL UNIQUE,
    started_at TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ NULL
);

CREATE TABLE statements (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    period TEXT NOT NULL,
    run_id TEXT NOT NULL,
    contract_id TEXT NOT NULL,
    contract_version INTEGER NOT NULL,
    currency TEXT NOT NULL,
    call_fees BIGINT NOT NULL,
    payment_fees BIGINT NOT NULL,
    minimum_topup BIGINT NOT NULL,
    revenue_share BIGINT NOT NULL,
    adjustments BIGINT NOT NULL,
    net BIGINT NOT NULL,
    direction TEXT NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL,
    UNIQUE (partner_id, period)
);
CREATE INDEX statements_period ON statements (period);

CREATE TABLE statement_lines (
    statement_id TEXT NOT NULL REFERENCES statements (id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    product TEXT NOT NULL DEFAULT '',
    tier_from BIGINT NOT NULL DEFAULT 0,
    tier_to BIGINT NOT NULL DEFAULT 0,
    quantity BIGINT NOT NULL DEFAULT 0,
    unit_price_micros BIGINT NOT NULL DEFAULT 0,
    rate_bps BIGINT NOT NULL DEFAULT 0,
    base BIGINT NOT NULL DEFAULT 0,
    amount BIGINT NOT NULL,
    reference TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL,
    PRIMARY KEY (statement_id, seq)
);

-- Credit and debit notes; statement_id is set once, by the statement carrying it.
CREATE TABLE adjustments (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    period TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    reason TEXT NOT NULL,
    statement_id TEXT NULL,
    posting_id TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX adjustments_partner ON adjustments (partner_id, statement_id);

-- The ledger is append-only: no code updates or deletes these rows.
CREATE TABLE ledger_postings (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    reverses_posting_id TEXT NULL
);

CREATE TABLE ledger_entries (
    seq BIGSERIAL PRIMARY KEY,
    posting_id TEXT NOT NULL REFERENCES ledger_postings (id),
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL
);
CREATE INDEX ledger_entries_posting ON ledger_entries (posting_id);
CREATE INDEX ledger_entries_account ON ledger_entries (account, currency);
