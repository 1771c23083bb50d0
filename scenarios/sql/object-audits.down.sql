-- Down: the exact inverse of object-audits.up.sql. Deleting the rows is not
-- enough on SQLite: AUTOINCREMENT counters in sqlite_sequence moved when the
-- field and relation rows were inserted, so they are set back (the
-- surrogate never deletes, so the old counter is the highest remaining id).
DROP TABLE object_audits;
DELETE FROM directus_relations WHERE many_collection = 'object_audits';
DELETE FROM directus_fields WHERE collection = 'object_audits';
DELETE FROM directus_collections WHERE collection = 'object_audits';
UPDATE sqlite_sequence SET seq = (SELECT coalesce(max(id), 0) FROM directus_fields) WHERE name = 'directus_fields';
UPDATE sqlite_sequence SET seq = (SELECT coalesce(max(id), 0) FROM directus_relations) WHERE name = 'directus_relations';
