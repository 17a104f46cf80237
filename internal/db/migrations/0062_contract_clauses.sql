-- contracts: the clauses of issue 17 item 6. The clauses themselves
-- (confidentiality, service levels, liability, dispute resolution) are part of
-- a version's terms (contract_versions.terms, JSON): old terms without them
-- read as "not agreed" and earn no service credits.

-- A statement's service credit (positive, minor units): what its
-- service_credit line takes off the month's fees.
ALTER TABLE statements ADD COLUMN service_credits BIGINT NOT NULL DEFAULT 0;

-- The platform's own measurement a statement's service credit was computed
-- from (one row per statement whose terms have service levels), kept so the
-- credit can be recomputed by reconciliation after the request log is purged.
CREATE TABLE statement_service_levels (
    statement_id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    period TEXT NOT NULL,
    requests BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    p95_us BIGINT NOT NULL,
    measured_at TIMESTAMPTZ NOT NULL
);

-- The signed agreement of a contract version: the PDF itself (at most 10 MB,
-- checked by its magic bytes), its SHA-256 (hex) and who attached it. One
-- document per version; it can be replaced until the version is approved.
CREATE TABLE contract_documents (
    contract_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BYTEA NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (contract_id, version)
);
