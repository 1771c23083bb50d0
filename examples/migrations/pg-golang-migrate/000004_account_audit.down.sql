-- WRONG on purpose: the trigger and its function stay behind.
DROP TABLE account_audit;
