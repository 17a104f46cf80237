-- partners: organisations and their lifecycle, applications and due diligence,
-- portal users, memberships and invitations, apps (= OAuth clients) and the
-- RFC 7591/7592 registration tokens, staff accounts, maker-checker approvals,
-- certification runs and the dev email outbox. Tokens are stored as SHA-256
-- hashes; TOTP secrets are sealed with internal/secrets Box.

CREATE TABLE partners (
    id TEXT PRIMARY KEY,
    legal_name TEXT NOT NULL,
    trading_name TEXT NOT NULL DEFAULT '',
    company_number TEXT NOT NULL DEFAULT '',
    country TEXT NOT NULL DEFAULT '',
    licence_number TEXT NOT NULL DEFAULT '',
    website TEXT NOT NULL DEFAULT '',
    intended_use TEXT NOT NULL DEFAULT '',
    expected_monthly_api_calls BIGINT NOT NULL DEFAULT 0,
    expected_monthly_payments BIGINT NOT NULL DEFAULT 0,
    expected_monthly_payment_value BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL DEFAULT '',
    suspended_from TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX partners_status ON partners (status);

CREATE TABLE partner_applications (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    submitted_by TEXT NOT NULL,
    legal_name TEXT NOT NULL,
    trading_name TEXT NOT NULL DEFAULT '',
    company_number TEXT NOT NULL,
    country TEXT NOT NULL,
    licence_number TEXT NOT NULL DEFAULT '',
    website TEXT NOT NULL,
    intended_use TEXT NOT NULL,
    expected_monthly_api_calls BIGINT NOT NULL DEFAULT 0,
    expected_monthly_payments BIGINT NOT NULL DEFAULT 0,
    expected_monthly_payment_value BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT '',
    contact_name TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    submitted_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX partner_applications_partner ON partner_applications (partner_id, submitted_at);

CREATE TABLE due_diligence (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    application_id TEXT NOT NULL REFERENCES partner_applications (id),
    industry_standing INTEGER NOT NULL,
    industry_standing_notes TEXT NOT NULL DEFAULT '',
    business_capability INTEGER NOT NULL,
    business_capability_notes TEXT NOT NULL DEFAULT '',
    resource_integration INTEGER NOT NULL,
    resource_integration_notes TEXT NOT NULL DEFAULT '',
    willingness_to_cooperate INTEGER NOT NULL,
    willingness_to_cooperate_notes TEXT NOT NULL DEFAULT '',
    licence_verified BOOLEAN NOT NULL,
    aml_result TEXT NOT NULL,
    compliance_notes TEXT NOT NULL DEFAULT '',
    reviewer_id TEXT NOT NULL,
    decision TEXT NOT NULL DEFAULT '',
    reasons TEXT NOT NULL DEFAULT '',
    decided_by TEXT NOT NULL DEFAULT '',
    decided_at TIMESTAMPTZ NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX due_diligence_application ON due_diligence (application_id);
CREATE INDEX due_diligence_partner ON due_diligence (partner_id);

CREATE TABLE portal_users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    email_verified_at TIMESTAMPTZ NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX portal_users_email ON portal_users (email);

CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES portal_users (id),
    purpose TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE memberships (
    partner_id TEXT NOT NULL REFERENCES partners (id),
    user_id TEXT NOT NULL REFERENCES portal_users (id),
    role TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (partner_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    invited_by TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX invitations_token ON invitations (token_hash);
CREATE INDEX invitations_partner ON invitations (partner_id, email);

-- NOTE FROM THE LEAD: email_outbox is now shared platform plumbing, defined in 0001_platform.sql.
-- Write mail with internal/mail.Enqueue(ctx, tx, mail.Message{PartnerID, Recipient, Template, Subject, Body}).

CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    name TEXT NOT NULL,
    environment TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    scopes TEXT NOT NULL,
    jwks TEXT NOT NULL DEFAULT '',
    jwks_uri TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX apps_partner ON apps (partner_id, created_at);

CREATE TABLE initial_access_tokens (
    token_hash TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    environment TEXT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ NULL,
    used_for TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX initial_access_tokens_partner ON initial_access_tokens (partner_id);

CREATE TABLE registration_access_tokens (
    app_id TEXT PRIMARY KEY REFERENCES apps (id),
    token_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX registration_access_tokens_hash ON registration_access_tokens (token_hash);

CREATE TABLE staff_users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    totp_secret_sealed TEXT NOT NULL,
    last_totp_step BIGINT NOT NULL DEFAULT 0,
    must_change_password BOOLEAN NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX staff_users_email ON staff_users (email);

CREATE TABLE approval_requests (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    request_reason TEXT NOT NULL DEFAULT '',
    decided_by TEXT NOT NULL DEFAULT '',
    decided_at TIMESTAMPTZ NULL,
    status TEXT NOT NULL,
    reasons TEXT NOT NULL DEFAULT ''
);
CREATE INDEX approval_requests_partner ON approval_requests (partner_id, kind, status);
CREATE UNIQUE INDEX approval_requests_one_pending ON approval_requests (partner_id, kind) WHERE status = 'pending';
CREATE INDEX approval_requests_status ON approval_requests (status, requested_at);

CREATE TABLE certification_runs (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    app_id TEXT NOT NULL REFERENCES apps (id),
    run_by TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    result TEXT NOT NULL,
    checks TEXT NOT NULL
);
CREATE INDEX certification_runs_partner ON certification_runs (partner_id, started_at);
