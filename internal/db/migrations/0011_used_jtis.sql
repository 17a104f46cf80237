-- oauth/dpop: DPoP proof jti replay cache (key = JWK thumbprint + ":" + jti).
-- A row whose expires_at has passed may be taken again; Purge deletes them.

CREATE TABLE used_jtis (
    key TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX used_jtis_expires_at ON used_jtis (expires_at);
