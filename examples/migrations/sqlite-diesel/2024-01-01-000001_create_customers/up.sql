-- Customers, with a few rows the application needs from day one.
CREATE TABLE "customers" (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  name TEXT
);

INSERT INTO customers (id, email, name)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
SELECT i, 'customer' || i || '@example.test',
       CASE WHEN i % 7 = 0 THEN NULL ELSE 'Customer ' || i END
FROM n;
