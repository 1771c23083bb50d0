-- migrate:up
CREATE TABLE loans (
  id INTEGER PRIMARY KEY,
  book_id INTEGER NOT NULL REFERENCES books (id) ON DELETE CASCADE,
  lent_on TEXT NOT NULL,
  returned_on TEXT
);
INSERT INTO loans (book_id, lent_on, returned_on)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
SELECT 1 + i % 300, date('2024-01-01', '+' || (i % 60) || ' days'),
       CASE WHEN i % 3 = 0 THEN NULL ELSE date('2024-03-01', '+' || (i % 30) || ' days') END
FROM n;

-- migrate:down
DROP TABLE loans;
