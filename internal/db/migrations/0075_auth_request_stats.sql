-- Requests to the authorization server's endpoints (PAR, authorize, token),
-- counted per node in memory and flushed as one row per minute, environment,
-- client and endpoint (monitoring/authstats.go): the token_auth family of
-- the published availability statistics, without a write per request on
-- the token path. Rows are appended, never updated; the statistics sum
-- them. latency_buckets holds the counts of the fixed latency buckets
-- (monitoring.AuthLatencyBoundsUS, then one past the last bound),
-- comma-separated.
CREATE TABLE auth_request_stats (
    id BIGSERIAL PRIMARY KEY,
    minute TIMESTAMPTZ NOT NULL,
    environment TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    requests BIGINT NOT NULL,
    server_errors BIGINT NOT NULL,
    latency_sum_us BIGINT NOT NULL,
    latency_buckets TEXT NOT NULL
);
CREATE INDEX auth_request_stats_minute ON auth_request_stats (minute);
