//! The modeled birth-register write surface: Directus's system tables
//! (rendered from a real 12.4.1 bootstrap's description, [`directus`]), the
//! `objects` application collection and production's own `birth_registry`
//! (one description for both backends, [`production`]), and the semantics
//! of `fn_birth_register` ([`function`]) — defined once here so every
//! backend reproduces them.

pub mod directus;
pub mod function;
pub mod json;
pub mod production;

use crate::schema::render::{Need, render};
use crate::schema::{Dialect, Schema};

use rusqlite::{Connection, params};
use serde_json::Value;

/// The Directus collection whose items are born.
pub const COLLECTION: &str = "objects";

/// `PRAGMA application_id` of every rollproof surrogate ("RPRF").
pub const APPLICATION_ID: i64 = 0x5250_5246;

/// Schema version of the modeled surface, stored in `PRAGMA user_version`.
pub const SURFACE_VERSION: i64 = 1;

/// Allowed `birth_registry.status` values.
pub const BIRTH_STATUSES: &[&str] = &["born", "voided", "superseded"];

/// Tables the surface generator fills from a profile's row counts (every
/// other Directus table stays empty, as on a fresh bootstrap, except
/// `directus_migrations`, which always holds Directus's versions).
pub const FILLED: &[&str] = &[
    "directus_roles",
    "directus_policies",
    "directus_users",
    "directus_access",
    "directus_settings",
    "directus_collections",
    "directus_fields",
    "directus_relations",
    "directus_activity",
    "directus_revisions",
    "objects",
    "birth_registry",
];

/// Every table of the surface: Directus's 33 in their fill order, then
/// production's own.
pub fn tables() -> &'static [&'static str] {
    static T: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        directus::tables()
            .iter()
            .chain(production::tables())
            .map(String::as_str)
            .collect()
    })
}

/// The tables of the surface as SQLite DDL (no secondary indexes).
pub fn tables_sql() -> String {
    format!(
        "{}{}",
        directus::sqlite_ddl().tables,
        production::sqlite_ddl().tables
    )
}

/// The secondary indexes of the surface as SQLite DDL.
pub fn indexes_sql() -> String {
    format!(
        "{}{}",
        directus::sqlite_ddl().after,
        production::sqlite_ddl().after
    )
}

/// The whole surface as SQLite DDL, in creation order. Serial ids are
/// `INTEGER PRIMARY KEY AUTOINCREMENT`, as Directus itself creates them on
/// SQLite, so `sqlite_sequence` behaves like PG sequences.
pub fn schema_sql() -> String {
    format!("{}{}", tables_sql(), indexes_sql())
}

/// DDL in two parts: what the rows go into, and what is added afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ddl {
    /// Sequences and tables (PostgreSQL: with primary and unique keys).
    pub tables: String,
    /// PostgreSQL: foreign keys and indexes; SQLite: indexes.
    pub after: String,
}

/// Render one part of the surface (described in `path`) for `dialect`,
/// split into [`Ddl`]. Nothing of it may be left out: a skipped object
/// would make the surrogate differ from the description silently (SQLite
/// has no sequences; the rowid keys stand for them).
fn split(schema: &Schema, path: &str, dialect: Dialect) -> Ddl {
    let r = render(schema, dialect);
    let skipped: Vec<_> = r
        .skipped
        .iter()
        .filter(|s| !(dialect == Dialect::Sqlite && s.kind == "sequence"))
        .collect();
    assert!(
        skipped.is_empty(),
        "rendering {path} for {dialect:?} skipped {skipped:?}"
    );
    let mut ddl = Ddl {
        tables: String::new(),
        after: String::new(),
    };
    for st in &r.statements {
        assert!(
            st.need == Need::Required || dialect == Dialect::Sqlite,
            "{}",
            st.name
        );
        let dest = match st.kind {
            "foreign key" | "index" => &mut ddl.after,
            _ => &mut ddl.tables,
        };
        dest.push_str(&st.sql);
        dest.push('\n');
    }
    ddl
}

