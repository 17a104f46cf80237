-- apis: an idempotency key belongs to a partner in one environment. A
-- production request must never be answered with the sandbox response
-- stored under the same key (nor refused because of it), and a partner's
-- sandbox reset deletes its sandbox keys only. The primary key changes, so
-- the table is rebuilt (SQLite cannot alter a primary key); keys live 24 h.
CREATE TABLE idempotency_keys_scoped (
    partner_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    response_status INTEGER NOT NULL DEFAULT 0,
    response_type TEXT NOT NULL DEFAULT '',
    response_body BYTEA,
    created_at TIMESTAMPTZ NOT NULL,
    environment TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (partner_id, environment, key)
);
INSERT INTO idempotency_keys_scoped (partner_id, key, request_hash, status, response_status, response_type, response_body, created_at)
    SELECT partner_id, key, request_hash, status, response_status, response_type, response_body, created_at FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_scoped RENAME TO idempotency_keys;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
