-- WRONG on purpose: the column comes back last and empty.
ALTER TABLE accounts ADD COLUMN nickname text;
