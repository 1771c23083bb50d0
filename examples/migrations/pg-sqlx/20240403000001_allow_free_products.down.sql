-- WRONG on purpose: the CHECK constraint the up dropped never comes back.
SELECT 1;
