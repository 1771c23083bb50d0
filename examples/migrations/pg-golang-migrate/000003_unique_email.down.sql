-- WRONG on purpose: not the name the up gave the index.
DROP INDEX ix_accounts_email_lower;
