-- apis: the consented resource APIs' own state (consents, payments initiated
-- through the platform, idempotency keys, the partner-visible request log).

CREATE TABLE api_consents (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    status TEXT NOT NULL,
    customer_id TEXT NOT NULL DEFAULT '',
    account_ids TEXT NOT NULL DEFAULT '[]',
    permissions TEXT NOT NULL DEFAULT '[]',
    datasets TEXT NOT NULL DEFAULT '[]',
    expires_at TIMESTAMPTZ,
    transaction_from TIMESTAMPTZ,
    transaction_to TIMESTAMPTZ,
    initiation TEXT NOT NULL DEFAULT '',
    risk TEXT NOT NULL DEFAULT '{}',
    amount_minor BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    status_updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX api_consents_partner ON api_consents (partner_id, created_at);
CREATE INDEX api_consents_customer ON api_consents (customer_id, created_at);

CREATE TABLE api_payments (
    id TEXT PRIMARY KEY,
    consent_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    debtor_account_id TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    initiation TEXT NOT NULL,
    status TEXT NOT NULL,
    reject_reason TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    status_updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX api_payments_consent ON api_payments (consent_id);
CREATE INDEX api_payments_partner ON api_payments (partner_id, environment, created_at);
CREATE INDEX api_payments_debtor ON api_payments (debtor_account_id, created_at);

CREATE TABLE idempotency_keys (
    partner_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    response_status INTEGER NOT NULL DEFAULT 0,
    response_type TEXT NOT NULL DEFAULT '',
    response_body BYTEA,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (partner_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE request_log (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    client_id TEXT NOT NULL DEFAULT '',
    partner_id TEXT NOT NULL DEFAULT '',
    environment TEXT NOT NULL DEFAULT '',
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    latency_us BIGINT NOT NULL,
    interaction_id TEXT NOT NULL DEFAULT '',
    problem_type TEXT NOT NULL DEFAULT ''
);
CREATE INDEX request_log_partner ON request_log (partner_id, client_id, at);
