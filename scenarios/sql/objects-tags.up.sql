-- Up: a schema-only migration, as most real ones are: a new nullable
-- column, an index on it, and a backfill UPDATE. No row count changes, so
-- the scenario declares no row deltas; the apply is real because the
-- schema and the rows' content change.
ALTER TABLE objects ADD COLUMN tag TEXT;
CREATE INDEX objects_by_tag ON objects(tag);
UPDATE objects SET tag = kind || ':' || status;
