INSERT INTO products (sku, name, price_cents) VALUES ('PROMO-1', 'Promotion', 0);
