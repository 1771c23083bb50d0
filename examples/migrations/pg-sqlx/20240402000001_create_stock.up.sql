CREATE TABLE stock (
  product_id bigint PRIMARY KEY REFERENCES products (id),
  qty integer NOT NULL DEFAULT 0
);
INSERT INTO stock (product_id, qty) SELECT id, id % 17 FROM products;
