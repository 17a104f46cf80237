-- partners: an app whose payment requests must carry a UK OB x-jws-signature
-- (apis/jws.go). Off for every existing app: a signature sent is still
-- verified, only its absence is allowed.
ALTER TABLE apps ADD COLUMN require_signed_requests BOOLEAN NOT NULL DEFAULT FALSE;
