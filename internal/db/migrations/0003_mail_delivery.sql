-- The email outbox is delivered over SMTP (internal/mail Sender) by background
-- senders on any number of nodes: a sender claims due rows (lease), sends them
-- and records the outcome; a failed attempt is retried with exponential
-- backoff until the attempts run out (failed_at). next_attempt_at is NULL once
-- a mail needs nothing more (sent or given up). A sent mail's body keeps no
-- usable link tokens.
ALTER TABLE email_outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE email_outbox ADD COLUMN next_attempt_at TIMESTAMPTZ;
ALTER TABLE email_outbox ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE email_outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE email_outbox ADD COLUMN lease_until TIMESTAMPTZ;
ALTER TABLE email_outbox ADD COLUMN failed_at TIMESTAMPTZ;
UPDATE email_outbox SET next_attempt_at = created_at WHERE sent_at IS NULL;
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at);