/// Create the surface in an empty database.
pub fn create_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&schema_sql())?;
    conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    conn.pragma_update(None, "user_version", SURFACE_VERSION)?;
    Ok(())
}

/// Columns of each surface table, read from the DDL itself (so the list the
/// intake check uses can never drift from the schema).
pub fn expected_columns() -> rusqlite::Result<Vec<(String, Vec<String>)>> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(&schema_sql())?;
    let mut out = Vec::new();
    for table in tables() {
        let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
        let cols = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.push((table.to_string(), cols));
    }
    Ok(out)
}

/// One call of `fn_birth_register`: everything the client submits.
#[derive(Debug, Clone, PartialEq)]
pub struct Birth {
    /// The item's uuid key, generated by the application.
    pub item: String,
    /// The registry's unique object uid.
    pub object_uid: String,
    pub kind: String,
    pub key: String,
    pub status: String,
    /// The item's JSON payload (an object), as JSON text: serialised once
    /// when the birth is planned.
    pub payload: String,
    /// The acting Directus user (uuid).
    pub user: String,
    /// Millisecond timestamp, `YYYY-MM-DDTHH:MM:SS.sssZ`.
    pub at: String,
    pub source: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub origin: Option<String>,
}

/// Ids written by one birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthIds {
    pub activity: i64,
    pub revision: i64,
    pub registry: i64,
}

impl Birth {
    /// The fields the client sent, in a fixed order, as JSON text: the
    /// revision's `data` and `delta` (identical on create; relation fields
    /// such as `user_created`/`date_created` are not in them, as in
    /// Directus). The same bytes `serde_json` writes for that object.
    pub fn submitted_fields(&self) -> String {
        submitted_fields(
            &self.item,
            &self.status,
            &self.kind,
            &self.key,
            &self.payload,
        )
    }
}

/// The submitted fields of a create, as JSON text (see
/// [`Birth::submitted_fields`]); `payload` is JSON text already.
pub fn submitted_fields(item: &str, status: &str, kind: &str, key: &str, payload: &str) -> String {
    let q = |s: &str| Value::String(s.to_string()).to_string();
    format!(
        "{{\"id\":{},\"status\":{},\"kind\":{},\"key\":{},\"payload\":{payload}}}",
        q(item),
        q(status),
        q(kind),
        q(key)
    )
}

/// One birth request borrowed from text kept elsewhere (the generator keeps
/// a whole batch of births in one buffer), with its submitted fields
/// already serialised: `fields` must be [`submitted_fields`] of the others.
#[derive(Debug, Clone, Copy)]
pub struct BirthRef<'a> {
    pub item: &'a str,
    pub object_uid: &'a str,
    pub kind: &'a str,
    pub key: &'a str,
    pub status: &'a str,
    pub payload: &'a str,
    pub user: &'a str,
    pub at: &'a str,
    pub source: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub fields: &'a str,
}

/// `fn_birth_register`: one birth, atomically (a SAVEPOINT, so it nests
/// inside a caller's transaction and is its own transaction otherwise).
/// Writes the item, one `create` activity, one revision with
/// data = delta = the submitted fields, and the `birth_registry` record.
pub fn birth_register(conn: &Connection, b: &Birth) -> rusqlite::Result<BirthIds> {
    let fields = b.submitted_fields();
    birth_register_ref(
        conn,
        &BirthRef {
            item: &b.item,
            object_uid: &b.object_uid,
            kind: &b.kind,
            key: &b.key,
            status: &b.status,
            payload: &b.payload,
            user: &b.user,
            at: &b.at,
            source: &b.source,
            ip: b.ip.as_deref(),
            user_agent: b.user_agent.as_deref(),
            origin: b.origin.as_deref(),
            fields: &fields,
        },
    )
}

