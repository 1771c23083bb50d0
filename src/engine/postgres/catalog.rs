//! The parts of the PostgreSQL logical hash that are not table rows: the
//! normalized catalog description (the schema part, `catalog.sql`) and the
//! sequence state, kept in the form of SQLite's `sqlite_sequence` so it
//! compares across backends. See [`super::logical`].
//!
//! The description covers every object a script can leave behind in a
//! database and what it carries: columns, constraints, indexes, sequences,
//! views, functions, types and domains, with their owners and effective
//! privileges (including column privileges and default privileges), RLS
//! flags and policies, rules, triggers with their enabled state (also the
//! internal foreign-key triggers that `DISABLE TRIGGER ALL` turns off,
//! named by their constraint because their own names carry oids),
//! reloptions, comments, security labels, extensions, event triggers, and
//! by identity any other object (casts, operators, collations, foreign
//! servers, publications, large objects, …). Rows are oid-free, so a
//! `pg_dump`/`pg_restore` copy describes the same as a template clone.

use super::logical::{SEQUENCE_SEGMENT, put_str};
use super::{PgError, quote_ident, sql_err};
use crate::engine::sqlite::logical::TableDigest;
use postgres::GenericClient;
use sha2::{Digest, Sha256};

/// SQL condition on the `pg_namespace` row `n`: true for the system's own
/// schemas, the only ones the hash leaves out: `pg_catalog`,
/// `information_schema`, `pg_toast` (out-of-line storage of hashed tables,
/// named after oids) and the per-session temporary schemas `pg_temp_N` and
/// `pg_toast_temp_N` (PostgreSQL itself tells temporary schemas by exactly
/// that name, `isAnyTempNamespace`). Names are compared exactly, never by
/// pattern: every other schema is state, rollproof's own `rollproof_meta`
/// included (only the rows of its provenance table are left out, see
/// [`PROVENANCE_ROWS`]).
pub fn system_schema(n: &str) -> String {
    format!(
        "({n}.nspname IN ('pg_catalog', 'information_schema', 'pg_toast') \
         OR {n}.nspname ~ '^pg_(toast_)?temp_[1-9][0-9]*$')"
    )
}

/// The one relation whose rows are not hashed: rollproof's provenance
/// record (`rollproof_meta.provenance`, written when rollproof creates a
/// database; every clone gets its own row naming itself). Its definition
/// (columns, key, owner, privileges) is hashed like any table's.
pub const PROVENANCE_ROWS: (&str, &str) = (super::guard::SCHEMA, "provenance");

/// One used sequence: the owning table's name (or the sequence's own name
/// when no column owns it), the sequence as SQL, and its last value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SequenceRow {
    /// Owning table (bare in `public`, else `schema.table`) or sequence name.
    pub name: String,
    /// Last value handed out.
    pub last_value: i64,
    /// The sequence, quoted and schema-qualified, for `setval`.
    pub sequence: String,
}

/// Sequence state as SQLite's `sqlite_sequence` table: every sequence that
/// has been used, sorted by (name, value). `None` when the database has no
/// sequences at all (as SQLite has no `sqlite_sequence` then).
pub fn sequence_rows(
    client: &mut impl GenericClient,
    db: &str,
) -> Result<Option<Vec<SequenceRow>>, PgError> {
    let rows = client
        .query(
            &format!(
                "SELECT s.schemaname::text, s.sequencename::text, s.last_value,
                        tn.nspname::text, t.relname::text
                 FROM pg_sequences s
                 JOIN pg_namespace sn ON sn.nspname = s.schemaname
                 JOIN pg_class sc ON sc.relnamespace = sn.oid AND sc.relname = s.sequencename
                 LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = sc.oid
                      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                 LEFT JOIN pg_class t ON t.oid = d.refobjid
                 LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
                 WHERE NOT {}",
                system_schema("sn")
            ),
            &[],
        )
        .map_err(sql_err("reading sequences", db))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let qualify = |schema: &str, name: &str| {
        if schema == "public" {
            name.to_string()
        } else {
            format!("{schema}.{name}")
        }
    };
    let mut out: Vec<SequenceRow> = rows
        .into_iter()
        .filter_map(|r| {
            let (schema, seq): (String, String) = (r.get(0), r.get(1));
            let last: Option<i64> = r.get(2);
            let name = match (r.get::<_, Option<String>>(3), r.get::<_, Option<String>>(4)) {
                (Some(ts), Some(table)) => qualify(&ts, &table),
                _ => qualify(&schema, &seq),
            };
            last.map(|v| SequenceRow {
                name,
                last_value: v,
                sequence: format!("{}.{}", quote_ident(&schema), quote_ident(&seq)),
            })
        })
        .collect();
    out.sort_by(|a, b| (a.name.as_bytes(), a.last_value).cmp(&(b.name.as_bytes(), b.last_value)));
    Ok(Some(out))
}

