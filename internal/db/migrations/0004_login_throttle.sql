-- Attempt counters of the sign-in throttle (internal/throttle), shared by
-- every node: customer login, portal sign-in and sign-up, staff sign-in. A row
-- is one fixed-window counter; throttle_key is the hex SHA-256 of the
-- counter's name (surface, kind, account and/or client address), so neither
-- emails nor addresses are stored and an attacker's input cannot grow the
-- key. attempts counts the attempts admitted in the window ending at
-- window_end (one more than the rule's limit marks it refused until then).
CREATE TABLE login_throttle (
    throttle_key TEXT PRIMARY KEY,
    attempts INTEGER NOT NULL,
    window_end TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_throttle_window_end ON login_throttle (window_end);
