//! How each tool runs a migration, besides its scripts: foreign keys on a
//! SQLite connection, and the bookkeeping table it keeps.
//!
//! Bookkeeping is **maintained as the tool maintains it, and is part of the
//! proof** for diesel, sqlx, golang-migrate and dbmate: the table is
//! created before the first migration (as the tool creates it on first
//! run), the up inserts its row and the down deletes it (golang-migrate:
//! rewrites its one `(version, dirty)` row), in the same transaction as the
//! script where the tool does that. A down that also drops or edits the
//! bookkeeping table is therefore caught like any other change.
//!
//! For **Flyway** and the **plain** layout nothing is maintained: Flyway's
//! undo *appends* an `UNDO_SQL` row to `flyway_schema_history` instead of
//! removing the versioned one, so by design that table never returns to
//! its before state; the plain layout has no tool. Their reports say
//! "not maintained".

use super::layout::{Layout, Migration};
use crate::schema::Dialect;

/// Foreign keys on a SQLite connection as the tool's driver leaves them:
/// sqlx turns them on (`SqliteConnectOptions` sets `foreign_keys = ON`);
/// diesel, golang-migrate (mattn/go-sqlite3), dbmate and Flyway (xerial
/// JDBC) leave SQLite's default, off; the plain layout turns them on, as
/// production databases should run. PostgreSQL always enforces them.
pub fn default_foreign_keys(layout: Layout) -> bool {
    matches!(layout, Layout::Sqlx | Layout::Plain)
}

/// The bookkeeping table a tool keeps, if rollproof maintains it.
pub fn bookkeeping_table(layout: Layout) -> Option<&'static str> {
    match layout {
        Layout::Diesel => Some("__diesel_schema_migrations"),
        Layout::Sqlx => Some("_sqlx_migrations"),
        Layout::GolangMigrate | Layout::Dbmate => Some("schema_migrations"),
        Layout::Flyway | Layout::Plain => None,
    }
}

/// The table the tool would keep, maintained or not (for the report).
pub fn tool_table(layout: Layout) -> Option<&'static str> {
    match layout {
        Layout::Flyway => Some("flyway_schema_history"),
        other => bookkeeping_table(other),
    }
}

/// The bookkeeping SQL around one script: `before` and `after` run in
/// transactions of their own (golang-migrate's `SetVersion`), `inside`
/// runs after the script's statements, in the script's transaction when it
/// has one (diesel, sqlx, dbmate insert or delete their row there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bookkeeping {
    /// Before the script, own transaction.
    pub before: Vec<String>,
    /// After the script's statements, inside its transaction.
    pub inside: Vec<String>,
    /// After the script, own transaction.
    pub after: Vec<String>,
}

/// A SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn bytes_lit(b: &[u8], dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => format!("X'{}'", hex::encode(b)),
        Dialect::Postgres => format!("'\\x{}'::bytea", hex::encode(b)),
    }
}

/// DDL that creates the tool's table, as the tool writes it.
pub fn setup_sql(layout: Layout, dialect: Dialect) -> Vec<String> {
    let pg = dialect == Dialect::Postgres;
    match layout {
        Layout::Diesel => vec![
            "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)".into(),
        ],
        Layout::Sqlx if pg => vec![
            "CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)".into(),
        ],
        Layout::Sqlx => vec![
            "CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)".into(),
        ],
        Layout::GolangMigrate if pg => vec![
            "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint not null primary key, dirty boolean not null)".into(),
        ],
        Layout::GolangMigrate => vec![
            "CREATE TABLE IF NOT EXISTS schema_migrations (version uint64,dirty bool)".into(),
            "CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version)".into(),
        ],
        Layout::Dbmate => vec![
            "CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(128) primary key)".into(),
        ],
        Layout::Flyway | Layout::Plain => Vec::new(),
    }
}

/// golang-migrate's `SetVersion(version, dirty)`: one row, or none for the
/// nil version (-1) unless dirty.
fn set_version(version: i128, dirty: bool) -> Vec<String> {
    let mut v = vec!["DELETE FROM schema_migrations".to_string()];
    if version >= 0 || dirty {
        v.push(format!(
            "INSERT INTO schema_migrations (version, dirty) VALUES ({version}, {})",
            if dirty { "true" } else { "false" }
        ));
    }
    v
}

fn golang_version(m: &Migration) -> i128 {
    m.version.parse::<i128>().unwrap_or(-1)
}

