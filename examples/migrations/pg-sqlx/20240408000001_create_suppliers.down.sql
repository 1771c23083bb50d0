-- WRONG on purpose: drops the table before the column that references it.
DROP TABLE suppliers;
ALTER TABLE products DROP COLUMN supplier_id;
