-- migrate:up
CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO members VALUES (1, 'First member'), (2, 'Second member');
ALTER TABLE loans ADD COLUMN member_id INTEGER REFERENCES members (id);

-- migrate:down
-- WRONG on purpose: a typo in the table name.
ALTER TABLE loans DROP COLUMN member_id;
DROP TABLE member;
