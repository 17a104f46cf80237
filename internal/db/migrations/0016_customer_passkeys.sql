-- oauth/passkeys: bank customers' WebAuthn credentials (passkeys) and the
-- server-side state of the ceremonies that register and use them. Rows are
-- keyed by customer id only (customers live in apis/core: no cross-domain
-- foreign key).
--
-- customer_passkeys: one registered credential. credential_id is the WebAuthn
-- credential id, base64url without padding (unique per relying party, so the
-- primary key). public_key is the COSE public key (not a secret). sign_count is
-- the authenticator's signature counter, only ever moved forward by a
-- conditional UPDATE. aaguid is the authenticator model (16 bytes), transports
-- a JSON array of strings, backup_eligible/backup_state the BE/BS flags
-- (a backup-eligible credential is a synced passkey).
CREATE TABLE customer_passkeys (
    credential_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    public_key BYTEA NOT NULL,
    sign_count BIGINT NOT NULL,
    aaguid BYTEA NOT NULL,
    attestation_format TEXT NOT NULL,
    transports TEXT NOT NULL,
    attachment TEXT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state BOOLEAN NOT NULL,
    name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX customer_passkeys_customer ON customer_passkeys (customer_id, created_at);

-- customer_passkey_ceremonies: a begun registration or assertion, until it is
-- finished (the row is deleted as it is read: each ceremony is used once) or
-- it expires (Purge deletes it). session is go-webauthn's SessionData as JSON
-- (the challenge and what the response is checked against).
CREATE TABLE customer_passkey_ceremonies (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    session TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX customer_passkey_ceremonies_expires ON customer_passkey_ceremonies (expires_at);
