-- no-transaction
CREATE INDEX CONCURRENTLY ix_products_name ON products (name);
