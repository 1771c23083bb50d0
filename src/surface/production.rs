//! Production's own part of the surface — the `objects` collection and
//! `birth_registry` — defined once, as data (issue #14 §3).
//!
//! `surrogates/surface/production.toml` describes both tables as a
//! [`Schema`] in the form PostgreSQL's catalog deparses it to, exactly like
//! the Directus description beside it ([`super::directus`]); both DDLs are
//! rendered from it by `schema::render`: PostgreSQL re-creates it as
//! written, SQLite gets the nearest types. Nothing of these tables is typed
//! per backend any more. `fn_birth_register` is not in the description: its
//! body cannot cross dialects ([`super::function`]).

use super::Ddl;
use crate::schema::{Dialect, Schema};
use serde::Deserialize;
use std::sync::OnceLock;

/// Path of the description inside the repository (for messages and docs).
pub const MODEL_PATH: &str = "surrogates/surface/production.toml";

const MODEL: &str = include_str!("../../surrogates/surface/production.toml");

/// The file: one `[schema]` table, nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Model {
    schema: Schema,
}

/// The description of production's own tables.
pub fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        // Compiled in and covered by the tests: a parse failure here is a
        // build defect, not bad input.
        toml::from_str::<Model>(MODEL)
            .unwrap_or_else(|e| panic!("the compiled-in {MODEL_PATH} does not parse: {e}"))
            .schema
    })
}

/// Production's own table names, parents first.
pub fn tables() -> &'static [String] {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| crate::schema::order::fill_order(schema()).tables)
}

/// Production's own tables as SQLite DDL: tables, then indexes.
pub fn sqlite_ddl() -> &'static Ddl {
    static D: OnceLock<Ddl> = OnceLock::new();
    D.get_or_init(|| super::split(schema(), MODEL_PATH, Dialect::Sqlite))
}

/// Production's own tables as PostgreSQL DDL: sequences and tables with
/// their keys and checks, then foreign keys and indexes.
pub fn pg_ddl() -> &'static Ddl {
    static D: OnceLock<Ddl> = OnceLock::new();
    D.get_or_init(|| super::split(schema(), MODEL_PATH, Dialect::Postgres))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Table;
    use std::collections::BTreeSet;

    /// What a backend built, reduced to what both dialects can say:
    /// column names in order, NOT NULL, primary key, unique keys, foreign
    /// keys and the check's column set.
    fn shape(t: &Table) -> String {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| {
                // A serial / rowid key is always filled: SQLite reports
                // its INTEGER PRIMARY KEY as nullable.
                let key = t.primary_key == [c.name.clone()] && c.auto.is_some();
                format!("{}{}", c.name, if c.not_null || key { "!" } else { "" })
            })
            .collect();
        let uniques: BTreeSet<String> = t.uniques.iter().map(|u| u.columns.join(",")).collect();
        let fks: BTreeSet<String> = t
            .foreign_keys
            .iter()
            .map(|f| {
                format!(
                    "{}->{}({}) {}/{}",
                    f.columns.join(","),
                    f.ref_table,
                    f.ref_columns.join(","),
                    f.on_delete,
                    f.on_update
                )
            })
            .collect();
        format!(
            "{}: [{}] pk({}) unique{uniques:?} fk{fks:?} checks {}",
            t.name,
            cols.join(" "),
            t.primary_key.join(","),
            t.checks.len()
        )
    }

    #[test]
    fn sqlite_builds_the_tables_of_the_one_description() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(&sqlite_ddl().tables).unwrap();
        c.execute_batch(&sqlite_ddl().after).unwrap();
        let built = crate::schema::sqlite::read(&c).unwrap();
        let want = schema();
        assert_eq!(tables(), ["objects", "birth_registry"]);
        for name in tables() {
            let (w, b) = (want.table(name).unwrap(), built.table(name).unwrap());
            assert_eq!(shape(b), shape(w), "{name}");
        }
        let idx = |s: &Schema| -> BTreeSet<(String, String)> {
            s.indexes
                .iter()
                .map(|i| (i.name.clone(), i.table.clone()))
                .collect()
        };
        assert_eq!(idx(&built), idx(want));
        // Production's own check survives the crossing, and still refuses
        // (Directus's tables, which the keys point at, are not here).
        c.pragma_update(None, "foreign_keys", false).unwrap();
        let err = c
            .execute_batch(
                "INSERT INTO birth_registry (object_uid, kind, born_by, born_at, source, collection, item, status, activity)
                 VALUES ('u', 'k', 'b', 't', 's', 'objects', 'i', 'lost', 1)",
            )
            .unwrap_err();
        assert!(err.to_string().contains("CHECK"), "{err}");
    }

    #[test]
    fn postgres_ddl_is_the_description_as_written() {
        let d = pg_ddl();
        for name in [
            "objects_pkey",
            "objects_key_unique",
            "birth_registry_status_check",
            "birth_registry_id_seq",
        ] {
            assert!(d.tables.contains(name), "{name}");
        }
        for name in [
            "objects_user_created_foreign",
            "birth_registry_item_foreign",
            "birth_registry_kind_index",
        ] {
            assert!(d.after.contains(name), "{name}");
        }
    }
}
