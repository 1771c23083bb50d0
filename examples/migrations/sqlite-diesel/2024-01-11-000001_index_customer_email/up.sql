CREATE INDEX ix_customers_email_lower ON customers (lower(email));
