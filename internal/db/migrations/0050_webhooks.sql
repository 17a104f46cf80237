-- Webhooks: endpoints (per app), the transactional outbox (events + one delivery
-- row per endpoint), the delivery log (one row per attempt), and partner notices
-- with their e-mail outbox.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    event_types TEXT NOT NULL DEFAULT '[]',
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT NOT NULL DEFAULT '',
    signing TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    public_key TEXT NOT NULL DEFAULT '',
    prev_secret_sealed TEXT NOT NULL DEFAULT '',
    prev_public_key TEXT NOT NULL DEFAULT '',
    prev_valid_until TIMESTAMPTZ,
    failing_since TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (partner_id, app_id);

CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    app_id TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_events_partner ON webhook_events (partner_id, created_at);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_by TEXT NOT NULL DEFAULT '',
    lease_until TIMESTAMPTZ,
    last_status_code INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, status);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id BIGSERIAL PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    latency_ms BIGINT NOT NULL DEFAULT 0,
    response_excerpt TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    next_retry_at TIMESTAMPTZ,
    dispatcher TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, at);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

CREATE TABLE notices (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    app_id TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    object_id TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    read_at TIMESTAMPTZ
);
CREATE INDEX notices_partner ON notices (partner_id, created_at);

-- NOTE FROM THE LEAD: email_outbox is now shared platform plumbing, defined in 0001_platform.sql.
-- Write mail with internal/mail.Enqueue(ctx, tx, mail.Message{PartnerID, Recipient, Template, Subject, Body}).
