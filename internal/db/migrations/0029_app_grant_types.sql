-- partners: the grant types an app registered (RFC 7591 grant_types), space
-- separated. '' (apps created in the portal, and every app from before this
-- column) means all three the platform supports: authorization_code,
-- refresh_token and client_credentials (the consent flow needs
-- client_credentials to create consents and authorization_code to have them
-- authorised, so that is what existing integrations use).
ALTER TABLE apps ADD COLUMN grant_types TEXT NOT NULL DEFAULT '';
