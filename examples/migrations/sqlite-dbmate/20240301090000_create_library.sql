-- migrate:up
CREATE TABLE authors (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
CREATE TABLE "books" (
  id INTEGER PRIMARY KEY,
  author_id INTEGER NOT NULL REFERENCES authors (id),
  title TEXT NOT NULL,
  pages INTEGER
);
INSERT INTO authors (id, name)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25)
SELECT i, 'Author ' || i FROM n;
INSERT INTO books (id, author_id, title, pages)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
SELECT i, 1 + i % 25, 'Book number ' || i, CASE WHEN i % 11 = 0 THEN NULL ELSE 80 + i % 400 END FROM n;

-- migrate:down
DROP TABLE books;
DROP TABLE authors;
