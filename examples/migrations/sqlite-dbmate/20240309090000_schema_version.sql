-- migrate:up
PRAGMA user_version = 9;

-- migrate:down
-- WRONG on purpose: forgets to put user_version back to 0.
SELECT 1;
