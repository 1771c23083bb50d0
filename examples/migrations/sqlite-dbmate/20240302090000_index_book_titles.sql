-- migrate:up
CREATE INDEX ix_books_title ON books (title);

-- migrate:down
DROP INDEX ix_books_title;
