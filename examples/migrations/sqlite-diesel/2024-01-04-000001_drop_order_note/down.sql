-- WRONG on purpose: the column comes back, its 830 values do not.
ALTER TABLE orders ADD COLUMN note TEXT;
