CREATE TABLE products (
  id bigserial PRIMARY KEY,
  sku text NOT NULL UNIQUE,
  name text NOT NULL,
  price_cents integer NOT NULL CHECK (price_cents >= 0)
);

INSERT INTO products (sku, name, price_cents)
SELECT 'SKU-' || lpad(i::text, 5, '0'), 'Product ' || i, (i % 40) * 250
FROM generate_series(1, 500) AS i;
