-- Up: add an "object_audits" collection to the registry, the way Directus
-- registers a user collection (collection row, one field row per column, a
-- relation row), and seed it with two audit notes on existing objects.
CREATE TABLE object_audits (
  id TEXT NOT NULL PRIMARY KEY,
  object TEXT NOT NULL REFERENCES objects(id),
  note TEXT
);
INSERT INTO directus_collections (collection, icon, note, accountability)
VALUES ('object_audits', 'fact_check', 'Audit notes on registered objects', 'all');
INSERT INTO directus_fields (collection, field, special, interface) VALUES
  ('object_audits', 'id', 'uuid', 'input'),
  ('object_audits', 'object', NULL, 'select-dropdown-m2o'),
  ('object_audits', 'note', NULL, 'input-multiline');
INSERT INTO directus_relations (many_collection, many_field, one_collection)
VALUES ('object_audits', 'object', 'objects');
INSERT INTO object_audits (id, object, note)
SELECT 'audit-' || id, id, 'initial audit' FROM objects ORDER BY id LIMIT 2;
