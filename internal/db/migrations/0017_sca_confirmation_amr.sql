-- oauth/sca: a confirmation records the RFC 8176 amr value of the factor
-- that made it ("otp" for an authenticator or recovery code; "hwk" or
-- "swk" for a passkey, as oauth/passkeys reports the assertion), so that the
-- id_token reports what the customer really used. Rows from before this
-- migration keep '' and are reported by their method.
ALTER TABLE sca_confirmations ADD COLUMN amr TEXT NOT NULL DEFAULT '';
