//! The birth-register surface in PostgreSQL: Directus's tables exactly as
//! its 12.4.1 bootstrap created them (rendered from the description in
//! [`crate::surface::directus`]), production's own `objects` and
//! `birth_registry` rendered from their one description
//! ([`crate::surface::production`], the same the SQLite surrogate is built
//! from) with the types Directus uses on PostgreSQL (uuid, timestamptz,
//! json — never jsonb, so stored JSON text is kept verbatim — and serial
//! ids) and constraint names as Directus makes them (`<table>_pkey`,
//! `<table>_<col>_foreign`, `<table>_<col>_unique`, `<table>_<col>_index`),
//! and `fn_birth_register` as a real PL/pgSQL function with the semantics
//! of [`crate::surface::birth_register`] ([`crate::surface::function`]).
//!
//! The DDL is split so a bulk load can fill the tables first and add foreign
//! keys and secondary indexes afterwards (same final schema, much faster).

/// `fn_birth_register` as a PL/pgSQL function, kept beside its SQLite
/// rendering ([`crate::surface::function`]).
pub use crate::surface::function::PG_FUNCTION_SQL as FUNCTION_SQL;

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
        "{}{}",
        crate::surface::directus::pg_ddl().tables,
        crate::surface::production::pg_ddl().tables
    )
}

/// Foreign keys and secondary indexes of the whole surface.
pub fn constraints_sql() -> String {
    format!(
        "{}{}",
        crate::surface::directus::pg_ddl().after,
        crate::surface::production::pg_ddl().after
    )
}

/// Whole-schema DDL in creation order (tables, constraints, function).
pub fn full_ddl() -> String {
    format!("{}{}{FUNCTION_SQL}", tables_sql(), constraints_sql())
}
