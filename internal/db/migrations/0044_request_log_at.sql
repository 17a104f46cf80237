-- apis: the request log by time, for the staff console's Monitoring section
-- (issue 15): the platform-wide overview and the monthly availability
-- statistics read a window of every partner's requests, which the
-- (partner_id, client_id, at) index cannot serve.
CREATE INDEX request_log_at ON request_log (at);
