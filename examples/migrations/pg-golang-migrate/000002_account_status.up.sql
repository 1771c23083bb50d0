ALTER TABLE accounts ADD COLUMN status text NOT NULL DEFAULT 'active';
UPDATE accounts SET status = 'closed' WHERE id % 10 = 0;
