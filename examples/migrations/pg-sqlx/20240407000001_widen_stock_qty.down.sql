-- WRONG on purpose: back to another type than the one before.
ALTER TABLE stock ALTER COLUMN qty TYPE numeric;
