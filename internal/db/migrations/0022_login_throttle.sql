-- Portal and staff sign-in are throttled by internal/throttle (login_throttle,
-- migration 0004), which counts every attempt before the password is checked
-- and keys on account and client address. The per-row counters it replaces
-- go.
ALTER TABLE portal_users DROP COLUMN failed_logins;
ALTER TABLE portal_users DROP COLUMN locked_until;
ALTER TABLE staff_users DROP COLUMN failed_attempts;
ALTER TABLE staff_users DROP COLUMN locked_until;
