-- apis/core: every bank customer belongs to exactly one environment, 'sandbox'
-- (synthetic test customers, reachable by every signed-up partner's sandbox
-- apps) or 'production' (the bank's real customers, reachable only by live
-- partners' production apps), and the two never meet. Accounts carry their
-- customer's environment too, so the payment check (no money moves between a
-- sandbox and a production account) reads it from the rows it locks.
--
-- Existing rows become 'sandbox': the seeded personas are sandbox data, and
-- every customer made before this migration (`bankbridge customers create`)
-- was documented as a sandbox customer, got a sandbox account number, and
-- could be signed in by any self-signed-up partner's sandbox app. Calling
-- them production now would hand production apps customers whose passwords
-- and data were open to the sandbox; a bank creates its real customers with
-- `bankbridge customers create --env production`.
ALTER TABLE core_customers ADD COLUMN environment TEXT NOT NULL DEFAULT 'sandbox' CHECK (environment IN ('sandbox', 'production'));
ALTER TABLE core_accounts ADD COLUMN environment TEXT NOT NULL DEFAULT 'sandbox' CHECK (environment IN ('sandbox', 'production'));

-- Usernames are unique per environment: the same username may be a sandbox
-- persona and a real customer, and each app gets its own environment's.
DROP INDEX core_customers_username;
CREATE UNIQUE INDEX core_customers_environment_username ON core_customers (environment, username);

-- Customer dashboard sessions made before customers had an environment say
-- nothing about it: sign them out once. The production dashboard (/customer)
-- keeps kind 'customer'; the sandbox one (/sandbox/customer) uses
-- 'sandbox_customer'.
DELETE FROM web_sessions WHERE kind = 'customer';
