-- WRONG on purpose: the index is called ix_orders_date, and IF EXISTS
-- hides the typo.
DROP INDEX IF EXISTS ix_orders_placed_at;
