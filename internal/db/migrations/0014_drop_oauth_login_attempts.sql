-- oauth: customer sign-in attempts are counted by internal/throttle
-- (login_throttle, 0004); the authorization server's own table is gone.
DROP TABLE oauth_login_attempts;
