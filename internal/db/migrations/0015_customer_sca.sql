-- Strong customer authentication for bank customers (package oauth/sca):
-- the TOTP factor (secret sealed, last accepted time step), recovery codes
-- (SHA-256 hashes, each used once), dynamic-linking confirmations, trusted
-- payees and the low-value exemption counters since the last SCA. Keyed by
-- customer id only (customers live in apis/core: no cross-domain keys).

CREATE TABLE customer_totp (
    customer_id TEXT PRIMARY KEY,
    secret_sealed TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'active')),
    last_step BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);

CREATE TABLE customer_recovery_codes (
    customer_id TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    PRIMARY KEY (customer_id, code_hash)
);

CREATE TABLE sca_confirmations (
    interaction_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    link_hash TEXT NOT NULL,
    method TEXT NOT NULL,
    confirmed_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    voided BOOLEAN NOT NULL DEFAULT FALSE,
    consumed_at TIMESTAMPTZ
);
CREATE INDEX sca_confirmations_expires ON sca_confirmations (expires_at);

CREATE TABLE customer_trusted_payees (
    customer_id TEXT NOT NULL,
    scheme TEXT NOT NULL,
    identification TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (customer_id, scheme, identification)
);

CREATE TABLE sca_exemption_counts (
    customer_id TEXT PRIMARY KEY,
    exempted_count INTEGER NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE sca_exemption_sums (
    customer_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    exempted_sum BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (customer_id, currency)
);
