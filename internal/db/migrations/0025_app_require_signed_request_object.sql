-- partners/oauth: an app that registered require_signed_request_object
-- (RFC 9101 §10.5) must push its authorization requests as signed request
-- objects (oauth/jar.go). Off for every existing app.
ALTER TABLE apps ADD COLUMN require_signed_request_object BOOLEAN NOT NULL DEFAULT FALSE;
