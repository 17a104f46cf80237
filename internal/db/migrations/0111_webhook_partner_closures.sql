-- webhooks: a partner whose outbox is closed (its partnership ended): no
-- event of it is queued for delivery any more; deliveries queued before the
-- closure still go. One row per partner.
CREATE TABLE webhook_partner_closures (
    partner_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    closed_at TIMESTAMPTZ NOT NULL
);
