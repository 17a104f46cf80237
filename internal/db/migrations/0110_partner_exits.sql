-- partners/exit: ending a partnership (issue 17 item 5). One termination per
-- partner at a time: proposed by one member of staff, approved by another
-- (scheduled), cancellable until its effective date; on that date the
-- housekeeping job claims it (claimed_by/lease_until, a conditional update)
-- and runs the wind-down steps in order, each recorded in
-- partner_exit_steps, so a crash resumes at the next step. The partner's data
-- export (a JSON archive) is kept in partner_exit_exports until its personal
-- data is deleted (delete_after).
CREATE TABLE partner_exits (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    notice_days INTEGER NOT NULL,
    contract_id TEXT NOT NULL DEFAULT '',
    effective_at TIMESTAMPTZ NOT NULL,
    retention_days INTEGER NOT NULL,
    proposed_by TEXT NOT NULL,
    proposed_at TIMESTAMPTZ NOT NULL,
    decided_by TEXT NOT NULL DEFAULT '',
    decided_at TIMESTAMPTZ,
    decision_note TEXT NOT NULL DEFAULT '',
    claimed_by TEXT NOT NULL DEFAULT '',
    lease_until TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    statement_id TEXT NOT NULL DEFAULT '',
    delete_after TIMESTAMPTZ,
    deleted_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT partner_exits_status CHECK (status IN ('proposed', 'scheduled', 'rejected', 'cancelled', 'running', 'completed'))
);
CREATE UNIQUE INDEX partner_exits_open ON partner_exits (partner_id) WHERE status IN ('proposed', 'scheduled', 'running', 'completed');
CREATE INDEX partner_exits_due ON partner_exits (status, effective_at);

CREATE TABLE partner_exit_steps (
    exit_id TEXT NOT NULL REFERENCES partner_exits (id),
    step TEXT NOT NULL,
    seq INTEGER NOT NULL,
    done_at TIMESTAMPTZ NOT NULL,
    node TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (exit_id, step)
);

CREATE TABLE partner_exit_exports (
    exit_id TEXT PRIMARY KEY REFERENCES partner_exits (id),
    partner_id TEXT NOT NULL,
    archive TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
