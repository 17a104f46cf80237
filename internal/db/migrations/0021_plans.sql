-- partners: API plans (per-app rate limits per API group and monthly call
-- volumes per API product), their assignment to partners and apps with
-- overrides, and the quota thresholds already announced.

-- A plan; limits and volumes are JSON: {"accounts":{"rate":10,"burst":20},…}
-- and {"accounts":100000,…}.
CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    limits TEXT NOT NULL,
    volumes TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- A plan given to a partner (scope "partner") or one app (scope "app"), with
-- overrides (JSON, same shape as a plan's limits and volumes) on top of it.
-- plan_id "" keeps the plan inherited (partner's, or the environment default).
CREATE TABLE plan_assignments (
    scope TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    plan_id TEXT NOT NULL DEFAULT '',
    limit_overrides TEXT NOT NULL DEFAULT '{}',
    volume_overrides TEXT NOT NULL DEFAULT '{}',
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, subject_id)
);

-- One row per quota threshold announced (80 and 100 percent of a monthly
-- volume), so quota.threshold_reached goes out once per app, product and month.
CREATE TABLE quota_thresholds (
    app_id TEXT NOT NULL,
    product TEXT NOT NULL,
    period TEXT NOT NULL,
    percent INTEGER NOT NULL,
    partner_id TEXT NOT NULL,
    used BIGINT NOT NULL,
    volume BIGINT NOT NULL,
    reached_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (app_id, product, period, percent)
);
