-- apis: transaction risk scoring and held payments (issue 16 items 2 and 4).
-- Each payment keeps who paid (the consent's customer, for the customer's
-- history), the creditor account it paid ("scheme:identification", for the
-- new-payee check), the score, decision and reasons of package risk, and
-- whether it is held for review (Pending, never sent to the core, until a
-- risk officer releases or rejects it). Payment consents keep the score,
-- decision and reasons of their creation.
ALTER TABLE api_payments ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
ALTER TABLE api_payments ADD COLUMN creditor_account TEXT NOT NULL DEFAULT '';
ALTER TABLE api_payments ADD COLUMN held BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE api_payments ADD COLUMN risk_score INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_payments ADD COLUMN risk_decision TEXT NOT NULL DEFAULT '';
ALTER TABLE api_payments ADD COLUMN risk_reasons TEXT NOT NULL DEFAULT '[]';
CREATE INDEX api_payments_customer ON api_payments (customer_id, currency, created_at);
ALTER TABLE api_consents ADD COLUMN risk_score INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_consents ADD COLUMN risk_decision TEXT NOT NULL DEFAULT '';
ALTER TABLE api_consents ADD COLUMN risk_reasons TEXT NOT NULL DEFAULT '[]';
