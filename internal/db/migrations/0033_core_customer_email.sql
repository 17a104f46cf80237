-- apis/core: a customer's email address, where the platform mails the
-- customer (payment notifications). '' means none: nothing is mailed.
ALTER TABLE core_customers ADD COLUMN email TEXT NOT NULL DEFAULT '';
