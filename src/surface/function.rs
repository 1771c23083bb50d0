//! `fn_birth_register` in both dialects, side by side.
//!
//! The tables it writes are one definition ([`super::production`],
//! [`super::directus`]); the function cannot be. PostgreSQL runs it as a
//! PL/pgSQL function (parameters `p_*`, ids returned with `RETURNING …
//! INTO`, atomic as one subtransaction of the caller's statement); SQLite
//! has no stored functions, so the same four inserts are statements the
//! caller runs inside a SAVEPOINT ([`super::birth_register`]), each id
//! taken with `last_insert_rowid()`. Neither can be derived from the other
//! by the schema renderer (it renders structure, not procedural code), so
//! both are kept here, statement for statement in the same order: a change
//! to one is made to the other in the same place, and the tests
//! (`tests/cli/postgres.rs`, `fn_birth_register_in_plpgsql_writes_what_the_sqlite_surface_writes`)
//! compare what the two write.

/// SQLite, step 1: the item, as Directus's create writes it.
pub const SQLITE_INSERT_ITEM: &str =
    "INSERT INTO objects (id, status, kind, key, payload, user_created, date_created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// SQLite, step 2: one `create` activity.
pub const SQLITE_INSERT_ACTIVITY: &str = "INSERT INTO directus_activity (action, \"user\", \"timestamp\", ip, user_agent, collection, item, origin)
         VALUES ('create', ?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// SQLite, step 3: one revision, data = delta = the submitted fields.
pub const SQLITE_INSERT_REVISION: &str =
    "INSERT INTO directus_revisions (activity, collection, item, data, delta, parent, version)
         VALUES (?1, ?2, ?3, ?4, ?4, NULL, NULL)";

/// SQLite, step 4: production's registry record.
pub const SQLITE_INSERT_REGISTRY: &str = "INSERT INTO birth_registry (object_uid, kind, born_by, born_at, source, collection, item, status, activity, revision)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'born', ?8, ?9)";

/// PostgreSQL: `fn_birth_register`, the same four steps as one function.
/// One call = one birth, atomically. Writes the item, one `create`
/// activity, one revision whose data = delta = the submitted fields
/// (`p_fields`, the exact JSON text of
/// [`super::Birth::submitted_fields`]), and the registry record. Returns
/// (activity, revision, registry) ids.
pub const PG_FUNCTION_SQL: &str = r#"
CREATE FUNCTION fn_birth_register(
  p_item uuid, p_object_uid varchar, p_kind varchar, p_key varchar,
  p_status varchar, p_payload json, p_user uuid, p_at timestamptz,
  p_source varchar, p_ip varchar, p_user_agent text, p_origin varchar,
  p_fields json,
  OUT activity integer, OUT revision integer, OUT registry integer)
LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO objects (id, status, kind, key, payload, user_created, date_created)
  VALUES (p_item, p_status, p_kind, p_key, p_payload, p_user, p_at);
  INSERT INTO directus_activity (action, "user", "timestamp", ip, user_agent, collection, item, origin)
  VALUES ('create', p_user, p_at, p_ip, p_user_agent, 'objects', p_item::text, p_origin)
  RETURNING id INTO activity;
  INSERT INTO directus_revisions (activity, collection, item, data, delta, parent, version)
  VALUES (activity, 'objects', p_item::text, p_fields, p_fields, NULL, NULL)
  RETURNING id INTO revision;
  INSERT INTO birth_registry (object_uid, kind, born_by, born_at, source, collection, item, status, activity, revision)
  VALUES (p_object_uid, p_kind, p_user, p_at, p_source, 'objects', p_item, 'born', activity, revision)
  RETURNING id INTO registry;
END
$fn$;
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// The column list of each `INSERT INTO table (…)`, in order.
    fn inserts(sql: &str) -> Vec<String> {
        sql.split("INSERT INTO ")
            .skip(1)
            .map(|s| s[..s.find(')').unwrap() + 1].split_whitespace().collect())
            .collect()
    }

    #[test]
    fn both_renderings_write_the_same_columns_in_the_same_order() {
        let lite: Vec<String> = [
            SQLITE_INSERT_ITEM,
            SQLITE_INSERT_ACTIVITY,
            SQLITE_INSERT_REVISION,
            SQLITE_INSERT_REGISTRY,
        ]
        .iter()
        .flat_map(|s| inserts(s))
        .collect();
        assert_eq!(lite.len(), 4);
        assert_eq!(lite, inserts(PG_FUNCTION_SQL));
    }
}
