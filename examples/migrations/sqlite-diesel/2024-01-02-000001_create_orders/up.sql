CREATE TABLE orders (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  customer_id INTEGER NOT NULL REFERENCES customers (id),
  placed_at TEXT NOT NULL,
  total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
  note TEXT
);

-- 830 historical orders imported with the table.
INSERT INTO orders (customer_id, placed_at, total_cents, note)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 830)
SELECT 1 + i % 40,
       date('2023-06-01', '+' || (i % 300) || ' days'),
       (i % 50) * 100,
       'gift wrap ' || i
FROM n;
