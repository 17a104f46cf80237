-- A dashboard session's step-up: the customer re-authenticated (password, or
-- password and a current second factor) to change their second factors. It
-- lives on the session row, so it holds for that session only and ends with
-- it; step_up_until bounds it in time (a few minutes).
ALTER TABLE web_sessions ADD COLUMN step_up TEXT NOT NULL DEFAULT '';
ALTER TABLE web_sessions ADD COLUMN step_up_until TIMESTAMPTZ;
