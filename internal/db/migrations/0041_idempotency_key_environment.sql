-- apis: idempotency keys remember the environment (sandbox or production) of
-- the request that claimed them, so a partner's sandbox reset deletes its
-- sandbox keys only. Keys claimed before this migration have '' (they expire
-- within 24 hours).
ALTER TABLE idempotency_keys ADD COLUMN environment TEXT NOT NULL DEFAULT '';
