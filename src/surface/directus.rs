//! The Directus part of the surface, derived from a real Directus bootstrap
//! instead of being typed by hand (issue #15).
//!
//! `surrogates/directus/directus-12.4.1.toml` is what `rollproof profile
//! --url` extracted from a database that Directus 12.4.1 had just
//! bootstrapped (`tools/directus-describe.sh`): all 33 `directus_*` tables
//! with their columns in Directus's order, types, defaults, keys, indexes
//! and sequences, and value-free statistics. `…-migrations.tsv` lists the
//! versions Directus checks in `directus_migrations` on start. Both are
//! compiled in and sealed like every file under `surrogates/`.
//!
//! From the one description both DDLs are rendered by `schema::render`:
//! PostgreSQL re-creates it exactly (its own catalog-deparsed SQL), SQLite
//! gets the nearest types. The tests check that a generated surrogate's
//! Directus tables read back equal to the description on both backends.

use super::Ddl;
use crate::profile::Profile;
use crate::schema::{Dialect, Schema};
use std::path::Path;
use std::sync::OnceLock;

/// The Directus release the description was taken from.
pub const VERSION: &str = "12.4.1";

/// Path of the description inside the repository (for messages and docs).
pub const PROFILE_PATH: &str = "surrogates/directus/directus-12.4.1.toml";

const PROFILE: &str = include_str!("../../surrogates/directus/directus-12.4.1.toml");
const MIGRATIONS: &str = include_str!("../../surrogates/directus/directus-12.4.1-migrations.tsv");

/// The description as a profile (schema and the bootstrap's statistics).
pub fn profile() -> &'static Profile {
    static P: OnceLock<Profile> = OnceLock::new();
    P.get_or_init(|| {
        // Compiled in and covered by the tests: a parse failure here is a
        // build defect, not bad input.
        Profile::parse(PROFILE, Path::new(PROFILE_PATH))
            .unwrap_or_else(|e| panic!("the compiled-in {PROFILE_PATH} does not parse: {e}"))
    })
}

/// The Directus schema: every table, index and sequence of the bootstrap.
/// The `plpgsql` extension is left out: it is built into PostgreSQL and
/// Directus does not create it.
pub fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        let mut s = profile()
            .schema
            .clone()
            .unwrap_or_else(|| panic!("{PROFILE_PATH} has no [schema]"));
        s.extensions.clear();
        s
    })
}

/// Directus's table names, parents first (the fill order of its keys).
pub fn tables() -> &'static [String] {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| crate::schema::order::fill_order(schema()).tables)
}

/// The Directus tables as SQLite DDL: tables (with their keys inline),
/// then indexes.
pub fn sqlite_ddl() -> &'static Ddl {
    static D: OnceLock<Ddl> = OnceLock::new();
    D.get_or_init(|| split(Dialect::Sqlite))
}

/// The Directus tables as PostgreSQL DDL: sequences and tables first, then
/// foreign keys and indexes (added after a bulk load).
pub fn pg_ddl() -> &'static Ddl {
    static D: OnceLock<Ddl> = OnceLock::new();
    D.get_or_init(|| split(Dialect::Postgres))
}

fn split(dialect: Dialect) -> Ddl {
    // Nothing of Directus's schema may be left out.
    super::split(schema(), PROFILE_PATH, dialect)
}

/// `(version, name)` of every migration Directus expects to have run,
/// oldest first.
pub fn migrations() -> impl Iterator<Item = (&'static str, &'static str)> {
    MIGRATIONS
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once('\t').unwrap_or((l, "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_has_every_directus_table_and_setting() {
        let s = schema();
        assert_eq!(tables().len(), 33);
        assert!(tables().iter().all(|t| t.starts_with("directus_")));
        let settings = s.table("directus_settings").unwrap();
        // 61 more than the 6 the hand-typed surrogate had (issue #15).
        assert_eq!(settings.columns.len(), 67);
        let pos = |c: &str| settings.columns.iter().position(|x| x.name == c).unwrap();
        assert!(pos("auth_login_attempts") < pos("default_language"));
        assert!(settings.column("license_key").is_some());
        assert_eq!(migrations().count(), 109);
        assert_eq!(migrations().last().unwrap().0, "20260909A");
    }

    #[test]
    fn both_renderings_are_complete() {
        for d in [sqlite_ddl(), pg_ddl()] {
            assert_eq!(d.tables.matches("CREATE TABLE").count(), 33);
        }
        assert!(
            pg_ddl()
                .after
                .contains("directus_revisions_version_foreign")
        );
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(&sqlite_ddl().tables).unwrap();
        c.execute_batch(&sqlite_ddl().after).unwrap();
    }
}
