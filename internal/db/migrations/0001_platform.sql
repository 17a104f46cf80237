-- Platform plumbing: the audit trail and the key-value settings the platform keeps.

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    partner_id TEXT NOT NULL DEFAULT '',
    interaction_id TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_object ON audit_events (object_type, object_id);
CREATE INDEX audit_events_actor ON audit_events (actor_type, actor_id);
CREATE INDEX audit_events_partner ON audit_events (partner_id, at);

-- The development email outbox: every mail the platform sends is written here
-- (in the transaction of the change that causes it); the dev outbox page lists it.
CREATE TABLE email_outbox (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL DEFAULT '',
    recipient TEXT NOT NULL,
    template TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ
);
CREATE INDEX email_outbox_created ON email_outbox (created_at);
CREATE INDEX email_outbox_recipient ON email_outbox (recipient, created_at);
