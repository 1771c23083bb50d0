-- Up, half-applied: the same migration as objects-tags.up.sql, but its
-- third statement breaks a foreign key (birth_registry.item must name an
-- object), as a migration that was never run against real data does. Run
-- with transaction = "none" it leaves the column and the index behind.
ALTER TABLE objects ADD COLUMN tag TEXT;
CREATE INDEX objects_by_tag ON objects(tag);
UPDATE birth_registry SET item = 'no-such-object'
 WHERE id = (SELECT min(id) FROM birth_registry);
UPDATE objects SET tag = kind || ':' || status;