/// Digest of the sequence segment, encoded as SQLite's `sqlite_sequence`.
pub fn sequence_digest(rows: &[(String, i64)]) -> TableDigest {
    let mut h = Sha256::new();
    put_str(&mut h, b"table");
    put_str(&mut h, SEQUENCE_SEGMENT.as_bytes());
    h.update(2u64.to_be_bytes());
    put_str(&mut h, b"name");
    put_str(&mut h, b"seq");
    for (name, seq) in rows {
        h.update(b"R");
        h.update(b"T");
        put_str(&mut h, name.as_bytes());
        h.update(b"I");
        h.update(seq.to_be_bytes());
    }
    h.update(b"E");
    h.update((rows.len() as u64).to_be_bytes());
    TableDigest {
        rows: rows.len() as u64,
        sha256: hex::encode(h.finalize()),
    }
}

/// The normalized catalog description (catalog.sql): one row per fact that
/// changes how the database behaves.
const CATALOG_SQL: &str = include_str!("catalog.sql");

/// One row of the catalog description.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CatalogRow {
    /// What it is: `relation`, `column`, `trigger`, `policy`, `rule`, …
    pub kind: String,
    /// The object it belongs to, e.g. `public.objects`.
    pub obj: String,
    /// Which part of it, e.g. a column or trigger name (may be empty).
    pub sub: String,
    /// Its normalized definition (NULL when the catalog has none).
    pub def: Option<String>,
}

/// The catalog description of the connected database, in hash order.
pub fn describe(tx: &mut impl GenericClient, db: &str) -> Result<Vec<CatalogRow>, PgError> {
    let sql = CATALOG_SQL.replace("{system}", &system_schema("n"));
    Ok(tx
        .query(&sql, &[])
        .map_err(sql_err("describing the schema", db))?
        .iter()
        .map(|r| CatalogRow {
            kind: r.get(0),
            obj: r.get(1),
            sub: r.get(2),
            def: r.get(3),
        })
        .collect())
}

/// SHA-256 over rows of (kind, object, sub, definition): `str("schema")`,
/// then per row `S` and four type-tagged text values (as the SQLite schema
/// digest encodes its rows).
pub fn rows_digest(tag: &[u8], rows: &[CatalogRow]) -> String {
    let mut h = Sha256::new();
    put_str(&mut h, tag);
    for r in rows {
        h.update(b"S");
        for v in [Some(&r.kind), Some(&r.obj), Some(&r.sub), r.def.as_ref()] {
            match v {
                Some(s) => {
                    h.update(b"T");
                    put_str(&mut h, s.as_bytes());
                }
                None => h.update(b"N"),
            }
        }
    }
    hex::encode(h.finalize())
}

/// SHA-256 over the normalized catalog description (the schema part).
pub fn schema_digest(tx: &mut impl GenericClient, db: &str) -> Result<String, PgError> {
    Ok(rows_digest(b"schema", &describe(tx, db)?))
}
