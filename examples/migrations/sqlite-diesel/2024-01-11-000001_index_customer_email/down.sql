DROP INDEX ix_customers_email_lower;
