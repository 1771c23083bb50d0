-- migrate:up
ALTER TABLE books ADD COLUMN isbn TEXT;
UPDATE books SET isbn = printf('978-0-%06d-0', id);

-- migrate:down
ALTER TABLE books DROP COLUMN isbn;
