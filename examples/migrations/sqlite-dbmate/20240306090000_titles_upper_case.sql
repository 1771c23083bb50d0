-- migrate:up
UPDATE books SET title = upper(title);

-- migrate:down
-- There is no way back to the original spelling.
