-- WRONG on purpose: drops the renamed column and adds a new one, with
-- another type, at the end of the table, and empty.
ALTER TABLE customers DROP COLUMN full_name;
ALTER TABLE customers ADD COLUMN name VARCHAR(200);
