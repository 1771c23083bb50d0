-- Down, subtly wrong: it looks like the inverse of object-audits.up.sql, but
-- the relation clean-up names the collection in the singular
-- ('object_audit'), so it deletes nothing and the relation row (and its
-- AUTOINCREMENT counter) survive. The rehearsal must FAIL and show them.
DROP TABLE object_audits;
DELETE FROM directus_relations WHERE many_collection = 'object_audit';
DELETE FROM directus_fields WHERE collection = 'object_audits';
DELETE FROM directus_collections WHERE collection = 'object_audits';
UPDATE sqlite_sequence SET seq = (SELECT coalesce(max(id), 0) FROM directus_fields) WHERE name = 'directus_fields';
UPDATE sqlite_sequence SET seq = (SELECT coalesce(max(id), 0) FROM directus_relations) WHERE name = 'directus_relations';
