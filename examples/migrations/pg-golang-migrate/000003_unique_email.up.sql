CREATE UNIQUE INDEX ix_accounts_email ON accounts (lower(email));
