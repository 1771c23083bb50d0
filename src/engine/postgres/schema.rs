//! The birth-register surface in PostgreSQL: Directus's tables exactly as
//! its 12.4.1 bootstrap created them (rendered from the description in
//! [`crate::surface::directus`]), production's own `objects` and
//! `birth_registry` with the types Directus uses on PostgreSQL (uuid,
//! timestamptz, json — never jsonb, so stored JSON text is kept verbatim —
//! and serial ids) and constraint names as Directus makes them
//! (`<table>_pkey`, `<table>_<col>_foreign`, `<table>_<col>_unique`,
//! `<table>_<col>_index`), and `fn_birth_register` as a real PL/pgSQL
//! function with the semantics of [`crate::surface::birth_register`].
//!
//! The DDL is split so a bulk load can fill the tables first and add foreign
//! keys and secondary indexes afterwards (same final schema, much faster).

/// Production's own tables with their primary keys, unique and check
/// constraints. Checks
/// are written as `= ANY (ARRAY[…::text])`, the form PostgreSQL deparses to
/// itself, so `pg_dump`/`pg_restore` leaves the schema description equal
/// (an `IN (…)` list on varchar comes back spelled differently).
pub const APP_TABLES_SQL: &str = r#"
CREATE TABLE objects (
  id uuid NOT NULL,
  status varchar(20) NOT NULL DEFAULT 'draft',
  kind varchar(32) NOT NULL,
  key varchar(128) NOT NULL,
  payload json,
  user_created uuid,
  date_created timestamptz,
  user_updated uuid,
  date_updated timestamptz,
  CONSTRAINT objects_pkey PRIMARY KEY (id),
  CONSTRAINT objects_key_unique UNIQUE (key)
);
CREATE TABLE birth_registry (
  id serial NOT NULL,
  object_uid varchar(64) NOT NULL,
  kind varchar(32) NOT NULL,
  born_by uuid NOT NULL,
  born_at timestamptz NOT NULL,
  source varchar(64) NOT NULL,
  collection varchar(64) NOT NULL,
  item uuid NOT NULL,
  status varchar(16) NOT NULL DEFAULT 'born',
  activity integer NOT NULL,
  revision integer,
  CONSTRAINT birth_registry_pkey PRIMARY KEY (id),
  CONSTRAINT birth_registry_object_uid_unique UNIQUE (object_uid),
  CONSTRAINT birth_registry_item_unique UNIQUE (item),
  CONSTRAINT birth_registry_status_check CHECK (status::text = ANY (ARRAY['born'::text, 'voided'::text, 'superseded'::text]))
);
"#;

/// Foreign keys and secondary indexes of production's own tables, added
/// after the rows are loaded.
pub const APP_CONSTRAINTS_SQL: &str = r#"
ALTER TABLE objects ADD CONSTRAINT objects_user_created_foreign
  FOREIGN KEY (user_created) REFERENCES directus_users(id);
ALTER TABLE objects ADD CONSTRAINT objects_user_updated_foreign
  FOREIGN KEY (user_updated) REFERENCES directus_users(id);
ALTER TABLE birth_registry ADD CONSTRAINT birth_registry_born_by_foreign
  FOREIGN KEY (born_by) REFERENCES directus_users(id);
ALTER TABLE birth_registry ADD CONSTRAINT birth_registry_item_foreign
  FOREIGN KEY (item) REFERENCES objects(id);
ALTER TABLE birth_registry ADD CONSTRAINT birth_registry_activity_foreign
  FOREIGN KEY (activity) REFERENCES directus_activity(id);
ALTER TABLE birth_registry ADD CONSTRAINT birth_registry_revision_foreign
  FOREIGN KEY (revision) REFERENCES directus_revisions(id);
CREATE INDEX birth_registry_kind_index ON birth_registry (kind);
CREATE INDEX birth_registry_born_at_index ON birth_registry (born_at);
"#;

/// `fn_birth_register`: one call = one birth, atomically (a PL/pgSQL
/// function body is one subtransaction of the caller's statement). Writes
/// the item, one `create` activity, one revision whose data = delta = the
/// submitted fields (`p_fields`, the exact JSON text of
/// [`crate::surface::Birth::submitted_fields`]), and the registry record.
/// Returns (activity, revision, registry) ids.
pub const FUNCTION_SQL: &str = r#"
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

/// The call that registers one birth; parameters in [`birth_params`] order.
pub const CALL_SQL: &str = "SELECT activity, revision, registry FROM fn_birth_register(\
$1::text::uuid, $2::text, $3::text, $4::text, $5::text, $6::text::json, $7::text::uuid, \
$8::text::timestamptz, $9::text, $10::text, $11::text, $12::text, $13::text::json)";

