-- Webhooks: limits on deliveries partners queue on demand (replays and test
-- events), so the dispatcher cannot be turned into a flood tool. Shared by
-- every node: each check-and-count is one statement.
--
-- One range replay per endpoint per interval: next_at is when the endpoint's
-- next range replay may start.
CREATE TABLE webhook_replay_windows (
    endpoint_id TEXT PRIMARY KEY,
    next_at TIMESTAMPTZ NOT NULL
);

-- Deliveries queued on demand per partner per UTC day (day = YYYY-MM-DD).
CREATE TABLE webhook_replay_budgets (
    partner_id TEXT NOT NULL,
    day TEXT NOT NULL,
    deliveries BIGINT NOT NULL,
    PRIMARY KEY (partner_id, day)
);
