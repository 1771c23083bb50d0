CREATE TABLE order_archive AS SELECT * FROM orders WHERE placed_at < '2023-09-01';
DELETE FROM orders WHERE placed_at < '2023-09-01';
