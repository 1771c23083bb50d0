-- A CHECK constraint needs a table rebuild in SQLite: outside a
-- transaction, with foreign keys off, as SQLite's documentation describes.
-- migrate:up transaction:false
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE "books_new" (
  id INTEGER PRIMARY KEY,
  author_id INTEGER NOT NULL REFERENCES authors (id),
  title TEXT NOT NULL,
  pages INTEGER CHECK (pages > 0)
);
INSERT INTO books_new SELECT id, author_id, title, pages FROM books;
DROP TABLE books;
ALTER TABLE books_new RENAME TO books;
CREATE INDEX ix_books_title ON books (title);
COMMIT;

-- migrate:down transaction:false
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE "books_old" (
  id INTEGER PRIMARY KEY,
  author_id INTEGER NOT NULL REFERENCES authors (id),
  title TEXT NOT NULL,
  pages INTEGER
);
INSERT INTO books_old SELECT id, author_id, title, pages FROM books;
DROP TABLE books;
ALTER TABLE books_old RENAME TO books;
CREATE INDEX ix_books_title ON books (title);
COMMIT;
