//! Read a [`Schema`] from a PostgreSQL database's catalog: every user
//! namespace's tables, columns (types by `format_type`, defaults, identity,
//! serial, generated), constraints (`pg_get_constraintdef`), indexes
//! (`pg_get_indexdef`), views and materialized views (`pg_get_viewdef`),
//! triggers (`pg_get_triggerdef`), sequences, user types (enums, domains,
//! composites), extensions and functions/procedures (`pg_get_functiondef`).
//!
//! Reads only the catalog, inside one READ ONLY transaction that the caller
//! opens (see [`read_only`]). Deparsed text follows the session's
//! `search_path` (`public`, as every rollproof session sets it): objects in
//! `public` are unqualified, others qualified — the same for a live
//! database and for a dump restored elsewhere, so the two read equal.
//!
//! Left out, by exact identity: PostgreSQL's own namespaces (`pg_catalog`,
//! `information_schema`, and every `pg_`-prefixed one, a prefix PostgreSQL
//! reserves: no user can create such a schema), rollproof's bookkeeping
//! namespace `rollproof_meta`, and objects that belong to an extension
//! (`pg_depend` deptype `e`), which the extension itself re-creates.
//! Objects the model cannot carry are never dropped silently: partitioned,
//! inherited and foreign tables are an error; exclusion constraints,
//! aggregates, row-level security policies and rules are returned as
//! [`Unmodelled`] for the caller to report.

mod objects;
mod types;

use super::{AutoFill, Check, Column, Dialect, Extension, ForeignKey, Schema, Table, Unique};
use postgres::GenericClient;
use std::collections::BTreeMap;

/// rollproof's own namespace inside the databases it creates.
pub const ROLLPROOF_NAMESPACE: &str = "rollproof_meta";

/// Why the catalog could not be read into a schema.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A catalog query failed.
    #[error("reading the catalog ({what}): {message}")]
    Sql { what: &'static str, message: String },
    /// The database holds an object the model cannot represent.
    #[error("{kind} {name} cannot be profiled yet: {why}")]
    Unsupported {
        kind: &'static str,
        name: String,
        why: &'static str,
    },
}

/// An object the reader saw but the model does not carry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unmodelled {
    /// What it is: "exclusion constraint", "aggregate", "policy", "rule".
    pub kind: String,
    /// Its qualified name.
    pub name: String,
}

/// A schema and what the model left out of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    /// The schema.
    pub schema: Schema,
    /// Objects seen but not carried (report them).
    pub unmodelled: Vec<Unmodelled>,
}

pub(crate) fn sql(what: &'static str) -> impl Fn(postgres::Error) -> ReadError {
    move |e| ReadError::Sql {
        what,
        message: crate::engine::postgres::message(&e),
    }
}

/// Make the session read-only and open a READ ONLY transaction: nothing
/// read through it can write, whatever the server's grants allow.
pub fn read_only(client: &mut postgres::Client) -> Result<postgres::Transaction<'_>, ReadError> {
    client
        .batch_execute("SET default_transaction_read_only = on")
        .map_err(sql("setting the session read-only"))?;
    client
        .build_transaction()
        .read_only(true)
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()
        .map_err(sql("starting a read-only transaction"))
}

/// The user namespaces' oids and names, sorted by name.
const NAMESPACES: &str = "
SELECT n.oid, n.nspname::text FROM pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'rollproof_meta')
  AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                  AND d.objid = n.oid AND d.deptype = 'e')
ORDER BY n.nspname COLLATE \"C\"";

/// Not a member of an extension: `{oid}` of catalog `{cat}`.
pub(crate) fn not_extension_member(oid: &str, cat: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{cat}'::regclass
                      AND e.objid = {oid} AND e.deptype = 'e')"
    )
}