/// The bookkeeping of running `m`'s up (`up = true`) or down, where `prev`
/// is the migration before it (golang-migrate's down target).
pub fn bookkeeping(
    layout: Layout,
    dialect: Dialect,
    m: &Migration,
    prev: Option<&Migration>,
    up: bool,
) -> Bookkeeping {
    let mut b = Bookkeeping::default();
    match (layout, up) {
        (Layout::Diesel, true) => b.inside.push(format!(
            "INSERT INTO __diesel_schema_migrations (version) VALUES ({})",
            lit(&m.version.replace('-', ""))
        )),
        (Layout::Diesel, false) => b.inside.push(format!(
            "DELETE FROM __diesel_schema_migrations WHERE version = {}",
            lit(&m.version.replace('-', ""))
        )),
        (Layout::Sqlx, true) => {
            // sqlx stores the SHA-384 of the up script and the run time in
            // nanoseconds; the time is ours, so it is recorded as 0 to keep
            // the state reproducible (the row is removed by the down).
            use sha2::Digest;
            let checksum = sha2::Sha384::digest(m.up.sql.as_bytes());
            b.inside.push(format!(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES ({}, {}, TRUE, {}, 0)",
                m.version.parse::<i64>().unwrap_or(0),
                lit(&m.name.replace('_', " ")),
                bytes_lit(&checksum, dialect)
            ));
        }
        (Layout::Sqlx, false) => b.inside.push(format!(
            "DELETE FROM _sqlx_migrations WHERE version = {}",
            m.version.parse::<i64>().unwrap_or(0)
        )),
        (Layout::GolangMigrate, up) => {
            let target = if up {
                golang_version(m)
            } else {
                prev.map_or(-1, golang_version)
            };
            b.before = set_version(target, true);
            b.after = set_version(target, false);
        }
        (Layout::Dbmate, true) => b.inside.push(format!(
            "INSERT INTO schema_migrations (version) VALUES ({})",
            lit(&m.version)
        )),
        (Layout::Dbmate, false) => b.inside.push(format!(
            "DELETE FROM schema_migrations WHERE version = {}",
            lit(&m.version)
        )),
        (Layout::Flyway | Layout::Plain, _) => {}
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::layout::{Down, script};
    use crate::migrations::version::VersionKey;

    fn mig(v: &str) -> Migration {
        Migration {
            version: v.into(),
            name: "add_it".into(),
            key: VersionKey::Text(v.into()),
            up: script("u.sql", "SELECT 1;".into(), 1, true),
            down: Down::Missing,
            files: vec![],
        }
    }

    #[test]
    fn bookkeeping_follows_each_tool() {
        let (a, b) = (mig("1"), mig("2"));
        let g = bookkeeping(Layout::GolangMigrate, Dialect::Sqlite, &b, Some(&a), false);
        assert_eq!(
            g.before[1],
            "INSERT INTO schema_migrations (version, dirty) VALUES (1, true)"
        );
        assert_eq!(
            g.after[1],
            "INSERT INTO schema_migrations (version, dirty) VALUES (1, false)"
        );
        // Down from the first migration: dirty nil version -1, then no row.
        let g = bookkeeping(Layout::GolangMigrate, Dialect::Sqlite, &a, None, false);
        assert_eq!(g.before.len(), 2);
        assert_eq!(g.after, vec!["DELETE FROM schema_migrations".to_string()]);
        let d = bookkeeping(
            Layout::Diesel,
            Dialect::Sqlite,
            &mig("2024-01-01-000000"),
            None,
            true,
        );
        assert_eq!(
            d.inside,
            vec![
                "INSERT INTO __diesel_schema_migrations (version) VALUES ('20240101000000')"
                    .to_string()
            ]
        );
        let s = bookkeeping(Layout::Sqlx, Dialect::Postgres, &a, None, true);
        assert!(
            s.inside[0].contains("'add it'") && s.inside[0].contains("'\\x"),
            "{s:?}"
        );
        assert_eq!(
            bookkeeping(Layout::Flyway, Dialect::Sqlite, &a, None, true),
            Bookkeeping::default()
        );
        assert!(setup_sql(Layout::Flyway, Dialect::Sqlite).is_empty());
        assert_eq!(tool_table(Layout::Flyway), Some("flyway_schema_history"));
    }

    #[test]
    fn setup_sql_runs_on_sqlite() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        for l in [Layout::Diesel, Layout::Sqlx, Layout::GolangMigrate] {
            for s in setup_sql(l, Dialect::Sqlite) {
                c.execute_batch(&s).unwrap();
            }
            let m = mig("1");
            for s in bookkeeping(l, Dialect::Sqlite, &m, None, true).inside {
                c.execute_batch(&s).unwrap();
            }
        }
    }
}