/// [`birth_register`] over a borrowed request.
pub fn birth_register_ref(conn: &Connection, b: &BirthRef<'_>) -> rusqlite::Result<BirthIds> {
    conn.prepare_cached("SAVEPOINT fn_birth_register")?
        .execute([])?;
    match birth_register_inner(conn, b) {
        Ok(ids) => {
            conn.prepare_cached("RELEASE fn_birth_register")?
                .execute([])?;
            Ok(ids)
        }
        Err(e) => {
            // Undo this birth only; the caller's outer transaction survives.
            let _ = conn.execute_batch("ROLLBACK TO fn_birth_register; RELEASE fn_birth_register");
            Err(e)
        }
    }
}

fn birth_register_inner(conn: &Connection, b: &BirthRef<'_>) -> rusqlite::Result<BirthIds> {
    conn.prepare_cached(function::SQLITE_INSERT_ITEM)?
        .execute(params![
            b.item, b.status, b.kind, b.key, b.payload, b.user, b.at
        ])?;
    conn.prepare_cached(function::SQLITE_INSERT_ACTIVITY)?
        .execute(params![
            b.user,
            b.at,
            b.ip,
            b.user_agent,
            COLLECTION,
            b.item,
            b.origin
        ])?;
    let activity = conn.last_insert_rowid();
    conn.prepare_cached(function::SQLITE_INSERT_REVISION)?
        .execute(params![activity, COLLECTION, b.item, b.fields])?;
    let revision = conn.last_insert_rowid();
    conn.prepare_cached(function::SQLITE_INSERT_REGISTRY)?
        .execute(params![
            b.object_uid,
            b.kind,
            b.user,
            b.at,
            b.source,
            COLLECTION,
            b.item,
            activity,
            revision
        ])?;
    let registry = conn.last_insert_rowid();
    Ok(BirthIds {
        activity,
        revision,
        registry,
    })
}

/// The compensating inverse of one birth: delete exactly the four rows it
/// wrote, found through the ids its `birth_registry` record holds (primary-key
/// lookups, so compensation stays fast on large tables), children first. It
/// does not rewind `sqlite_sequence`, just as a real compensating transaction
/// cannot rewind PostgreSQL sequences. Returns the number of rows deleted.
pub fn birth_unregister(conn: &Connection, item: &str) -> rusqlite::Result<usize> {
    let found: Option<(i64, i64, Option<i64>)> = conn
        .prepare_cached(
            "SELECT id, activity, revision FROM birth_registry WHERE collection = ?1 AND item = ?2",
        )?
        .query_row(params![COLLECTION, item], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    let Some((registry, activity, revision)) = found else {
        return Ok(0);
    };
    let mut n = conn
        .prepare_cached("DELETE FROM birth_registry WHERE id = ?1")?
        .execute(params![registry])?;
    if let Some(revision) = revision {
        n += conn
            .prepare_cached("DELETE FROM directus_revisions WHERE id = ?1 AND item = ?2")?
            .execute(params![revision, item])?;
    }
    n += conn
        .prepare_cached(
            "DELETE FROM directus_activity WHERE id = ?1 AND action = 'create' AND item = ?2",
        )?
        .execute(params![activity, item])?;
    n += conn
        .prepare_cached("DELETE FROM objects WHERE id = ?1")?
        .execute(params![item])?;
    Ok(n)
}

/// One Directus API delete of a born item, as the rollback issues it.
#[derive(Debug, Clone, Copy)]
pub struct ApiDelete<'a> {
    /// The item's uuid key.
    pub item: &'a str,
    /// The acting Directus user (uuid).
    pub user: &'a str,
    /// The request's moment, `YYYY-MM-DDTHH:MM:SS.sssZ`.
    pub at: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub origin: Option<&'a str>,
}

