-- apis: how the customer authorised each consent (issue 13): the
-- authentication (acr, RFC 8176 amr values separated by spaces) and, for a
-- payment authorised without strong customer authentication, the exemption
-- it was granted under (PSD2 RTS art. 13, 15, 16) and why. Empty until the
-- consent is authorised, and for consents authorised before this column.
ALTER TABLE api_consents ADD COLUMN sca_acr TEXT NOT NULL DEFAULT '';
ALTER TABLE api_consents ADD COLUMN sca_amr TEXT NOT NULL DEFAULT '';
ALTER TABLE api_consents ADD COLUMN sca_exemption TEXT NOT NULL DEFAULT '';
ALTER TABLE api_consents ADD COLUMN sca_reason TEXT NOT NULL DEFAULT '';
