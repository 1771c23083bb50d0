//! Does a clone carry the birth-register surface the rehearsal needs? The
//! expected tables and columns come from the surface DDL itself
//! ([`crate::surface::schema_sql`]), so this check cannot drift from it.
//!
//! Blocking: a missing table, a missing column, or an extra NOT NULL column
//! without a default in a surface table (the rehearsal's inserts would
//! fail). Informational: declared types or nullability that differ, and
//! tables outside the surface.

use rusqlite::Connection;
use serde::Serialize;
use std::collections::BTreeMap;

/// One column as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Col {
    decl: String,
    notnull: bool,
    has_default: bool,
}

fn columns(conn: &Connection, table: &str) -> rusqlite::Result<BTreeMap<String, Col>> {
    let mut stmt =
        conn.prepare("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1)")?;
    let rows = stmt.query_map([table], |r| {
        let pk: i64 = r.get(4)?;
        let decl: String = r.get(1)?;
        Ok((
            r.get::<_, String>(0)?,
            Col {
                // An INTEGER PRIMARY KEY is the rowid: it always has a value.
                has_default: r.get::<_, Option<String>>(3)?.is_some()
                    || (pk == 1 && decl.eq_ignore_ascii_case("integer")),
                decl,
                notnull: r.get::<_, i64>(2)? != 0,
            },
        ))
    })?;
    rows.collect()
}

fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT IN {} ORDER BY name",
        crate::engine::sqlite::logical::internal_tables_sql()
    ))?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// The result of comparing a clone with the surface.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SurfaceCheck {
    /// True when nothing blocking was found: a scenario can rehearse on it.
    pub ok: bool,
    /// Surface tables the clone lacks.
    pub missing_tables: Vec<String>,
    /// Per surface table, the columns the clone lacks.
    pub missing_columns: BTreeMap<String, Vec<String>>,
    /// Per surface table, extra NOT NULL columns without a default.
    pub blocking_extra_columns: BTreeMap<String, Vec<String>>,
    /// Columns present in both whose declaration differs (informational).
    pub different: Vec<String>,
    /// Tables outside the surface (informational; kept, not rehearsed).
    pub extra_tables: Vec<String>,
}

/// Compare the database behind `conn` with the birth-register surface.
pub fn check(conn: &Connection) -> rusqlite::Result<SurfaceCheck> {
    let expected = Connection::open_in_memory()?;
    expected.execute_batch(&crate::surface::schema_sql())?;
    let present = table_names(conn)?;
    let mut out = SurfaceCheck::default();
    for table in crate::surface::tables() {
        if !present.iter().any(|t| t == table) {
            out.missing_tables.push(table.to_string());
            continue;
        }
        let want = columns(&expected, table)?;
        let have = columns(conn, table)?;
        let missing: Vec<String> = want
            .keys()
            .filter(|c| !have.contains_key(*c))
            .cloned()
            .collect();
        if !missing.is_empty() {
            out.missing_columns.insert(table.to_string(), missing);
        }
        let blocking: Vec<String> = have
            .iter()
            .filter(|(c, col)| !want.contains_key(*c) && col.notnull && !col.has_default)
            .map(|(c, _)| c.clone())
            .collect();
        if !blocking.is_empty() {
            out.blocking_extra_columns
                .insert(table.to_string(), blocking);
        }
        for (name, w) in &want {
            let Some(h) = have.get(name) else { continue };
            if !h.decl.eq_ignore_ascii_case(&w.decl) {
                out.different.push(format!(
                    "{table}.{name}: declared {:?}, surface declares {:?}",
                    h.decl, w.decl
                ));
            }
            if h.notnull != w.notnull {
                out.different.push(format!(
                    "{table}.{name}: {}, surface column is {}",
                    if h.notnull { "NOT NULL" } else { "nullable" },
                    if w.notnull { "NOT NULL" } else { "nullable" }
                ));
            }
        }
    }
    out.extra_tables = present
        .into_iter()
        .filter(|t| {
            !crate::surface::tables().contains(&t.as_str()) && t != crate::guard::provenance::TABLE
        })
        .collect();
    out.ok = out.missing_tables.is_empty()
        && out.missing_columns.is_empty()
        && out.blocking_extra_columns.is_empty();
    Ok(out)
}

impl SurfaceCheck {
    /// One line per blocking problem, for the command to print.
    pub fn problems(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .missing_tables
            .iter()
            .map(|t| format!("missing table {t}"))
            .collect();
        for (t, cols) in &self.missing_columns {
            v.push(format!("{t}: missing columns {}", cols.join(", ")));
        }
        for (t, cols) in &self.blocking_extra_columns {
            v.push(format!(
                "{t}: extra NOT NULL columns without default {} (the rehearsal's inserts would fail)",
                cols.join(", ")
            ));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_surface_is_ok_and_gaps_are_named() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(&crate::surface::schema_sql()).unwrap();
        let r = check(&c).unwrap();
        assert!(r.ok, "{r:?}");
        assert!(r.different.is_empty(), "{r:?}");
        c.execute_batch(
            "DROP TABLE birth_registry; ALTER TABLE objects DROP COLUMN payload; \
             ALTER TABLE directus_activity ADD COLUMN tenant TEXT NOT NULL DEFAULT 'x'; \
             CREATE TABLE extra(a);",
        )
        .unwrap();
        let r = check(&c).unwrap();
        assert!(!r.ok);
        assert_eq!(r.missing_tables, ["birth_registry"]);
        assert_eq!(r.missing_columns["objects"], ["payload"]);
        assert!(r.blocking_extra_columns.is_empty(), "has a default");
        assert_eq!(r.extra_tables, ["extra"]);
    }
}
