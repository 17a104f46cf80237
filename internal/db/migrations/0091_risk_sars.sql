-- risk: suspicious activity reports (issue 16 item 5), filed by a risk
-- officer from a case. Bank-internal: no partner- or customer-facing
-- surface reads this table.
CREATE TABLE risk_sars (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    narrative TEXT NOT NULL,
    filed_by TEXT NOT NULL,
    filed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX risk_sars_case ON risk_sars (case_id, filed_at);
