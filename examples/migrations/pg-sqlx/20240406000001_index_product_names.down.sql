-- no-transaction
DROP INDEX CONCURRENTLY ix_products_name;
