-- Sign-in sessions of people using the pages: bank customers (dashboard),
-- partner developers (portal) and bank staff (console). The cookie holds a
-- random token; only its SHA-256 is stored.
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_sessions_subject ON web_sessions (kind, subject_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
