INSERT INTO orders (customer_id, placed_at, total_cents)
VALUES (1, '2024-01-09', 0), (2, '2024-01-09', 0);