/// Read the schema of the connected database (inside the caller's
/// transaction; see [`read_only`]).
pub fn read(tx: &mut impl GenericClient) -> Result<Read, ReadError> {
    let mut schema = Schema::new(Dialect::Postgres);
    let mut unmodelled = Vec::new();
    let ns: Vec<(u32, String)> = tx
        .query(NAMESPACES, &[])
        .map_err(sql("namespaces"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let oids: Vec<u32> = ns.iter().map(|(o, _)| *o).collect();
    schema.namespaces = ns
        .iter()
        .map(|(_, n)| n.clone())
        .filter(|n| n != "public")
        .collect();
    refuse_unsupported_tables(tx, &oids)?;
    schema.extensions = read_extensions(tx)?;
    schema.types = types::read_types(tx, &oids)?;
    let mut tables = read_tables(tx, &oids)?;
    read_columns(tx, &mut tables)?;
    read_constraints(tx, &mut tables, &mut unmodelled)?;
    schema.tables = tables.into_values().map(|(_, t)| t).collect();
    schema
        .tables
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    schema.indexes = objects::read_indexes(tx, &oids)?;
    schema.views = objects::read_views(tx, &oids)?;
    schema.triggers = objects::read_triggers(tx, &oids)?;
    schema.sequences = objects::read_sequences(tx, &oids)?;
    schema.routines = objects::read_routines(tx, &oids, &mut unmodelled)?;
    objects::read_unmodelled(tx, &oids, &mut unmodelled)?;
    Ok(Read { schema, unmodelled })
}

fn refuse_unsupported_tables(tx: &mut impl GenericClient, ns: &[u32]) -> Result<(), ReadError> {
    let rows = tx
        .query(
            &format!(
                "SELECT n.nspname::text || '.' || c.relname::text, c.relkind::text,
                        c.relispartition OR EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relnamespace = ANY($1) AND c.relkind IN ('r', 'p', 'f')
                   AND {}
                 ORDER BY 1",
                not_extension_member("c.oid", "pg_class")
            ),
            &[&ns],
        )
        .map_err(sql("tables"))?;
    for r in rows {
        let (name, kind, inherits): (String, String, bool) = (r.get(0), r.get(1), r.get(2));
        let why = match (kind.as_str(), inherits) {
            ("p", _) => Some(("partitioned table", "table partitioning is not modelled")),
            ("f", _) => Some(("foreign table", "foreign tables hold no local rows")),
            (_, true) => Some(("inheriting table", "table inheritance is not modelled")),
            _ => None,
        };
        if let Some((kind, why)) = why {
            return Err(ReadError::Unsupported { kind, name, why });
        }
    }
    Ok(())
}

fn read_extensions(tx: &mut impl GenericClient) -> Result<Vec<Extension>, ReadError> {
    Ok(tx
        .query(
            "SELECT e.extname::text, n.nspname::text FROM pg_extension e
             JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1",
            &[],
        )
        .map_err(sql("extensions"))?
        .iter()
        .map(|r| Extension {
            name: r.get(0),
            namespace: Some(r.get(1)),
        })
        .collect())
}

/// Tables by oid: (oid, table).
type Tables = BTreeMap<u32, (u32, Table)>;

fn read_tables(tx: &mut impl GenericClient, ns: &[u32]) -> Result<Tables, ReadError> {
    let rows = tx
        .query(
            &format!(
                "SELECT c.oid, n.nspname::text, c.relname::text FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relnamespace = ANY($1) AND c.relkind = 'r' AND {}",
                not_extension_member("c.oid", "pg_class")
            ),
            &[&ns],
        )
        .map_err(sql("tables"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let oid: u32 = r.get(0);
            let table = Table {
                namespace: Some(r.get(1)),
                name: r.get(2),
                columns: Vec::new(),
                primary_key: Vec::new(),
                primary_key_name: None,
                uniques: Vec::new(),
                foreign_keys: Vec::new(),
                checks: Vec::new(),
                without_rowid: false,
                strict: false,
                virtual_module: None,
                sql: None,
            };
            (oid, (oid, table))
        })
        .collect())
}

fn read_columns(tx: &mut impl GenericClient, tables: &mut Tables) -> Result<(), ReadError> {
    let oids: Vec<u32> = tables.keys().copied().collect();
    let rows = tx
        .query(
            "SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod),
                    a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attidentity::text,
                    a.attgenerated::text,
                    CASE WHEN a.attcollation <> t.typcollation THEN
                      (SELECT quote_ident(collname::text) FROM pg_collation WHERE oid = a.attcollation) END
             FROM pg_attribute a
             JOIN pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
             WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attrelid, a.attnum",
            &[&oids],
        )
        .map_err(sql("columns"))?;
    for r in rows {
        let Some((_, t)) = tables.get_mut(&r.get::<_, u32>(0)) else {
            continue;
        };
        let expr: Option<String> = r.get(4);
        let identity: String = r.get(5);
        let generated: String = r.get(6);
        let (default, generated) = if generated.is_empty() {
            (expr, None)
        } else {
            (None, expr)
        };
        let auto = match identity.as_str() {
            "a" => Some(AutoFill::IdentityAlways),
            "d" => Some(AutoFill::Identity),
            _ if default
                .as_deref()
                .is_some_and(|d| d.starts_with("nextval(")) =>
            {
                Some(AutoFill::Serial)
            }
            _ => None,
        };
        t.columns.push(Column {
            name: r.get(1),
            sql_type: r.get(2),
            not_null: r.get(3),
            default,
            generated,
            auto,
            collation: r.get(7),
        });
    }
    Ok(())
}

fn action(code: &str) -> String {
    match code {
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "NO ACTION",
    }
    .to_string()
}

/// The inside of `CHECK (…)` as `pg_get_constraintdef` prints it.
pub(crate) fn check_expr(def: &str) -> String {
    let body = def.strip_prefix("CHECK ").unwrap_or(def);
    let body = body.strip_suffix(" NOT VALID").unwrap_or(body);
    let body = body.strip_suffix(" NO INHERIT").unwrap_or(body);
    match body.strip_prefix('(').and_then(|b| b.strip_suffix(')')) {
        Some(inner) => inner.to_string(),
        None => body.to_string(),
    }
}

fn read_constraints(
    tx: &mut impl GenericClient,
    tables: &mut Tables,
    unmodelled: &mut Vec<Unmodelled>,
) -> Result<(), ReadError> {
    let oids: Vec<u32> = tables.keys().copied().collect();
    // Attribute numbers count dropped columns too: map through attnum.
    let rows = tx
        .query(
            "SELECT con.conrelid, con.conname::text, con.contype::text,
                    ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
                    fn.nspname::text, f.relname::text,
                    ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                          JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i),
                    con.confdeltype::text, con.confupdtype::text, con.condeferrable, con.condeferred,
                    pg_get_constraintdef(con.oid)
             FROM pg_constraint con
             LEFT JOIN pg_class f ON f.oid = con.confrelid
             LEFT JOIN pg_namespace fn ON fn.oid = f.relnamespace
             WHERE con.conrelid = ANY($1)
             ORDER BY con.conrelid, con.conname COLLATE \"C\"",
            &[&oids],
        )
        .map_err(sql("constraints"))?;
    for r in rows {
        let oid: u32 = r.get(0);
        let name: String = r.get(1);
        let kind: String = r.get(2);
        let cols: Vec<String> = r.get(3);
        let Some((_, t)) = tables.get_mut(&oid) else {
            continue;
        };
        match kind.as_str() {
            "p" => {
                t.primary_key = cols;
                t.primary_key_name = Some(name);
            }
            "u" => t.uniques.push(Unique {
                name: Some(name),
                columns: cols,
            }),
            "f" => t.foreign_keys.push(ForeignKey {
                name: Some(name),
                columns: cols,
                ref_namespace: r.get(4),
                ref_table: r.get::<_, Option<String>>(5).unwrap_or_default(),
                ref_columns: r.get(6),
                on_delete: action(&r.get::<_, String>(7)),
                on_update: action(&r.get::<_, String>(8)),
                deferrable: r.get(9),
                initially_deferred: r.get(10),
            }),
            "c" => t.checks.push(Check {
                name: Some(name),
                column: None,
                expr: check_expr(&r.get::<_, String>(11)),
            }),
            "x" => unmodelled.push(Unmodelled {
                kind: "exclusion constraint".into(),
                name: format!("{}.{name}", t.key()),
            }),
            _ => {} // constraint triggers ('t') are read as triggers
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_definitions_lose_only_their_wrapper() {
        assert_eq!(check_expr("CHECK ((a > 0))"), "(a > 0)");
        assert_eq!(check_expr("CHECK ((a > 0)) NOT VALID"), "(a > 0)");
        assert_eq!(
            check_expr("CHECK (((a > 0) AND (b < 1)))"),
            "((a > 0) AND (b < 1))"
        );
    }
}
