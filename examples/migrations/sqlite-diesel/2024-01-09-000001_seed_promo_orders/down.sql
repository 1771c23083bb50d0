-- WRONG on purpose: the rows go, the AUTOINCREMENT counter stays advanced.
DELETE FROM orders WHERE placed_at = '2024-01-09' AND total_cents = 0;
