-- oauth/keys: the authorization server's signing keys. The private key is sealed
-- with internal/secrets Box (purpose "signing-key:"+kid); public_jwk is the public
-- JWK as JSON. At most one 'active' key per alg (partial unique index), so nodes
-- starting at once cannot both create one.

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    status TEXT NOT NULL,
    private_sealed TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    activated_at TIMESTAMPTZ NOT NULL,
    retire_after TIMESTAMPTZ NULL
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE status = 'active';
CREATE INDEX signing_keys_status ON signing_keys (status, retire_after);
