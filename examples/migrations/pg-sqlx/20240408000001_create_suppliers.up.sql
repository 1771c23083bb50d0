CREATE TABLE suppliers (id bigserial PRIMARY KEY, name text NOT NULL);
INSERT INTO suppliers (name) VALUES ('Acme'), ('Globex');
ALTER TABLE products ADD COLUMN supplier_id bigint REFERENCES suppliers (id);
