ALTER TABLE products DROP CONSTRAINT products_price_cents_check;