/// A birth undone the way production undoes it through Directus (the
/// `api-delete` compensation): the `birth_registry` record goes first
/// (production's own table; its key holds the item, so Directus could not
/// delete the item while it is there), then the item is deleted as a
/// Directus API delete does it: the item row goes and one `delete`
/// activity is written, no revision; the birth's `create` activity and
/// revision stay, as history. Returns the rows deleted (2), or 0 when the
/// item has no registry record (then nothing is written).
pub fn birth_api_delete(conn: &Connection, d: &ApiDelete<'_>) -> rusqlite::Result<usize> {
    let registry = conn
        .prepare_cached("DELETE FROM birth_registry WHERE collection = ?1 AND item = ?2")?
        .execute(params![COLLECTION, d.item])?;
    if registry == 0 {
        return Ok(0);
    }
    let item = conn
        .prepare_cached("DELETE FROM objects WHERE id = ?1")?
        .execute(params![d.item])?;
    conn.prepare_cached(
        "INSERT INTO directus_activity (action, \"user\", \"timestamp\", ip, user_agent, collection, item, origin)
         VALUES ('delete', ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![d.user, d.at, d.ip, d.user_agent, COLLECTION, d.item, d.origin])?;
    Ok(registry + item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn birth(n: u32) -> Birth {
        Birth {
            item: format!("00000000-0000-4000-8000-{n:012}"),
            object_uid: format!("OBJ-{n}"),
            kind: "sensor".into(),
            key: format!("key-{n}"),
            status: "published".into(),
            payload: serde_json::json!({"title": "t"}).to_string(),
            user: "u1".into(),
            at: "2026-01-01T00:00:00.000Z".into(),
            source: "api".into(),
            ip: None,
            user_agent: None,
            origin: None,
        }
    }

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "foreign_keys", true).unwrap();
        create_schema(&c).unwrap();
        c.execute(
            "INSERT INTO directus_users (id, email) VALUES ('u1', 'a@example.com')",
            [],
        )
        .unwrap();
        c
    }

    fn count(c: &Connection, t: &str) -> i64 {
        c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn one_birth_writes_four_rows_and_inverse_removes_them() {
        let c = db();
        let ids = birth_register(&c, &birth(1)).unwrap();
        for t in [
            "objects",
            "directus_activity",
            "directus_revisions",
            "birth_registry",
        ] {
            assert_eq!(count(&c, t), 1, "{t}");
        }
        let (data, delta): (String, String) = c
            .query_row(
                "SELECT data, delta FROM directus_revisions WHERE id = ?1",
                [ids.revision],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(data, delta);
        assert!(!data.contains("user_created"));
        assert_eq!(birth_unregister(&c, &birth(1).item).unwrap(), 4);
        assert_eq!(count(&c, "objects"), 0);
    }

    #[test]
    fn an_api_delete_keeps_the_history_and_adds_a_delete_activity() {
        let c = db();
        let b = birth(1);
        birth_register(&c, &b).unwrap();
        let d = ApiDelete {
            item: &b.item,
            user: &b.user,
            at: "2026-07-01T01:00:00.000Z",
            ip: None,
            user_agent: None,
            origin: None,
        };
        assert_eq!(birth_api_delete(&c, &d).unwrap(), 2);
        assert_eq!(count(&c, "objects"), 0);
        assert_eq!(count(&c, "birth_registry"), 0);
        assert_eq!(
            count(&c, "directus_revisions"),
            1,
            "the create's revision stays"
        );
        let actions: Vec<String> = c
            .prepare("SELECT action FROM directus_activity ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(actions, ["create", "delete"]);
        // An item that was not born: nothing is written.
        assert_eq!(birth_api_delete(&c, &d).unwrap(), 0);
        assert_eq!(count(&c, "directus_activity"), 2);
    }

    #[test]
    fn failed_birth_leaves_nothing() {
        let c = db();
        birth_register(&c, &birth(1)).unwrap();
        let mut dup = birth(2);
        dup.object_uid = "OBJ-1".into(); // unique violation in the last insert
        assert!(birth_register(&c, &dup).is_err());
        assert_eq!(count(&c, "objects"), 1);
        assert_eq!(count(&c, "directus_activity"), 1);
    }

    #[test]
    fn expected_columns_cover_every_table() {
        let cols = expected_columns().unwrap();
        assert_eq!(cols.len(), tables().len());
        assert!(cols.iter().all(|(_, c)| !c.is_empty()));
    }
}
