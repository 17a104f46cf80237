-- risk/limits: payment limits that risk officers set (issue 16 item 1), under
-- maker-checker. A rule bounds payments in one environment and currency for
-- the platform (scope "platform", subject_id ''), one partner, one app or one
-- customer: per payment, per UTC day, per UTC month (amount, minor units of
-- the currency) or a velocity (count payments per window_seconds from one
-- debtor account). One rule per (environment, currency, scope, subject, kind).
CREATE TABLE limit_rules (
    id TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    currency TEXT NOT NULL,
    scope TEXT NOT NULL,
    subject_id TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    amount_minor BIGINT NOT NULL DEFAULT 0,
    max_count BIGINT NOT NULL DEFAULT 0,
    window_seconds BIGINT NOT NULL DEFAULT 0,
    proposed_by TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK (scope IN ('platform', 'partner', 'app', 'customer')),
    CHECK (kind IN ('per_payment', 'per_day', 'per_month', 'velocity')),
    CHECK (amount_minor >= 0 AND max_count >= 0 AND window_seconds >= 0)
);
CREATE UNIQUE INDEX limit_rules_key ON limit_rules (environment, currency, scope, subject_id, kind);

-- A proposed change of the rules (op create, change or remove), waiting for a
-- second risk officer or an admin (status pending → approved | rejected). The
-- rule's fields are those the change would write (rule_id names the rule a
-- change or removal is about; a creation's new rule gets it on approval).
CREATE TABLE limit_proposals (
    id TEXT PRIMARY KEY,
    op TEXT NOT NULL,
    rule_id TEXT NOT NULL DEFAULT '',
    environment TEXT NOT NULL,
    currency TEXT NOT NULL,
    scope TEXT NOT NULL,
    subject_id TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    amount_minor BIGINT NOT NULL DEFAULT 0,
    max_count BIGINT NOT NULL DEFAULT 0,
    window_seconds BIGINT NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    decided_by TEXT NOT NULL DEFAULT '',
    decision_note TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    decided_at TIMESTAMPTZ NULL,
    CHECK (op IN ('create', 'change', 'remove')),
    CHECK (status IN ('pending', 'approved', 'rejected'))
);
CREATE INDEX limit_proposals_status ON limit_proposals (status, created_at);
