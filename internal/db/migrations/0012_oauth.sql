-- OAuth authorization server storage (package oauth): fosite's token sessions
-- keyed by token signature (never the token itself), consent links for
-- revocation by consent, used client-assertion ids, the in-flight
-- login/consent interactions and login throttling.

CREATE TABLE oauth_tokens (
    signature TEXT NOT NULL,
    kind TEXT NOT NULL,
    request_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    jkt TEXT NOT NULL DEFAULT '',
    scopes TEXT NOT NULL DEFAULT '',
    authorization_details TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT TRUE,
    requested_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    rotated_at TIMESTAMPTZ,
    access_signature TEXT NOT NULL DEFAULT '',
    request TEXT NOT NULL,
    PRIMARY KEY (signature, kind)
);
CREATE INDEX oauth_tokens_request ON oauth_tokens (request_id);
CREATE INDEX oauth_tokens_client ON oauth_tokens (client_id, kind);
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at);

CREATE TABLE oauth_token_consents (
    consent_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    PRIMARY KEY (consent_id, request_id)
);
CREATE INDEX oauth_token_consents_request ON oauth_token_consents (request_id);

CREATE TABLE oauth_client_assertions (
    jti TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_client_assertions_expires ON oauth_client_assertions (expires_at);

CREATE TABLE oauth_interactions (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    customer_id TEXT NOT NULL DEFAULT '',
    auth_time TIMESTAMPTZ,
    request TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_interactions_expires ON oauth_interactions (expires_at);

CREATE TABLE oauth_login_attempts (
    username TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL
);