/// The text parameters of [`CALL_SQL`] for one birth (all sent as text so
/// the server parses uuid, json and timestamptz itself).
pub fn birth_params(b: &crate::surface::Birth) -> Vec<Option<String>> {
    vec![
        Some(b.item.clone()),
        Some(b.object_uid.clone()),
        Some(b.kind.clone()),
        Some(b.key.clone()),
        Some(b.status.clone()),
        Some(b.payload.clone()),
        Some(b.user.clone()),
        Some(b.at.clone()),
        Some(b.source.clone()),
        b.ip.clone(),
        b.user_agent.clone(),
        b.origin.clone(),
        Some(b.submitted_fields()),
    ]
}

/// Register one birth through the database function.
pub fn birth_register(
    client: &mut impl postgres::GenericClient,
    b: &crate::surface::Birth,
) -> Result<crate::surface::BirthIds, postgres::Error> {
    let stmt = client.prepare(CALL_SQL)?;
    birth_register_with(client, &stmt, b)
}

/// Register one birth with [`CALL_SQL`] already prepared on `client` (one
/// round trip per birth instead of two).
pub fn birth_register_with(
    client: &mut impl postgres::GenericClient,
    stmt: &postgres::Statement,
    b: &crate::surface::Birth,
) -> Result<crate::surface::BirthIds, postgres::Error> {
    let params = birth_params(b);
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
        .iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect();
    let row = client.query_one(stmt, &refs)?;
    Ok(crate::surface::BirthIds {
        activity: i64::from(row.get::<_, i32>(0)),
        revision: i64::from(row.get::<_, i32>(1)),
        registry: i64::from(row.get::<_, i32>(2)),
    })
}

/// The compensating inverse of one birth (as
/// [`crate::surface::birth_unregister`]): delete exactly the four rows it
/// wrote, children first. Sequences are not rewound.
pub fn birth_unregister(
    client: &mut impl postgres::GenericClient,
    item: &str,
) -> Result<u64, postgres::Error> {
    let mut n = 0;
    n += client.execute(
        "DELETE FROM birth_registry WHERE collection = 'objects' AND item = $1::text::uuid",
        &[&item],
    )?;
    n += client.execute(
        "DELETE FROM directus_revisions WHERE collection = 'objects' AND item = $1::text
         AND activity IN (SELECT id FROM directus_activity WHERE action = 'create'
                          AND collection = 'objects' AND item = $1::text)",
        &[&item],
    )?;
    n += client.execute(
        "DELETE FROM directus_activity WHERE action = 'create' AND collection = 'objects' AND item = $1::text",
        &[&item],
    )?;
    n += client.execute("DELETE FROM objects WHERE id = $1::text::uuid", &[&item])?;
    Ok(n)
}

/// One birth undone as a Directus API delete would (as
/// [`crate::surface::birth_api_delete`]): the registry record, then the
/// item, and one `delete` activity; the birth's history stays.
pub fn birth_api_delete(
    client: &mut impl postgres::GenericClient,
    d: &crate::surface::ApiDelete<'_>,
) -> Result<u64, postgres::Error> {
    let registry = client.execute(
        "DELETE FROM birth_registry WHERE collection = 'objects' AND item = $1::text::uuid",
        &[&d.item],
    )?;
    if registry == 0 {
        return Ok(0);
    }
    let item = client.execute("DELETE FROM objects WHERE id = $1::text::uuid", &[&d.item])?;
    client.execute(
        "INSERT INTO directus_activity (action, \"user\", \"timestamp\", ip, user_agent, collection, item, origin)
         VALUES ('delete', $1::text::uuid, $2::text::timestamptz, $3, $4, 'objects', $5, $6)",
        &[&d.user, &d.at, &d.ip, &d.user_agent, &d.item, &d.origin],
    )?;
    Ok(registry + item)
}

/// Every table of the surface (Directus's, rendered from its bootstrap's
/// description, then production's own) with primary and unique keys.
pub fn tables_sql() -> String {
    format!(
        "{}{APP_TABLES_SQL}",
        crate::surface::directus::pg_ddl().tables
    )
}

/// Foreign keys and secondary indexes of the whole surface.
pub fn constraints_sql() -> String {
    format!(
        "{}{APP_CONSTRAINTS_SQL}",
        crate::surface::directus::pg_ddl().after
    )
}

/// Whole-schema DDL in creation order (tables, constraints, function).
pub fn full_ddl() -> String {
    format!("{}{}{FUNCTION_SQL}", tables_sql(), constraints_sql())
}
